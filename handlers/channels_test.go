package handlers

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// rowIDs returns the channel ids of a list page, in order.
func rowIDs(t *testing.T, page string) []int64 {
	t.Helper()
	var ids []int64
	for _, part := range strings.Split(page, `<tr id="channel-`)[1:] {
		id, err := strconv.ParseInt(part[:strings.Index(part, `"`)], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func TestChannelListFiltersAndPagination(t *testing.T) {
	f := newDashFix(t)
	ctx := context.Background()
	alice, bob := f.customer("alice@example.com"), f.customer("bob@example.com")
	// 52 of alice's channels are still being created (no WHAPI needed).
	var pending []int64
	for i := range 52 {
		ch, _, err := f.a.store.ReserveChannel(ctx, dashActor, alice.ID, fmt.Sprintf("Line %02d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, ch.ID)
	}
	shop := f.channel(bob, "Shop")
	paid := f.channel(bob, "Paid")
	f.extend(paid, 30)
	old := f.channel(bob, "Old")
	if _, err := f.svc.Delete(ctx, dashActor, old.ID); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name, query string
		total       int
		first       []int64 // the first ids of page 1, newest first
		next        string  // page 1's next link ("" for none)
	}{
		{"every current channel", "", 54, []int64{paid.ID, shop.ID, pending[51]}, `href="/admin/channels?page=2"`},
		{"one status", "?status=pending", 52, []int64{pending[51], pending[50]}, `href="/admin/channels?page=2&amp;status=pending"`},
		{"owner by email, any case", "?owner=BOB%40", 2, []int64{paid.ID, shop.ID}, ""},
		{"owner by id", fmt.Sprintf("?owner=%d", bob.ID), 2, []int64{paid.ID, shop.ID}, ""},
		{"owner and status", fmt.Sprintf("?owner=%d&status=pending", bob.ID), 0, nil, ""},
		{"deleted ones", "?status=deleted", 1, []int64{old.ID}, ""},
		{"all, deleted included", "?status=all&owner=bob", 3, []int64{old.ID, paid.ID, shop.ID}, ""},
		// The paid channel runs 35 days; the trial one ends in 5.
		{"expiring within 7 days", "?expiring=1", 1, []int64{shop.ID}, ""},
		{"unknown status is ignored", "?status=bogus", 54, []int64{paid.ID}, `href="/admin/channels?page=2"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := f.c.get("/admin/channels" + tt.query)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d", r.StatusCode)
			}
			ids := rowIDs(t, r.body)
			if want := min(tt.total, channelsPerPage); len(ids) != want {
				t.Fatalf("%d rows, want %d", len(ids), want)
			}
			for i, id := range tt.first {
				if ids[i] != id {
					t.Fatalf("rows %v, want first %v", ids[:min(len(ids), 5)], tt.first)
				}
			}
			if tt.total == 0 {
				if !strings.Contains(r.body, "No channel matches these filters.") {
					t.Fatal("no empty-list message")
				}
				return
			}
			want := fmt.Sprintf("1–%d of %d channels", len(ids), tt.total)
			if tt.total == 1 {
				want = "1–1 of 1 channel" // not "1 channels"
			}
			if got := testID(t, r.body, "page-info"); got != want {
				t.Fatalf("page info %q, want %q", got, want)
			}
			if tt.next == "" && strings.Contains(r.body, `rel="next"`) || tt.next != "" && !strings.Contains(r.body, tt.next) {
				t.Fatalf("next link: want %q", tt.next)
			}
		})
	}

	t.Run("page 2 keeps the filters", func(t *testing.T) {
		r := f.c.get("/admin/channels?status=pending&owner=alice&page=2")
		if ids := rowIDs(t, r.body); len(ids) != 2 || ids[0] != pending[1] || ids[1] != pending[0] {
			t.Fatalf("page 2: %v", ids)
		}
		if got := testID(t, r.body, "page-info"); got != "51–52 of 52 channels" {
			t.Fatalf("page info %q", got)
		}
		for _, want := range []string{
			`href="/admin/channels?owner=alice&amp;status=pending" rel="prev"`, // page 1
			`href="/admin/channels.csv?owner=alice&amp;status=pending"`,        // export with the same filters
			`<option value="pending" selected>`,
			`name="owner" type="search" value="alice"`,
		} {
			if !strings.Contains(r.body, want) {
				t.Errorf("page 2 lacks %s", want)
			}
		}
		if strings.Contains(r.body, `rel="next"`) {
			t.Error("a next link on the last page")
		}
		if strings.Contains(r.body, `data-testid="extend-link"`) || strings.Contains(r.body, "Delete…") {
			t.Error("channels being created offer extend or delete")
		}
		// Past the end: the last page.
		if ids := rowIDs(t, f.c.get("/admin/channels?status=pending&page=9").body); len(ids) != 2 {
			t.Fatalf("page 9 of 2: %d rows", len(ids))
		}
	})

	t.Run("row details", func(t *testing.T) {
		page := f.c.get(fmt.Sprintf("/admin/channels?owner=%d", bob.ID)).body
		row := page[strings.Index(page, fmt.Sprintf(`<tr id="channel-%d"`, paid.ID)):]
		row = row[:strings.Index(row, "</tr>")]
		for _, want := range []string{
			">Paid", fmt.Sprintf(`href="/admin/users/%d"><bdi>bob@example.com</bdi></a>`, bob.ID),
			`data-testid="channel-status">Active</span>`, "Live", `<td data-label="Days">30</td>`,
			fmt.Sprintf(`href="/admin/channels?extend=%d&amp;owner=%d#extend-%d"`, paid.ID, bob.ID, paid.ID),
			fmt.Sprintf(`action="/admin/channels/%d/sync"`, paid.ID), fmt.Sprintf(`name="back" value="owner=%d"`, bob.ID),
			fmt.Sprintf(`href="/admin/channels/%d/delete?back=owner%%3D%d"`, paid.ID, bob.ID),
		} {
			if !strings.Contains(row, want) {
				t.Errorf("the row lacks %s:\n%s", want, row)
			}
		}
		if strings.Contains(page, `data-testid="extend-form"`) {
			t.Error("an extend form is open though none was asked for")
		}
		// The extend link opens the row's form, showing the owner's balance.
		page = f.c.get(fmt.Sprintf("/admin/channels?owner=%d&extend=%d", bob.ID, paid.ID)).body
		form := page[strings.Index(page, fmt.Sprintf(`<tr id="extend-%d">`, paid.ID)):]
		form = form[:strings.Index(form, "</form>")]
		for _, want := range []string{
			fmt.Sprintf(`action="/admin/channels/%d/extend"`, paid.ID), fmt.Sprintf(`name="back" value="owner=%d"`, bob.ID),
			fmt.Sprintf("from \u2068bob@example.com\u2069&#39;s balance: <strong>%s days</strong> (manual allocation)", groupThousands(dashCredit-30)),
		} {
			if !strings.Contains(form, want) {
				t.Errorf("the extend form lacks %s:\n%s", want, form)
			}
		}
		if strings.Count(page, `data-testid="extend-form"`) != 1 {
			t.Error("not exactly one extend form open")
		}
		trialRow := page[strings.Index(page, fmt.Sprintf(`<tr id="channel-%d"`, shop.ID)):]
		if !strings.Contains(trialRow[:strings.Index(trialRow, "</tr>")], `<span class="badge badge-warn">5 days left</span>`) {
			t.Error("the trial channel's row does not warn that it ends soon")
		}
		for _, sc := range f.a.sim.Channels() {
			if strings.Contains(page, sc.Token) || strings.Contains(page, sc.ID) {
				t.Fatal("the list shows a WHAPI channel id or token")
			}
		}
	})
}

func TestChannelsCSV(t *testing.T) {
	f := newDashFix(t)
	bob := f.customer("bob@example.com")
	f.customer("alice@example.com")
	shop := f.channel(bob, "Shop, \"main\"")
	formula := f.channel(bob, "=HYPERLINK(\"http://evil\")")
	f.extend(shop, 30)
	f.channel(f.user(bob.ID+1), "Alice's")

	r := f.c.get("/admin/channels.csv?owner=bob")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", r.StatusCode, r.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="whapidesk-channels-`) || !strings.HasSuffix(cd, `.csv"`) {
		t.Fatalf("Content-Disposition %q", cd)
	}
	body, ok := strings.CutPrefix(r.body, "\uFEFF") // a UTF-8 BOM, so that Excel reads UTF-8
	if !ok {
		t.Fatalf("the export does not start with a UTF-8 BOM: % x", r.body[:min(len(r.body), 8)])
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got != "id,name,owner_email,status,mode,linked,linked_phone,active_till,days_allocated,created_at" {
		t.Fatalf("header %q", got)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want the header and bob's 2 channels:\n%s", len(recs), r.body)
	}
	ch := f.reload(shop)
	want := []string{strconv.FormatInt(ch.ID, 10), `Shop, "main"`, "bob@example.com", "active", "live", "false", "",
		ch.ActiveTill.UTC().Format(time.RFC3339), "30", ch.CreatedAt.UTC().Format(time.RFC3339)}
	if got := recs[2]; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("row\n got %q\nwant %q", got, want)
	}
	if recs[1][0] != strconv.FormatInt(formula.ID, 10) || recs[1][1] != `'=HYPERLINK("http://evil")` || recs[1][3] != "trial" {
		t.Fatalf("a name starting with = must not be a formula: %q", recs[1])
	}
	if _, err := time.Parse(time.RFC3339, recs[1][7]); err != nil {
		t.Fatalf("active_till %q: %v", recs[1][7], err)
	}
	all := f.c.get("/admin/channels.csv?status=all").body
	secrets := []string{f.a.partnerToken[:40], f.a.partnerToken[len(f.a.partnerToken)-40:]}
	for _, sc := range f.a.sim.Channels() {
		secrets = append(secrets, sc.Token, sc.ID)
	}
	for _, s := range secrets {
		if strings.Contains(all, s) || strings.Contains(r.body, s) {
			t.Fatalf("the CSV holds a token or a WHAPI id")
		}
	}
	if n := strings.Count(all, "\n"); n != 4 {
		t.Fatalf("export of every channel: %d lines, want 4:\n%s", n, all)
	}
}

// extendForm posts the extend form of the list at listQuery.
func (f *dashFix) extendForm(ch *models.Channel, listQuery, days, comment string) result {
	f.t.Helper()
	return f.c.submit("/admin/channels?"+listQuery, fmt.Sprintf("/admin/channels/%d/extend", ch.ID),
		url.Values{"days": {days}, "comment": {comment}, "back": {listQuery}})
}

func (f *dashFix) ledger(u *models.User) []models.LedgerEntry {
	f.t.Helper()
	es, err := f.a.store.Ledger(context.Background(), u.ID, 100, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return es
}

func TestExtendFromTheList(t *testing.T) {
	f := newDashFix(t, func(o *appOptions) { o.manualClock = true })
	bob := f.customer("bob@example.com")
	ch := f.channel(bob, "Shop")
	simCh := func() int {
		sc, ok := f.a.sim.Channel(ch.RemoteID())
		if !ok {
			t.Fatal("not at the simulator")
		}
		return sc.ExtendedDays
	}
	back := fmt.Sprintf("owner=%d", bob.ID)

	t.Run("refused input changes nothing", func(t *testing.T) {
		for _, tt := range []struct{ days, comment, field, msg string }{
			{"10", "", "error-comment", "Enter a comment"},
			{"10", "   ", "error-comment", "Enter a comment"},
			{"", "paid", "error-days", "Enter a whole number of days from 1 to 3650"},
			{"0", "paid", "error-days", "Enter a whole number of days from 1 to 3650"},
			{"ten", "paid", "error-days", "Enter a whole number of days from 1 to 3650"},
			{"3651", "paid", "error-days", "Enter a whole number of days from 1 to 3650"},
		} {
			r := f.extendForm(ch, back, tt.days, tt.comment)
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%q/%q: status %d, want 422", tt.days, tt.comment, r.StatusCode)
			}
			if got := testID(t, r.body, tt.field); got != tt.msg {
				t.Fatalf("%s = %q, want %q", tt.field, got, tt.msg)
			}
			if flash := listFlash(r.body); !strings.HasPrefix(flash, fmt.Sprintf("error: Channel “Shop” (#%d) was not extended: ", ch.ID)) {
				t.Fatalf("flash %q", flash)
			}
			// The list is shown again with this row's form open and what was typed.
			i := strings.Index(r.body, fmt.Sprintf(`<tr id="extend-%d">`, ch.ID))
			if i < 0 {
				t.Fatalf("the extend form is not open:\n%s", r.body)
			}
			form := r.body[i:]
			form = form[:strings.Index(form, "</form>")]
			if !strings.Contains(form, `name="days" type="number" min="1" max="3650" inputmode="numeric" required`) ||
				!strings.Contains(form, `value="`+tt.days+`"`) || !strings.Contains(form, `value="`+tt.comment+`"`) ||
				!strings.Contains(form, `name="back" value="`+back+`"`) {
				t.Fatalf("the input or the list's filters are not kept:\n%s", form)
			}
		}
		if b := f.user(bob.ID).DayBalance; b != dashCredit || simCh() != 0 {
			t.Fatalf("balance %d, extended at WHAPI %d: a refused form changed something", b, simCh())
		}
	})

	t.Run("extend debits the owner and reaches WHAPI", func(t *testing.T) {
		f.a.sim.ResetRequests()
		r := f.extendForm(ch, back, "10", "Invoice 77")
		flash := withoutIsolates(f.followFlash(r, "/admin/channels?"+back))
		if !strings.HasPrefix(flash, fmt.Sprintf("success: Channel “Shop” (#%d) was extended by 10 days from bob@example.com's balance (%s left). Active till ", ch.ID, groupThousands(dashCredit-10))) {
			t.Fatalf("flash %q", flash)
		}
		if b := f.user(bob.ID).DayBalance; b != dashCredit-10 {
			t.Fatalf("balance %d", b)
		}
		if got := simCh(); got != 10 {
			t.Fatalf("WHAPI extended %d days", got)
		}
		var body string
		for _, req := range f.a.sim.Requests() {
			if req.Method == http.MethodPost && strings.HasSuffix(req.Path, "/extend") {
				body = string(req.Body)
			}
		}
		if !strings.Contains(body, `"comment":"Invoice 77"`) {
			t.Fatalf("WHAPI got %q", body)
		}
		es := f.ledger(bob)
		if es[0].Kind != models.LedgerAllocation || es[0].Delta != -10 || es[0].Comment != "Invoice 77" || es[0].Actor != "admin@example.com" {
			t.Fatalf("ledger %+v", es[0])
		}
		if got := f.reload(ch); got.DaysAllocated != 10 || got.Mode != "live" || got.Status != models.ChannelActive {
			t.Fatalf("channel %+v", got)
		}
		page := f.c.get("/admin/channels?" + back).body
		if strings.Contains(page, `data-testid="extend-form"`) {
			t.Fatal("the form is still open after the extend")
		}
		page = f.c.get(fmt.Sprintf("/admin/channels?%s&extend=%d", back, ch.ID)).body
		if !strings.Contains(page, fmt.Sprintf("<strong>%s days</strong>", groupThousands(dashCredit-10))) {
			t.Fatal("the form does not show the new balance")
		}
	})

	t.Run("more days than the balance", func(t *testing.T) {
		// Refused next to the days field, which keeps what was typed.
		r := f.extendForm(ch, back, "3000", "too much")
		admWantStatus(t, r, http.StatusUnprocessableEntity)
		flash := listFlash(r.body)
		if want := fmt.Sprintf("error: Channel “Shop” (#%d) was not extended: bob@example.com has only %s days left (you asked for 3,000).", ch.ID, groupThousands(dashCredit-10)); !strings.HasPrefix(flash, want) {
			t.Fatalf("flash %q, want %q", flash, want)
		}
		admWantBody(t, r, fmt.Sprintf(`id="ch%d-days" name="days" type="number"`, ch.ID), `value="3000"`, `aria-invalid="true"`,
			`data-testid="error-days">`+fmt.Sprintf("bob@example.com has only %s days left", groupThousands(dashCredit-10)))
		if b := f.user(bob.ID).DayBalance; b != dashCredit-10 || simCh() != 10 {
			t.Fatalf("balance %d, extended %d", b, simCh())
		}
	})

	t.Run("extended again moments ago", func(t *testing.T) {
		// WHAPI takes one extend of a channel every five minutes: the admin
		// is told when to try again, and nothing moves.
		f.a.clock.Advance(time.Minute)
		r := f.extendForm(ch, back, "6", "more days")
		// Shown to the minute, rounded up: never a time it is still refused.
		until := f.a.clock.Now().Add(4*time.Minute + time.Minute - 1).UTC().Format("2 Jan 2006 15:04 UTC")
		flash := withoutIsolates(f.followFlash(r, "/admin/channels?"+back))
		if want := fmt.Sprintf("warning: Channel “Shop” (#%d) was not extended: WHAPI takes one extend of a channel every few minutes, "+
			"and this one was extended moments ago. Try again after %s (in 4 minutes). No day was moved; the partner balance is not the problem.", ch.ID, until); flash != want {
			t.Fatalf("flash %q,\nwant  %q", flash, want)
		}
		if b := f.user(bob.ID).DayBalance; b != dashCredit-10 || simCh() != 10 {
			t.Fatalf("balance %d, extended %d", b, simCh())
		}
		if strings.Contains(f.c.get("/admin").body, `data-testid="partner-short"`) {
			t.Fatal("the dashboard warns of a short partner balance")
		}
		if bad, err := f.a.store.CheckLedger(context.Background()); err != nil || len(bad) > 0 {
			t.Fatalf("ledger: %v %+v", err, bad)
		}
		f.a.clock.Advance(4 * time.Minute)
	})

	t.Run("WHAPI short of partner days", func(t *testing.T) {
		f.a.sim.SetBalance(5)
		r := f.extendForm(ch, back, "6", "more days")
		flash := withoutIsolates(f.followFlash(r, "/admin/channels?"+back))
		if flash != fmt.Sprintf("error: Channel “Shop” (#%d) was not extended: the days could not be added now; the days were given back.", ch.ID) {
			t.Fatalf("flash %q", flash)
		}
		if b := f.user(bob.ID).DayBalance; b != dashCredit-10 || simCh() != 10 {
			t.Fatalf("balance %d, extended %d", b, simCh())
		}
		if !strings.Contains(f.c.get("/admin").body, `data-testid="partner-short"`) {
			t.Fatal("the dashboard does not warn of the partner's short balance")
		}
		if bad, err := f.a.store.CheckLedger(context.Background()); err != nil || len(bad) > 0 {
			t.Fatalf("ledger: %v %+v", err, bad)
		}
	})
}

func TestDeleteFromTheList(t *testing.T) {
	f := newDashFix(t)
	ctx := context.Background()
	bob := f.customer("bob@example.com")
	ch := f.channel(bob, "Shop")
	f.extend(ch, 10)

	page := f.c.get(fmt.Sprintf("/admin/channels/%d/delete?back=status%%3Dactive", ch.ID))
	if page.StatusCode != http.StatusOK {
		t.Fatalf("status %d", page.StatusCode)
	}
	if !strings.Contains(withoutIsolates(page.body), "<strong>10 unused days</strong> will return to bob@example.com&#39;s balance.") ||
		!strings.Contains(page.body, `href="/admin/channels?status=active">Cancel</a>`) ||
		!strings.Contains(page.body, `name="back" value="status=active"`) {
		t.Fatalf("confirmation:\n%s", page.body)
	}
	if f.reload(ch).Status != models.ChannelActive {
		t.Fatal("showing the confirmation changed the channel")
	}

	r := f.c.submit(fmt.Sprintf("/admin/channels/%d/delete", ch.ID), fmt.Sprintf("/admin/channels/%d/delete", ch.ID), url.Values{"back": {"status=active"}})
	flash := withoutIsolates(f.followFlash(r, "/admin/channels?status=active"))
	if want := fmt.Sprintf("success: Channel “Shop” (#%d) was deleted. 10 unused days went back to bob@example.com's balance (now %s).", ch.ID, groupThousands(dashCredit)); flash != want {
		t.Fatalf("flash %q, want %q", flash, want)
	}
	if got := f.reload(ch); got.Status != models.ChannelDeleted {
		t.Fatalf("status %s", got.Status)
	}
	if sc, _ := f.a.sim.Channel(ch.RemoteID()); !sc.Deleted || sc.RefundedDays != 10 {
		t.Fatalf("simulator: %+v", sc)
	}
	es := f.ledger(bob)
	if es[0].Kind != models.LedgerRefund || es[0].Delta != 10 || es[0].ChannelID == nil || *es[0].ChannelID != ch.ID {
		t.Fatalf("ledger %+v", es[0])
	}
	if f.user(bob.ID).DayBalance != dashCredit {
		t.Fatal("the days did not come back")
	}

	t.Run("already deleted", func(t *testing.T) {
		r := f.c.get(fmt.Sprintf("/admin/channels/%d/delete", ch.ID))
		if flash := withoutIsolates(f.followFlash(r, "/admin/channels")); !strings.Contains(flash, "is already deleted") {
			t.Fatalf("flash %q", flash)
		}
	})

	t.Run("gone at WHAPI already", func(t *testing.T) {
		other := f.channel(bob, "Other")
		f.extend(other, 5)
		f.deleteAtWHAPI(other)
		r := f.c.submit(fmt.Sprintf("/admin/channels/%d/delete", other.ID), fmt.Sprintf("/admin/channels/%d/delete", other.ID), nil)
		flash := withoutIsolates(f.followFlash(r, "/admin/channels"))
		if !strings.HasPrefix(flash, fmt.Sprintf("success: Channel “Other” (#%d) was deleted. 5 unused days went back", other.ID)) {
			t.Fatalf("flash %q", flash)
		}
		if got := f.reload(other).Status; got != models.ChannelDeleted {
			t.Fatalf("status %s", got)
		}
		if es := f.ledger(bob); es[0].Kind != models.LedgerRefund || es[0].Delta != 5 {
			t.Fatalf("ledger %+v", es[0])
		}
		if bad, err := f.a.store.CheckLedger(ctx); err != nil || len(bad) > 0 {
			t.Fatalf("ledger: %v %+v", err, bad)
		}
	})

	t.Run("unknown channel", func(t *testing.T) {
		for _, path := range []string{"/admin/channels/999/delete", "/admin/channels/x/delete"} {
			if r := f.c.get(path); r.StatusCode != http.StatusNotFound {
				t.Fatalf("%s: %d", path, r.StatusCode)
			}
		}
	})
}

func TestSyncOneChannel(t *testing.T) {
	f := newDashFix(t)
	bob := f.customer("bob@example.com")
	ch := f.channel(bob, "Shop")
	gone := f.channel(bob, "Gone")
	path := func(c *models.Channel) string { return fmt.Sprintf("/admin/channels/%d/sync", c.ID) }

	before := f.reload(ch).LastSyncedAt
	r := f.c.submit("/admin/channels", path(ch), url.Values{"back": {"expiring=1"}})
	flash := withoutIsolates(f.followFlash(r, "/admin/channels?expiring=1"))
	if !strings.HasPrefix(flash, fmt.Sprintf("success: Channel “Shop” (#%d) is synced: free trial, active till ", ch.ID)) {
		t.Fatalf("flash %q", flash)
	}
	if after := f.reload(ch).LastSyncedAt; after == nil || !after.After(*before) {
		t.Fatal("last synced did not move")
	}

	f.deleteAtWHAPI(gone)
	r = f.c.submit("/admin/channels", path(gone), nil)
	if flash := withoutIsolates(f.followFlash(r, "/admin/channels")); flash != fmt.Sprintf("warning: Channel “Gone” (#%d) no longer exists at WHAPI: it is marked deleted.", gone.ID) {
		t.Fatalf("flash %q", flash)
	}
	if f.reload(gone).Status != models.ChannelDeleted {
		t.Fatal("not marked deleted")
	}
	r = f.c.submit("/admin/channels", path(gone), nil)
	if flash := withoutIsolates(f.followFlash(r, "/admin/channels")); !strings.Contains(flash, "has nothing to sync (deleted)") {
		t.Fatalf("flash %q", flash)
	}
}

func TestChannelActionsSayUpstreamProblemsPlainly(t *testing.T) {
	f := newDashFix(t)
	bob := f.customer("bob@example.com")
	ch := f.channel(bob, "Shop")
	upstream := []string{"Internal Error", "Bad Request", "All servers are currently busy", ch.RemoteID()}
	check := func(t *testing.T, flash, want string) {
		t.Helper()
		if flash != want {
			t.Fatalf("flash\n got %q\nwant %q", flash, want)
		}
		for _, u := range upstream {
			if strings.Contains(flash, u) {
				t.Fatalf("the flash passes on WHAPI's text %q", u)
			}
		}
	}
	id := strconv.FormatInt(ch.ID, 10)

	t.Run("sync: WHAPI fails", func(t *testing.T) {
		f.a.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/channels/" + ch.RemoteID(), Kind: whapisim.FaultStatus, Status: 500, Times: 3})
		defer f.a.sim.ClearFaults()
		r := f.c.submit("/admin/channels", "/admin/channels/"+id+"/sync", nil)
		check(t, withoutIsolates(f.followFlash(r, "/admin/channels")), "error: Channel “Shop” (#"+id+") was not synced: something went wrong on our side or WHAPI did not answer. Nothing is lost: try again in a moment.")
	})

	t.Run("delete: WHAPI refuses", func(t *testing.T) {
		f.a.sim.InjectFault(whapisim.Fault{Method: "DELETE", Path: "/channels/", Kind: whapisim.FaultStatus, Status: 400})
		defer f.a.sim.ClearFaults()
		r := f.c.submit("/admin/channels/"+id+"/delete", "/admin/channels/"+id+"/delete", nil)
		check(t, withoutIsolates(f.followFlash(r, "/admin/channels")), "error: Channel “Shop” (#"+id+") was not deleted: the change was refused upstream; nothing was changed.")
		if got := f.reload(ch).Status; got != models.ChannelTrial {
			t.Fatalf("status %s after a refused delete", got)
		}
	})

	t.Run("extend: no answer", func(t *testing.T) {
		f.a.giveUpAfter(300 * time.Millisecond)
		defer f.a.giveUpAfter(0)
		f.a.sim.InjectFault(whapisim.Fault{Method: "POST", Path: "/channels/", Kind: whapisim.FaultHang})
		f.a.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/channels/", Kind: whapisim.FaultHang, Times: 2})
		defer f.a.sim.ClearFaults()
		r := f.extendForm(ch, "", "5", "paid")
		check(t, withoutIsolates(f.followFlash(r, "/admin/channels")), "warning: Channel “Shop” (#"+id+"): WHAPI has not confirmed the change yet. It is checked and settled automatically; no day is lost.")
	})

	t.Run("no partner token", func(t *testing.T) {
		if _, _, err := f.a.store.UpdateSettings(context.Background(), dashActor, models.SettingsChange{ClearToken: true}); err != nil {
			t.Fatal(err)
		}
		before := f.user(bob.ID).DayBalance
		r := f.extendForm(ch, "", "5", "paid")
		check(t, withoutIsolates(f.followFlash(r, "/admin/channels")), "error: Channel “Shop” (#"+id+") was not extended: no partner token is saved. Save it in WHAPI Settings first.")
		r = f.c.submit("/admin/channels", "/admin/channels/"+id+"/sync", nil)
		check(t, withoutIsolates(f.followFlash(r, "/admin/channels")), "error: Channel “Shop” (#"+id+") was not synced: no partner token is saved. Save it in WHAPI Settings first.")
		r = f.c.submit("/admin/channels", "/admin/channels/"+id+"/delete", nil)
		check(t, withoutIsolates(f.followFlash(r, "/admin/channels")), "error: Channel “Shop” (#"+id+") was not deleted: no partner token is saved. Save it in WHAPI Settings first.")
		if f.user(bob.ID).DayBalance != before || f.reload(ch).Status != models.ChannelTrial {
			t.Fatal("days moved or the channel changed without a token")
		}
	})
}

// adminRoutes are every route of the dashboard and the channel list, with
// what a POST sends.
func adminRoutes(chID int64) []struct{ method, path string } {
	id := strconv.FormatInt(chID, 10)
	return []struct{ method, path string }{
		{"GET", "/admin"},
		{"POST", "/admin/sync"},
		{"POST", "/admin/partner/days"},
		{"GET", "/admin/channels"},
		{"GET", "/admin/channels.csv"},
		{"POST", "/admin/channels/" + id + "/extend"},
		{"GET", "/admin/channels/" + id + "/delete"},
		{"POST", "/admin/channels/" + id + "/delete"},
		{"POST", "/admin/channels/" + id + "/sync"},
	}
}

func TestChannelRoutesAreForAdminsWithCSRF(t *testing.T) {
	f := newDashFix(t)
	bob := f.customer("bob@example.com")
	ch := f.channel(bob, "Shop")
	form := url.Values{"days": {"5"}, "comment": {"not allowed"}}
	unchanged := func(t *testing.T) {
		t.Helper()
		got := f.reload(ch)
		if got.Status != models.ChannelTrial || got.DaysAllocated != 0 || got.LastSyncedAt.After(*ch.LastSyncedAt) {
			t.Fatalf("channel changed: %+v", got)
		}
		if f.user(bob.ID).DayBalance != dashCredit || f.partnerEstimate() != 0 {
			t.Fatal("days moved")
		}
	}

	t.Run("a customer gets 403 everywhere", func(t *testing.T) {
		c := f.a.client()
		c.login("bob@example.com")
		token := c.csrf("/app")
		for _, rt := range adminRoutes(ch.ID) {
			var r result
			if rt.method == "GET" {
				r = c.get(rt.path)
			} else {
				v := url.Values{"_csrf": {token}}
				for k, vs := range form {
					v[k] = vs
				}
				r = c.postForm(rt.path, v)
			}
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s: status %d, want 403", rt.method, rt.path, r.StatusCode)
			}
			if strings.Contains(r.body, "Shop") || strings.Contains(r.body, "bob@example.com,") {
				t.Errorf("%s %s: the answer shows channel data", rt.method, rt.path)
			}
		}
		unchanged(t)
	})

	t.Run("signed out: to the login page", func(t *testing.T) {
		c := f.a.client()
		for _, rt := range adminRoutes(ch.ID) {
			if rt.method != "GET" {
				continue
			}
			r := c.get(rt.path)
			if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?next=") {
				t.Errorf("%s: %d %s", rt.path, r.StatusCode, r.Header.Get("Location"))
			}
		}
	})

	t.Run("an admin's post without the CSRF token is refused", func(t *testing.T) {
		for _, rt := range adminRoutes(ch.ID) {
			if rt.method != "POST" {
				continue
			}
			r := f.c.postForm(rt.path, form)
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s without CSRF: status %d, want 403", rt.path, r.StatusCode)
			}
			wrong := url.Values{"_csrf": {"not-the-token"}}
			for k, vs := range form {
				wrong[k] = vs
			}
			if r := f.c.postForm(rt.path, wrong); r.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with a wrong CSRF token: status %d, want 403", rt.path, r.StatusCode)
			}
		}
		unchanged(t)
		if f.reload(ch).Status != models.ChannelTrial {
			t.Fatal("the channel was deleted")
		}
	})
}

// TestBrowserChannelsAndDashboard drives the channel list and the
// dashboard in headless Chromium: the extend form in a row, refused and
// then accepted, swapped in by HTMX without a reload, and Sync now.
//
// WHAPIDESK_SCREENSHOTS=1 also writes dashboard.png and channels.png to
// docs/screenshots/.
func TestBrowserChannelsAndDashboard(t *testing.T) {
	b := startBrowser(t, "admin")
	f := newDashFix(t)
	ctx := context.Background()
	bob, amal := f.customer("bob@example.com"), f.customer("amal@example.com")
	shop := f.channel(bob, "Shop")
	for _, n := range []string{"Sales", "Support"} {
		f.extend(f.channel(amal, n), 30)
	}
	f.channel(bob, "Returns")
	if err := f.a.store.RecordPartnerPurchase(ctx, dashActor, 500, "invoice 1"); err != nil {
		t.Fatal(err)
	}
	threshold := int64(600)
	if _, _, err := f.a.store.UpdateSettings(ctx, dashActor, models.SettingsChange{LowBalanceThreshold: &threshold}); err != nil {
		t.Fatal(err)
	}

	b.do(t, chromedp.Navigate(f.a.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	b.login(t, "admin@example.com", "Dashboard")
	b.screenshot(t, "dashboard.png")

	row := fmt.Sprintf("#channel-%d", shop.ID)
	b.do(t,
		chromedp.Navigate(f.a.srv.URL+"/admin/channels"),
		chromedp.WaitVisible(chromedp.CSS(row)),
		chromedp.Evaluate[chromedp.Void](`window.__marker = 1`),
		chromedp.Click(chromedp.CSS(row+" [data-testid=extend-link]")),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("ch%d-days", shop.ID))),
	)
	b.settled(t)
	b.do(t,
		chromedp.SetValue(chromedp.ID(fmt.Sprintf("ch%d-days", shop.ID)), "12"),
		chromedp.Click(chromedp.CSS(`form[data-testid=extend-form] button[type=submit]`)),
	)
	// No comment: the answer (422) is swapped in, the form open with its error.
	b.waitJS(t, "the error next to the comment", `document.querySelector('[data-testid=error-comment]') !== null`)
	if v := inTab(t, b, chromedp.Value(chromedp.ID(fmt.Sprintf("ch%d-days", shop.ID)))); v != "12" {
		t.Fatalf("the days typed are gone: %q", v)
	}
	b.settled(t)
	b.screenshot(t, "channels-extend-error.png")
	b.do(t, chromedp.SendKeys(chromedp.ID(fmt.Sprintf("ch%d-comment", shop.ID)), "Paid by card"),
		chromedp.Click(chromedp.CSS(`form[data-testid=extend-form] button[type=submit]`)))
	b.waitJS(t, "the success message", `(document.querySelector('#flash .alert-success') || {}).textContent?.includes('was extended by 12 days')`)
	if !inTab(t, b, chromedp.Evaluate[bool](`window.__marker === 1`)) {
		t.Fatal("the extend reloaded the page instead of an HTMX swap")
	}
	if got := f.reload(shop).DaysAllocated; got != 12 {
		t.Fatalf("days allocated %d", got)
	}
	if inTab(t, b, chromedp.Evaluate[bool](`document.querySelector('[data-testid=extend-form]') !== null`)) {
		t.Fatal("the extend form is still open after the extend")
	}
	b.screenshot(t, "channels.png")

	b.do(t,
		chromedp.Navigate(f.a.srv.URL+"/admin"),
		chromedp.WaitVisible(chromedp.ID("dashboard")),
		chromedp.Evaluate[chromedp.Void](`window.__marker = 2`),
		chromedp.Click(chromedp.CSS(`form[action="/admin/sync"] button`)),
	)
	b.waitJS(t, "the sync report", `(document.querySelector('#flash .alert') || {}).textContent?.includes('Synced with WHAPI: 4 channels refreshed')`)
	if !inTab(t, b, chromedp.Evaluate[bool](`window.__marker === 2`)) {
		t.Fatal("Sync now reloaded the page instead of an HTMX swap")
	}
}
