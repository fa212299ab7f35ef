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

	"whapidesk/models"
)

// goldPlan is a plan name an Arabic-speaking reseller would give, emoji
// and all: it must never scramble the English sentence around it.
const goldPlan = "باقة ذهبية 🥇"

// TestListsSpeakArabic asks for the customers, channels and plans pages
// with Accept-Language: ar: each comes right to left, in Arabic, and so do
// a flash and a field error.
func TestListsSpeakArabic(t *testing.T) {
	f := newDashFix(t)
	bob := f.customer("bob@example.com")
	ch := f.channel(bob, "Shop")
	f.extend(ch, 10)
	f.c.header = http.Header{"Accept-Language": {"ar-SA,ar;q=0.9,en;q=0.5"}}

	for path, want := range map[string]string{
		"/admin/users":                "عميل جديد",
		userPath(bob.ID):              "إضافة أيام",
		"/admin/channels":             "تصدير CSV",
		"/admin/plans":                "باقة جديدة",
		userPath(bob.ID) + "/disable": "تعطيل الحساب",
		fmt.Sprintf("/admin/channels/%d/delete", ch.ID): "حذف القناة",
	} {
		r := f.c.get(path)
		admWantStatus(t, r, http.StatusOK)
		admWantBody(t, r, `<html lang="ar" dir="rtl">`, want)
	}

	// A flash: the plan is created, in Arabic, its name isolated.
	r := f.c.submit("/admin/plans", "/admin/plans", url.Values{"name": {goldPlan}, "max_channels": {"2"}, "days_per_period": {"30"}, "period_days": {"30"}})
	admWantStatus(t, r, http.StatusSeeOther)
	if got := flashText(f.c.get("/admin/plans").body); got != "success: تم إنشاء الباقة «\u2068"+goldPlan+"\u2069»." {
		t.Fatalf("flash %q", got)
	}
	// A field error: more days than the balance, next to the field.
	r = f.c.submit(userPath(bob.ID), userPath(bob.ID)+fmt.Sprintf("/channels/%d/extend", ch.ID), url.Values{"days": {"3000"}, "comment": {"كثير"}})
	admWantStatus(t, r, http.StatusUnprocessableEntity)
	admWantBody(t, r, `<html lang="ar" dir="rtl">`, "لم يتغير شيء", `data-testid="error-days">لم يتبقَّ لدى bob@example.com`, "أضف أيامًا أولًا من صفحة العميل", `value="3000"`)
}

// TestListsSpeakTheAdminsOwnLanguage: an admin whose own language is
// French reads the lists in French whatever the browser asks.
func TestListsSpeakTheAdminsOwnLanguage(t *testing.T) {
	f := newDashFix(t)
	admin, err := f.a.store.UserByEmail(context.Background(), "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.a.store.SetUserLanguage(context.Background(), models.SystemActor, admin.ID, "fr"); err != nil {
		t.Fatal(err)
	}
	f.c.header = http.Header{"Accept-Language": {"ar"}}
	for path, want := range map[string]string{"/admin/users": "Nouveau client", "/admin/channels": "Exporter en CSV", "/admin/plans": "Nouvelle offre"} {
		admWantBody(t, f.c.get(path), `<html lang="fr" dir="ltr">`, want)
	}
}

// isolated returns each place page shows name outside a <bdi> element,
// Unicode isolates or an input whose direction is its own (dir="auto").
func isolated(page, name string) (bad []string) {
	for at := 0; ; {
		i := strings.Index(page[at:], name)
		if i < 0 {
			return bad
		}
		i += at
		before := page[:i]
		inBdi := strings.LastIndex(before, "<bdi>") > strings.LastIndex(before, "</bdi>")
		inIsolate := strings.HasSuffix(before, "\u2068") && strings.HasPrefix(page[i+len(name):], "\u2069")
		inAuto := strings.HasSuffix(before, `dir="auto" value="`)
		if !inBdi && !inIsolate && !inAuto {
			bad = append(bad, page[max(0, i-40):min(len(page), i+len(name)+10)])
		}
		at = i + len(name)
	}
}

// TestUserTextIsIsolated shows an Arabic plan name, channel name and
// customer name on every page of the lists, in English: each is inside a
// <bdi> or Unicode isolates, never bare in the sentence.
func TestUserTextIsIsolated(t *testing.T) {
	f := newDashFix(t)
	ctx := context.Background()
	plan, err := f.a.store.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: goldPlan, MaxChannels: 3, DaysPerPeriod: 30, PeriodDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	u := f.a.newUser(models.RoleCustomer, "sara@example.com")
	if err := f.a.store.SetUserDisplayName(ctx, models.SystemActor, u.ID, "سارة"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ActivatePlan(ctx, models.SystemActor, u.ID, plan.ID); err != nil {
		t.Fatal(err)
	}
	ch := f.channel(u, "قناة المبيعات")
	f.extend(ch, 5)

	// A flash about the plan.
	admWantStatus(t, f.c.submit("/admin/plans", fmt.Sprintf("/admin/plans/%d/retire", plan.ID), nil), http.StatusSeeOther)
	pages := map[string]string{"/admin/plans (flash)": f.c.get("/admin/plans").body}
	for _, p := range []string{"/admin/users", userPath(u.ID), "/admin/channels", fmt.Sprintf("/admin/plans/%d/edit", plan.ID),
		fmt.Sprintf("/admin/channels/%d/delete", ch.ID), fmt.Sprintf("/admin/channels/%d/restart", ch.ID),
		userPath(u.ID) + "/subscription/cancel", userPath(u.ID) + fmt.Sprintf("/channels/%d/delete", ch.ID)} {
		r := f.c.get(p)
		admWantStatus(t, r, http.StatusOK)
		pages[p] = r.body
	}
	if !strings.Contains(pages["/admin/plans (flash)"], "\u2068"+goldPlan+"\u2069") {
		t.Error("the retire flash does not show the plan's name isolated")
	}
	seen := map[string]bool{}
	for p, body := range pages {
		for _, name := range []string{goldPlan, "سارة", "قناة المبيعات"} {
			if strings.Contains(body, name) {
				seen[name] = true
			}
			for _, b := range isolated(body, name) {
				t.Errorf("%s shows %q bare: %q", p, name, b)
			}
		}
	}
	if len(seen) != 3 {
		t.Fatalf("the pages showed only %v", seen)
	}
}

// TestChannelsCSVForExcel: the export starts with a UTF-8 BOM, carries the
// linked phone (empty while none is linked), and Arabic names and emoji
// come back as they were written.
func TestChannelsCSVForExcel(t *testing.T) {
	f := newDashFix(t)
	u := f.a.newUser(models.RoleCustomer, "سارة@example.com")
	if _, err := f.a.store.ActivatePlan(context.Background(), dashActor, u.ID, f.plan.ID); err != nil {
		t.Fatal(err)
	}
	linked := f.channel(u, "قناة 🥇")
	f.channel(u, "Spare")
	// The phone links, as the gate's webhook says it.
	yes := true
	if _, err := f.a.store.ApplyGate(context.Background(), linked.ID, models.GateObservation{Linked: &yes, Phone: "971501234567", Hook: true}); err != nil {
		t.Fatal(err)
	}
	if ch := f.reload(linked); !ch.Linked || ch.LinkedPhone != "971501234567" {
		t.Fatalf("the channel is not linked: %v %q", ch.Linked, ch.LinkedPhone)
	}
	r := f.c.get("/admin/channels.csv")
	admWantStatus(t, r, http.StatusOK)
	if !strings.HasPrefix(r.body, "\xEF\xBB\xBF") {
		t.Fatalf("no UTF-8 BOM: % x", r.body[:8])
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(r.body, "\xEF\xBB\xBF"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	phones := map[string]string{}
	for _, rec := range recs[1:] {
		phones[rec[col["name"]]] = rec[col["linked_phone"]]
		if rec[col["owner_email"]] != "سارة@example.com" {
			t.Errorf("owner %q", rec[col["owner_email"]])
		}
	}
	if p, ok := phones["قناة 🥇"]; !ok || !strings.Contains(p, "971501234567") {
		t.Errorf("the linked channel's phone: %q (rows %v)", p, phones)
	}
	if p, ok := phones["Spare"]; !ok || p != "" {
		t.Errorf("a channel with no phone linked shows %q", p)
	}
}

// TestActivatePlanAsksFirst: the plan form leads to a confirmation page
// that shows the plan and the days it will credit; confirming activates
// once; a form post of the old kind still activates, as it always did.
func TestActivatePlanAsksFirst(t *testing.T) {
	f := newDashFix(t)
	ctx := context.Background()
	gold, err := f.a.store.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: goldPlan, MaxChannels: 2, DaysPerPeriod: 45, PeriodDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	u := f.a.newUser(models.RoleCustomer, "sara@example.com")
	page := userPath(u.ID)
	admWantBody(t, f.c.get(page), `action="`+page+`/subscription"`, `method="get"`, "Activate plan…")

	r := f.c.get(page + "/subscription?plan_id=" + strconv.FormatInt(gold.ID, 10))
	admWantStatus(t, r, http.StatusOK)
	admWantBody(t, r, `data-testid="activate-days-per-period">45 days<`, "credits 90 days to sara@example.com",
		`action="`+page+`/subscription?plan_id=`+strconv.FormatInt(gold.ID, 10)+`"`, "Activate the plan")
	if b := f.user(u.ID).DayBalance; b != 0 {
		t.Fatalf("showing the confirmation credited %d days", b)
	}
	action := page + "/subscription?plan_id=" + strconv.FormatInt(gold.ID, 10)
	r = f.c.submit(action, action, nil)
	admWantStatus(t, r, http.StatusSeeOther)
	if got := listFlash(f.c.get(page).body); !strings.HasPrefix(got, "success: Plan "+goldPlan+" activated until ") || !strings.HasSuffix(got, ": 90 days credited.") {
		t.Fatalf("flash %q", got)
	}
	if b := f.user(u.ID).DayBalance; b != 90 {
		t.Fatalf("balance %d after confirming, want 90 once", b)
	}
	// No plan chosen, or one that does not exist: back to the page.
	for _, q := range []string{"", "?plan_id=x", "?plan_id=999999"} {
		r = f.c.get(page + "/subscription" + q)
		admWantStatus(t, r, http.StatusSeeOther)
		if got := listFlash(f.c.get(page).body); got != "error: Choose a plan." {
			t.Fatalf("%q: flash %q", q, got)
		}
	}
	// The old kind of post, plan_id in the form, still activates.
	r = f.c.submit(page, page+"/subscription", url.Values{"plan_id": {strconv.FormatInt(f.plan.ID, 10)}})
	admWantStatus(t, r, http.StatusSeeOther)
	if sub, err := f.a.store.ActiveSubscription(ctx, u.ID); err != nil || sub.PlanID != f.plan.ID {
		t.Fatalf("after a direct post: %v %+v", err, sub)
	}
}

// TestAdminSetsCustomersLanguage: the customer's page has a language
// select; a language we speak is saved (with its audit row) and the
// customer's own pages speak it; an unknown one is refused next to the
// field, which keeps it.
func TestAdminSetsCustomersLanguage(t *testing.T) {
	f := newDashFix(t)
	u := f.customer("sara@example.com")
	page := userPath(u.ID)
	admWantBody(t, f.c.get(page), `id="user-language" name="language"`, "As their browser asks", `<option value="ar">العربية</option>`)

	r := f.c.submit(page, page+"/language", url.Values{"language": {"ar"}})
	admWantStatus(t, r, http.StatusSeeOther)
	if l := f.user(u.ID).Language; l != "ar" {
		t.Fatalf("language %q", l)
	}
	if got := listFlash(f.c.get(page).body); got != "success: sara@example.com now reads whapidesk in العربية." {
		t.Fatalf("flash %q", got)
	}
	admWantBody(t, f.c.get(page), `<option value="ar" selected>`)
	evs, err := f.a.store.ListAudit(context.Background(), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || evs[0].Action != "user.language" || evs[0].Target != "sara@example.com" || evs[0].ActorEmail != "admin@example.com" {
		t.Fatalf("audit %+v", evs)
	}
	cust := f.a.client()
	cust.login("sara@example.com")
	admWantBody(t, cust.get("/app"), `<html lang="ar" dir="rtl">`)

	r = f.c.submit(page, page+"/language", url.Values{"language": {"xx"}})
	admWantStatus(t, r, http.StatusUnprocessableEntity)
	admWantBody(t, r, `data-testid="error-language">Choose one of the languages in the list.`, `aria-invalid="true"`)
	if l := f.user(u.ID).Language; l != "ar" {
		t.Fatalf("an unknown language changed it to %q", l)
	}
	// Back to the browser's choice.
	admWantStatus(t, f.c.submit(page, page+"/language", url.Values{"language": {""}}), http.StatusSeeOther)
	if l := f.user(u.ID).Language; l != "" {
		t.Fatalf("language %q, want the browser's", l)
	}
}
