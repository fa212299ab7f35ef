package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"whapidesk/models"
)

// Every count on a page agrees with its noun when it is 1: a plan of one
// channel, one day per period and one subscriber, whose customer has one
// day and one channel. Each of these said "1 days", "1 customers are" or
// "All 1 channel … are" before the pages took their words from plural.go.
func TestCountsAgreeWithTheirNouns(t *testing.T) {
	f := newAdmFix(t)
	f.configureToken()
	ctx := context.Background()
	tiny := f.plan("Tiny", 1, 1, 1) // credits 1 day × 1 channel
	cust := f.a.newUser(models.RoleCustomer, "tiny@example.com")
	if _, err := f.a.store.ActivatePlan(ctx, models.SystemActor, cust.ID, tiny.ID); err != nil {
		t.Fatal(err)
	}
	ch := f.createChannel(cust.ID, "Only line")
	if b := f.user(cust.ID).DayBalance; b != 1 {
		t.Fatalf("balance %d, want 1", b)
	}
	id := strconv.FormatInt(ch.ID, 10)
	has := func(r result, want string) {
		t.Helper()
		if r.StatusCode != http.StatusOK || !strings.Contains(r.body, want) {
			t.Errorf("%s (status %d) lacks %q", r.Request.URL.Path, r.StatusCode, want)
		}
	}

	has(f.c.get("/admin/plans"), `<td data-label="Period">1 day</td>`)
	has(f.c.get(admPlanPath(tiny.ID, "/edit")), "1 customer is on this plan. They keep it")
	has(f.c.get(admPlanPath(tiny.ID, "/retire")), "The 1 customer on this plan keeps it,")

	r := f.c.get("/admin/channels?extend=" + id)
	has(r, "tiny@example.com\u2069&#39;s balance: <strong>1 day</strong>")
	if got := testID(t, r.body, "page-info"); got != "1–1 of 1 channel" {
		t.Errorf("page info %q, want %q", got, "1–1 of 1 channel")
	}
	has(f.c.get("/admin/channels/"+id+"/delete"), "tiny@example.com</bdi></a> · balance 1 day</dd>")

	r = f.c.submit("/admin", "/admin/partner/days", url.Values{"kind": {"purchase"}, "days": {"1"}, "note": {"invoice 1"}})
	admWantStatus(t, r, http.StatusSeeOther)
	page := f.c.get("/admin").body
	if got := flashText(page); got != "success: Recorded 1 day bought from WHAPI. The estimated partner balance is now 1 day." {
		t.Errorf("flash %q", got)
	}
	if got := testID(t, page, "partner-estimate"); got != "1 day" {
		t.Errorf("partner estimate %q, want %q", got, "1 day")
	}

	c := f.a.client()
	c.login("tiny@example.com")
	r = c.get("/app")
	if text := custText(r.body); !strings.Contains(text, "1 of 1 channel in use") ||
		!strings.Contains(text, "The 1 channel of your plan is in use. Delete a channel to add another") {
		t.Errorf("the customer's dashboard at the plan's limit says: %s", text)
	}
}
