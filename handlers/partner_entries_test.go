package handlers

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"whapidesk/models"
)

// partnerBook is what a refused or unconfirmed entry must leave as it was:
// the estimate, the recorded entries and the audit log.
type partnerBook struct{ estimate, entries, audit int64 }

func (f *dashFix) partnerBook() partnerBook {
	f.t.Helper()
	ctx := context.Background()
	_, n, err := f.a.store.ListPartnerEntries(ctx, 1, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	audit, err := f.a.store.CountAudit(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return partnerBook{estimate: f.partnerEstimate(), entries: n, audit: audit}
}

// entry submits the dashboard's partner form.
func (f *dashFix) entry(kind, days, note string, more ...string) result {
	f.t.Helper()
	form := url.Values{"kind": {kind}, "days": {days}, "note": {note}}
	for i := 0; i+1 < len(more); i += 2 {
		form.Set(more[i], more[i+1])
	}
	return f.c.submit("/admin", "/admin/partner/days", form)
}

// section is the text of the element with data-testid=id and what it
// holds, tags removed.
func section(t *testing.T, page, id string) string {
	t.Helper()
	i := strings.Index(page, `data-testid="`+id+`"`)
	if i < 0 {
		t.Fatalf("no data-testid=%q on the page:\n%s", id, custText(page))
	}
	start := strings.LastIndex(page[:i], "<")
	tag := regexp.MustCompile(`^<(\w+)`).FindStringSubmatch(page[start:])[1]
	// The element ends at the first closing tag of its name that closes it
	// (no nesting of the same tag within the sections tested).
	end := strings.Index(page[i:], "</"+tag+">")
	return custText(page[start : i+end])
}

func TestPartnerEntryFormErrors(t *testing.T) {
	f := newDashFix(t)
	if err := f.a.store.RecordPartnerPurchase(context.Background(), dashActor, 930, "invoice 1"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, kind, days, note string
		errs                   map[string]string
	}{
		{"no kind", "", "10", "invoice", map[string]string{"kind": "Choose Purchase or Correction"}},
		{"a reversal typed in", "reversal", "10", "invoice", map[string]string{"kind": "Choose Purchase or Correction"}},
		{"no days", "purchase", "", "invoice", map[string]string{"days": "Enter the number of days"}},
		{"zero", "correction", "0", "invoice", map[string]string{"days": "Enter a number other than 0"}},
		{"a negative purchase", "purchase", "-5000", "typo", map[string]string{"days": "A purchase is a number of days above 0: to lower the estimate, choose Correction"}},
		{"not a number", "purchase", "ten", "invoice", map[string]string{"days": "Enter a whole number of days"}},
		{"fraction", "correction", "1.5", "invoice", map[string]string{"days": "Enter a whole number of days"}},
		{"too many", "purchase", "1000001", "invoice", map[string]string{"days": "Enter a whole number of days"}},
		{"no note", "purchase", "10", "  ", map[string]string{"note": "Enter a note"}},
		{"two lines", "correction", "-10", "a\nb", map[string]string{"note": "The note must be on one line"}},
		{"a long note", "purchase", "10", strings.Repeat("n", 201), map[string]string{"note": "The note has at most 200 characters"}},
		{"all three", "gift", "x", "", map[string]string{"kind": "Choose", "days": "Enter a whole number", "note": "Enter a note"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := f.partnerBook()
			r := f.entry(tt.kind, tt.days, tt.note)
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", r.StatusCode)
			}
			for _, field := range []string{"kind", "days", "note"} {
				id := "error-" + field
				has := strings.Contains(r.body, `data-testid="`+id+`"`)
				want, wanted := tt.errs[field]
				if !wanted && has {
					t.Errorf("unexpected %s: %s", id, testID(t, r.body, id))
				}
				if wanted && (!has || !strings.HasPrefix(testID(t, r.body, id), want)) {
					t.Errorf("%s: want %q…, page says %q", id, want, custText(r.body))
				}
			}
			if !strings.Contains(flashText(r.body), "Nothing was recorded") {
				t.Errorf("flash %q", flashText(r.body))
			}
			if !strings.Contains(r.body, `id="purchase-days" name="days" type="number" step="1" inputmode="numeric" required value="`+tt.days+`"`) {
				t.Error("the days typed are not kept in the form")
			}
			if after := f.partnerBook(); after != before {
				t.Fatalf("a refused entry changed %+v → %+v", before, after)
			}
		})
	}
	// The form starts on Purchase, and keeps the kind chosen.
	if !strings.Contains(f.c.get("/admin").body, `<option value="purchase" selected>`) {
		t.Error("a new form is not on Purchase")
	}
	if r := f.entry("correction", "", "x"); !strings.Contains(r.body, `<option value="correction" selected>`) {
		t.Error("a refused correction comes back as another kind")
	}
}

func TestPartnerEntryRecordsAndConfirms(t *testing.T) {
	f := newDashFix(t)
	r := f.entry("purchase", " 930 ", " Invoice 2030-1 ")
	if flash := f.followFlash(r, "/admin"); flash != "success: Recorded 930 days bought from WHAPI. The estimated partner balance is now 930 days." {
		t.Fatalf("flash %q", flash)
	}

	// A correction of −5,000 asks first, with the numbers; nothing moves.
	before := f.partnerBook()
	r = f.entry("correction", "-5000", "typo in invoice 2030-1")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200 (the question)", r.StatusCode)
	}
	q := section(t, r.body, "partner-confirm-question")
	for _, want := range []string{"This takes the partner balance from 930 to −4,070 days.",
		"Below zero", "more than 1,000 days in one entry", "Record it anyway?"} {
		if !strings.Contains(q, want) {
			t.Errorf("the question %q lacks %q", q, want)
		}
	}
	form := section(t, r.body, "partner-confirm")
	for _, want := range []string{`name="kind" value="correction"`, `name="days" value="-5000"`, `name="note" value="typo in invoice 2030-1"`,
		`name="confirmed" value="1"`, `name="edit" value="1"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the confirmation form lacks %s", want)
		}
	}
	if !strings.Contains(form, "Record it anyway") || !strings.Contains(form, "Cancel") || strings.Contains(r.body, `data-testid="purchase-form"`) {
		t.Errorf("the confirmation step shows %q", form)
	}
	if after := f.partnerBook(); after != before {
		t.Fatalf("asking changed %+v → %+v", before, after)
	}
	// "Change the entry" shows the form with the values, and records nothing.
	r = f.entry("correction", "-5000", "typo in invoice 2030-1", "edit", "1")
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `data-testid="purchase-form"`) ||
		!strings.Contains(r.body, `value="-5000"`) || !strings.Contains(r.body, `value="typo in invoice 2030-1"`) ||
		!strings.Contains(r.body, `<option value="correction" selected>`) || strings.Contains(r.body, `data-testid="error-`) {
		t.Fatalf("Change the entry: %d %s", r.StatusCode, custText(r.body))
	}
	if after := f.partnerBook(); after != before {
		t.Fatalf("Change the entry changed %+v → %+v", before, after)
	}
	// Confirmed, it is recorded.
	r = f.entry("correction", "-5000", "typo in invoice 2030-1", "confirmed", "1")
	if flash := f.followFlash(r, "/admin"); flash != "success: Recorded a correction of −5,000 days. The estimated partner balance is now −4,070 days." {
		t.Fatalf("flash %q", flash)
	}
	if f.partnerEstimate() != -4070 {
		t.Fatalf("estimate %d", f.partnerEstimate())
	}

	// A big purchase asks too, and says why; one of exactly 1,000 does not.
	r = f.entry("purchase", "5000", "invoice 2030-2")
	q = section(t, r.body, "partner-confirm-question")
	if !strings.Contains(q, "from −4,070 to 930 days.") || !strings.Contains(q, "More than 1,000 days in one entry.") || strings.Contains(q, "zero") {
		t.Fatalf("the question: %q", q)
	}
	r = f.entry("purchase", "1000", "invoice 2030-3")
	if flash := f.followFlash(r, "/admin"); !strings.Contains(flash, "now −3,070 days.") {
		t.Fatalf("flash %q", flash)
	}
	// A small correction below zero asks, and says it is below zero.
	r = f.entry("correction", "-1", "one short")
	if q = section(t, r.body, "partner-confirm-question"); !strings.Contains(q, "from −3,070 to −3,071 days.") || !strings.Contains(q, "Below zero") ||
		strings.Contains(q, "more than 1,000") {
		t.Fatalf("the question: %q", q)
	}

	evs, err := f.a.store.ListAudit(context.Background(), 1, 0)
	if err != nil || len(evs) != 1 || evs[0].Action != "partner.days" || evs[0].ActorEmail != "admin@example.com" ||
		!strings.Contains(evs[0].Detail, "+1000 days (purchase): invoice 2030-3") {
		t.Fatalf("audit: %v %+v", err, evs)
	}
}

// reverseLink is the Reverse button of entry id on page ("" if none).
func reverseLink(page string, id int64) string {
	m := regexp.MustCompile(`data-testid="entry-` + strconv.FormatInt(id, 10) + `"(?s:.*?)</tr>`).FindString(page)
	l := regexp.MustCompile(`href="([^"]*)" data-testid="reverse"`).FindStringSubmatch(m)
	if l == nil {
		return ""
	}
	return strings.ReplaceAll(l[1], "&amp;", "&")
}

func TestPartnerEntryReverse(t *testing.T) {
	f := newDashFix(t)
	ctx := context.Background()
	f.followFlash(f.entry("purchase", "930", "invoice 1"), "/admin")
	f.followFlash(f.entry("correction", "-5000", "typo", "confirmed", "1"), "/admin")
	rows, _, err := f.a.store.ListPartnerEntries(ctx, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	typo, buy := rows[0], rows[1]

	// The dashboard lists both, newest first, each with its Reverse button.
	page := f.c.get("/admin").body
	list := section(t, page, "partner-entries")
	if !strings.Contains(list, "#"+strconv.FormatInt(typo.ID, 10)) || !strings.Contains(list, "Correction −5,000 typo by admin@example.com") ||
		!strings.Contains(list, "Purchase +930 invoice 1 by admin@example.com") || strings.Index(list, "typo") > strings.Index(list, "invoice 1") {
		t.Fatalf("the list says %q", list)
	}
	link := reverseLink(page, typo.ID)
	if link != "/admin/partner/entries/"+strconv.FormatInt(typo.ID, 10)+"/reverse?back=%2Fadmin" {
		t.Fatalf("Reverse button %q", link)
	}

	// The Reverse button leads to a page that asks, with the numbers.
	r := f.c.get(link)
	if r.StatusCode != http.StatusOK || !strings.Contains(custText(r.body), "Reverse entry #"+strconv.FormatInt(typo.ID, 10)+"?") {
		t.Fatalf("reverse page: %d %s", r.StatusCode, custText(r.body))
	}
	if got := section(t, r.body, "reverse-numbers"); !strings.Contains(got, "a reversal of +5,000 days is recorded after it: this takes the partner balance from −4,070 to 930 days.") {
		t.Fatalf("the page says %q", got)
	}
	if !strings.Contains(r.body, `name="back" value="/admin"`) || !strings.Contains(r.body, `class="btn" href="/admin">Cancel`) {
		t.Error("the page does not go back to the dashboard")
	}
	// The note is required: its error is next to it, nothing moves.
	action := "/admin/partner/entries/" + strconv.FormatInt(typo.ID, 10) + "/reverse"
	before := f.partnerBook()
	r = f.c.submit(link, action, url.Values{"note": {" "}, "back": {"/admin"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.HasPrefix(testID(t, r.body, "error-note"), "Enter a note") {
		t.Fatalf("no note: %d %s", r.StatusCode, custText(r.body))
	}
	if after := f.partnerBook(); after != before {
		t.Fatalf("a refused reversal changed %+v → %+v", before, after)
	}
	// Reversed: the estimate is back, and both rows say so.
	r = f.c.submit(link, action, url.Values{"note": {"meant −500"}, "back": {"/admin"}})
	flash := f.followFlash(r, "/admin")
	revRows, _, _ := f.a.store.ListPartnerEntries(ctx, 1, 0)
	rev := revRows[0]
	if want := "success: Entry #" + strconv.FormatInt(typo.ID, 10) + " reversed by entry #" + strconv.FormatInt(rev.ID, 10) +
		" (+5,000 days). The estimated partner balance is now 930 days."; flash != want {
		t.Fatalf("flash %q, want %q", flash, want)
	}
	if f.partnerEstimate() != 930 {
		t.Fatalf("estimate %d", f.partnerEstimate())
	}
	page = f.c.get("/admin").body
	list = section(t, page, "partner-entries")
	if !strings.Contains(list, "Reversal reverses #"+strconv.FormatInt(typo.ID, 10)+" +5,000 meant −500") ||
		!strings.Contains(list, "Correction reversed by #"+strconv.FormatInt(rev.ID, 10)+" −5,000 typo") {
		t.Fatalf("the list says %q", list)
	}
	if reverseLink(page, typo.ID) != "" || reverseLink(page, rev.ID) != "" || reverseLink(page, buy.ID) == "" {
		t.Fatal("Reverse buttons: want one on the purchase only")
	}
	evs, _ := f.a.store.ListAudit(ctx, 1, 0)
	if len(evs) != 1 || evs[0].Action != "partner.reverse" || evs[0].ActorEmail != "admin@example.com" || !strings.Contains(evs[0].Detail, "meant −500") {
		t.Fatalf("audit %+v", evs)
	}

	// A second reversal (a page left open) is refused, and says why.
	before = f.partnerBook()
	r = f.c.submit("/admin", action, url.Values{"note": {"again"}})
	if r.StatusCode != http.StatusConflict || !strings.Contains(section(t, r.body, "reverse-refused"), "was reversed already by entry #"+strconv.FormatInt(rev.ID, 10)) {
		t.Fatalf("a second reversal: %d %s", r.StatusCode, custText(r.body))
	}
	// So is the reversal of the reversal, on its page and when posted.
	revAction := "/admin/partner/entries/" + strconv.FormatInt(rev.ID, 10) + "/reverse"
	if got := section(t, f.c.get(revAction).body, "reverse-refused"); !strings.Contains(got, "is itself the reversal of entry #"+strconv.FormatInt(typo.ID, 10)) {
		t.Fatalf("the reversal's page says %q", got)
	}
	if r = f.c.submit("/admin", revAction, url.Values{"note": {"undo"}}); r.StatusCode != http.StatusConflict || strings.Contains(r.body, `data-testid="reverse-form"`) {
		t.Fatalf("the reversal of a reversal: %d %s", r.StatusCode, custText(r.body))
	}
	if after := f.partnerBook(); after != before {
		t.Fatalf("refused reversals changed %+v → %+v", before, after)
	}
	if r = f.c.get("/admin/partner/entries/999999/reverse"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("a missing entry: %d", r.StatusCode)
	}

	// Reversing the purchase takes 930 to 0: no question. After a
	// correction of −10 it would go below zero: asked, then done.
	f.followFlash(f.entry("correction", "-10", "used"), "/admin")
	buyAction := "/admin/partner/entries/" + strconv.FormatInt(buy.ID, 10) + "/reverse"
	before = f.partnerBook()
	r = f.c.submit("/admin", buyAction, url.Values{"note": {"refunded"}, "back": {"/admin/partner/entries?page=1"}})
	if r.StatusCode != http.StatusOK || !strings.Contains(section(t, r.body, "partner-confirm-question"), "This takes the partner balance from 920 to −10 days.") ||
		!strings.Contains(r.body, `name="confirmed" value="1"`) || !strings.Contains(r.body, `value="refunded"`) ||
		!strings.Contains(section(t, r.body, "reverse-form"), "Reverse it anyway") {
		t.Fatalf("a reversal below zero: %d %s", r.StatusCode, custText(r.body))
	}
	if after := f.partnerBook(); after != before {
		t.Fatalf("asking changed %+v → %+v", before, after)
	}
	r = f.c.submit("/admin", buyAction, url.Values{"note": {"refunded"}, "confirmed": {"1"}, "back": {"/admin/partner/entries?page=1"}})
	f.followFlash(r, "/admin/partner/entries?page=1")
	if f.partnerEstimate() != -10 {
		t.Fatalf("estimate %d", f.partnerEstimate())
	}
}

func TestPartnerEntryBackIsOurs(t *testing.T) {
	for raw, want := range map[string]string{
		"/admin":                         "/admin",
		"/admin/partner/entries":         "/admin/partner/entries",
		"/admin/partner/entries?page=3":  "/admin/partner/entries?page=3",
		"/admin/partner/entries?page=03": "/admin",
		"/admin/partner/entries?page=-1": "/admin",
		"/admin/partner/entries/../x":    "/admin",
		"https://example.com/admin":      "/admin",
		"//example.com":                  "/admin",
		"":                               "/admin",
	} {
		if got := partnerBack(raw); got != want {
			t.Errorf("partnerBack(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestPartnerEntriesPages(t *testing.T) {
	f := newDashFix(t)
	ctx := context.Background()
	for i := range 30 {
		if err := f.a.store.RecordPartnerPurchase(ctx, dashActor, int64(i+1), "invoice "+strconv.Itoa(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	// The dashboard shows the latest five and links them all.
	page := f.c.get("/admin").body
	if n := strings.Count(section(t, page, "partner-entries"), "Purchase"); n != 5 {
		t.Fatalf("the dashboard lists %d entries, want 5", n)
	}
	if got := testID(t, page, "all-partner-entries"); got != "All 30 entries" {
		t.Fatalf("link %q", got)
	}
	r := f.c.get("/admin/partner/entries")
	if r.StatusCode != http.StatusOK || testID(t, r.body, "page-info") != "1–25 of 30" || !strings.Contains(r.body, `href="/admin/partner/entries?page=2" rel="next"`) {
		t.Fatalf("page 1: %d %s", r.StatusCode, custText(r.body))
	}
	if !strings.Contains(section(t, r.body, "partner-entries"), "+30 invoice 30") || strings.Contains(r.body, "invoice 5<") {
		t.Fatal("page 1 is not the newest 25")
	}
	r = f.c.get("/admin/partner/entries?page=2")
	if testID(t, r.body, "page-info") != "26–30 of 30" || !strings.Contains(section(t, r.body, "partner-entries"), "+1 invoice 1") {
		t.Fatalf("page 2: %s", custText(r.body))
	}
	// Its Reverse buttons come back to the page they are on.
	first, _, _ := f.a.store.ListPartnerEntries(ctx, 1, 29)
	if link := reverseLink(r.body, first[0].ID); !strings.HasSuffix(link, "?back=%2Fadmin%2Fpartner%2Fentries%3Fpage%3D2") {
		t.Fatalf("Reverse button %q", link)
	}
	if !strings.Contains(f.c.get(reverseLink(r.body, first[0].ID)).body, `name="back" value="/admin/partner/entries?page=2"`) {
		t.Fatal("the reverse page does not carry the way back")
	}
}

// A customer reaches none of it, and changes nothing.
func TestPartnerEntriesAreForAdmins(t *testing.T) {
	f := newDashFix(t)
	ctx := context.Background()
	e, err := f.a.store.RecordPartnerEntry(ctx, dashActor, models.NewPartnerEntry{Kind: models.PartnerPurchase, Days: 10, Note: "invoice"})
	if err != nil {
		t.Fatal(err)
	}
	f.customer("cust@example.com")
	c := f.a.client()
	c.login("cust@example.com")
	before := f.partnerBook()
	id := strconv.FormatInt(e.ID, 10)
	for _, r := range []result{
		c.get("/admin/partner/entries"),
		c.get("/admin/partner/entries/" + id + "/reverse"),
		c.submit("/app", "/admin/partner/entries/"+id+"/reverse", url.Values{"note": {"mine now"}, "confirmed": {"1"}}),
		c.submit("/app", "/admin/partner/days", url.Values{"kind": {"correction"}, "days": {"-10"}, "note": {"x"}, "confirmed": {"1"}}),
	} {
		if r.StatusCode != http.StatusForbidden || strings.Contains(r.body, "invoice") {
			t.Errorf("%s %s: %d", r.Request.Method, r.Request.URL.Path, r.StatusCode)
		}
	}
	if after := f.partnerBook(); after != before {
		t.Fatalf("a customer changed %+v → %+v", before, after)
	}
	if strings.Contains(c.get("/app").body, "partner") {
		t.Error("the customer's page mentions the partner balance")
	}
}
