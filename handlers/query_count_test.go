package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/views"
)

// queryCountPages are the admin's list pages, with the filters whose
// counts and rows come from different queries. (A page past the end of the
// small list would be answered with its last page, one query more.)
var queryCountPages = []string{
	"/admin",
	"/admin/users", "/admin/users?q=example", "/admin/users?mode=manual", "/admin/users?role=all",
	"/admin/channels", "/admin/channels?status=trial", "/admin/channels?owner=example", "/admin/channels?expiring=1",
	"/admin/channels?status=all",
	"/admin/audit",
}

// pageQueries is how many SQL statements one GET of path runs: the fewest
// of three tries, so a once-a-while write (a session's last-seen time) does
// not count.
func pageQueries(t *testing.T, a *testApp, c *testClient, path string) int64 {
	t.Helper()
	best := int64(-1)
	for range 3 {
		before := a.store.QueryCount()
		if r := c.get(path); r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, r.StatusCode)
		}
		if n := a.store.QueryCount() - before; best < 0 || n < best {
			best = n
		}
	}
	return best
}

// TestAdminListsMakeAFixedNumberOfQueries: each admin list page runs as many
// SQL statements with 3 customers (6 channels) as with 30 (60 channels):
// nothing is loaded per row (no N+1), whatever the filter.
func TestAdminListsMakeAFixedNumberOfQueries(t *testing.T) {
	a, c := adminClient(t)
	ctx := context.Background()
	plan, err := a.store.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: "Two", MaxChannels: 2, DaysPerPeriod: 30, PeriodDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	addCustomers := func(k int) {
		for range k {
			n++
			u := a.newUser(models.RoleCustomer, fmt.Sprintf("c%02d@example.com", n))
			if _, err := a.store.ActivatePlan(ctx, models.SystemActor, u.ID, plan.ID); err != nil {
				t.Fatal(err)
			}
			for j := range 2 {
				ch, op, err := a.store.ReserveChannel(ctx, models.SystemActor, u.ID, fmt.Sprintf("Line %d", j), "")
				if err != nil {
					t.Fatal(err)
				}
				// One channel of each runs out within the dashboard's window.
				till := time.Now().Add(time.Duration(2+j*20) * 24 * time.Hour)
				if _, err := a.store.ConfirmCreate(ctx, op.ID, models.RemoteChannel{WhapiID: fmt.Sprintf("q-%d", ch.ID), Token: "t", Mode: "trial", ActiveTill: till}); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.store.RecordAudit(ctx, models.SystemActor, "test.event", u.Email, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	addCustomers(3)
	small := map[string]int64{}
	for _, p := range queryCountPages {
		small[p] = pageQueries(t, a, c, p)
	}
	addCustomers(27)
	for _, p := range queryCountPages {
		large := pageQueries(t, a, c, p)
		t.Logf("%-40s %d queries", p, large)
		if large != small[p] {
			t.Errorf("GET %s: %d SQL statements with 30 customers, %d with 3: something is loaded per row", p, large, small[p])
		}
	}
	// The lists did show more rows: the equality above is not for want of data.
	if got := len(rowIDs(t, c.get("/admin/channels").body)); got != channelsPerPage {
		t.Fatalf("/admin/channels shows %d rows, want a full page of %d", got, channelsPerPage)
	}
}

// TestListsSayMoreThanInsteadOfCountingEverything: a filter the running
// totals do not cover is counted only up to 1,000 past the page; the page
// says "more than 1,000" and still goes on with Next. Without a filter,
// and on a page near the end, the count is exact.
func TestListsSayMoreThanInsteadOfCountingEverything(t *testing.T) {
	a, c := adminClient(t)
	ctx := context.Background()
	plan, err := a.store.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: "Big", MaxChannels: 1000, DaysPerPeriod: 1, PeriodDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"big@example.com", "other@example.com"} {
		u := a.newUser(models.RoleCustomer, email)
		if _, err := a.store.ActivatePlan(ctx, models.SystemActor, u.ID, plan.ID); err != nil {
			t.Fatal(err)
		}
		k := 1000
		if email == "other@example.com" {
			k = 5
		}
		for i := range k {
			if _, _, err := a.store.ReserveChannel(ctx, models.SystemActor, u.ID, fmt.Sprintf("Line %d", i), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tt := range []struct{ path, info, next string }{
		{"/admin/channels", "1–50 of 1,005", "/admin/channels?page=2"},
		{"/admin/channels?owner=example", "1–50 of more than 1,000", "/admin/channels?owner=example&amp;page=2"},
		{"/admin/channels?owner=example&page=20", "951–1,000 of more than 1,000", "/admin/channels?owner=example&amp;page=21"},
		{"/admin/channels?owner=example&page=21", "1,001–1,005 of 1,005", ""},
		{"/admin/channels?owner=example&page=99", "1,001–1,005 of 1,005", ""}, // past the end: the last page
		{"/admin/channels?owner=big", "1–50 of 1,000", "/admin/channels?owner=big&amp;page=2"},
	} {
		r := c.get(tt.path)
		if got := testID(t, r.body, "page-info"); got != tt.info+" channels" {
			t.Errorf("%s: page info %q, want %q", tt.path, got, tt.info+" channels")
		}
		hasNext := strings.Contains(r.body, `rel="next"`)
		if tt.next == "" && hasNext || tt.next != "" && !strings.Contains(r.body, `href="`+tt.next+`" rel="next"`) {
			t.Errorf("%s: next link wrong (want %q)", tt.path, tt.next)
		}
	}
}

func TestBuildListPager(t *testing.T) {
	href := func(n int) string { return fmt.Sprintf("?page=%d", n) }
	labels := func(pg views.PagerView) string {
		var s []string
		for _, l := range pg.Links {
			switch {
			case l.Gap:
				s = append(s, "…")
			case l.Current:
				s = append(s, "["+l.Label+"]")
			default:
				s = append(s, l.Label)
			}
		}
		return strings.Join(s, " ")
	}
	for _, tt := range []struct {
		total          models.ListTotal
		page           int
		summary, links string
		prev, next     string
	}{
		{models.ListTotal{N: 60}, 1, "1–25 of 60", "[1] 2 3", "", "?page=2"},
		{models.ListTotal{N: 12345}, 2, "26–50 of 12,345", "1 [2] 3 4 5 … 494", "?page=1", "?page=3"},
		{models.ListTotal{N: 1000, More: true}, 1, "1–25 of more than 1,000", "[1] 2 3 4 …", "", "?page=2"},
		{models.ListTotal{N: 1000, More: true}, 40, "976–1,000 of more than 1,000", "1 … 37 38 39 [40] …", "?page=39", "?page=41"},
		{models.ListTotal{N: 10}, 1, "1–10 of 10", "", "", ""},
	} {
		pg := buildPager(tt.total, 25, tt.page, href)
		if pg.Summary != tt.summary || labels(pg) != tt.links || pg.Prev != tt.prev || pg.Next != tt.next {
			t.Errorf("%+v page %d: %q %q prev %q next %q; want %q %q prev %q next %q", tt.total, tt.page,
				pg.Summary, labels(pg), pg.Prev, pg.Next, tt.summary, tt.links, tt.prev, tt.next)
		}
	}
}
