package handlers

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"whapidesk/models"
)

// firstRowButtons counts the first card's action buttons.
const firstRowButtons = `document.querySelectorAll('table.table-cards tbody tr:first-child td.actions :is(a.btn, button)').length`

// tableHeadShows says whether the card table's column heads are shown (a
// table on a wide screen) rather than hidden (cards on a phone).
const tableHeadShows = `(() => {
	const th = document.querySelector('table.table-cards thead th');
	const r = th.getBoundingClientRect();
	return r.width > 20 && r.height > 10 && getComputedStyle(document.querySelector('table.table-cards tr')).display === 'table-row';
})()`

// TestBrowserListsAreCardsOnPhones opens the customers, channels and plans
// lists at a phone's width (390×844): each row is a card whose buttons
// are all in sight and nothing scrolls sideways; at 1280 px the lists are
// tables again.
//
// WHAPIDESK_SCREENSHOTS=1 also writes phone-customers.png,
// phone-channels.png and phone-plans.png to docs/screenshots/.
func TestBrowserListsAreCardsOnPhones(t *testing.T) {
	admin := startBrowser(t, "admin")
	f := newAdmFix(t)
	ctx := context.Background()
	f.configureToken()
	gold := f.plan("باقة ذهبية 🥇", 3, 30, 30)
	f.plan("Starter", 2, 30, 30)
	for _, who := range []struct{ email, name, channel string }{
		{"sara.alqahtani@example.com", "سارة القحطاني", "قناة المبيعات"},
		{"omar@example.com", "Omar Haddad", "Support desk (Riyadh)"},
	} {
		u := f.a.newUser(models.RoleCustomer, who.email)
		if err := f.a.store.SetUserDisplayName(ctx, models.SystemActor, u.ID, who.name); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ActivatePlan(ctx, models.SystemActor, u.ID, gold.ID); err != nil {
			t.Fatal(err)
		}
		f.createChannel(u.ID, who.channel)
	}

	admin.do(t, chromedp.Navigate(f.a.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	admin.login(t, "admin@example.com", "Dashboard")
	for _, page := range []struct{ path, shot string }{
		{"/admin/users", "phone-customers.png"},
		{"/admin/channels", "phone-channels.png"},
		{"/admin/plans", "phone-plans.png"},
	} {
		t.Run(page.path, func(t *testing.T) {
			admin.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
				chromedp.Navigate(f.a.srv.URL+page.path), chromedp.WaitVisible(chromedp.CSS(`table.table-cards tbody tr`)))
			// Every row's cells and buttons in the window, nothing
			// sideways (phoneFit, as the audit and Attention lists).
			if bad := inTab(t, admin, chromedp.Evaluate[string](phoneFitOf("table.table-cards"))); bad != "" {
				t.Fatalf("at 390 px: %s", bad)
			}
			if inTab(t, admin, chromedp.Evaluate[int](firstRowButtons)) == 0 {
				t.Fatal("at 390 px: no buttons in the first row")
			}
			if inTab(t, admin, chromedp.Evaluate[bool](tableHeadShows)) {
				t.Fatal("at 390 px the rows are not cards: the column heads show")
			}
			admin.screenshot(t, page.shot)
			admin.do(t, chromedp.EmulateViewport(1280, 900), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`table.table-cards tbody tr`)))
			if !inTab(t, admin, chromedp.Evaluate[bool](tableHeadShows)) {
				t.Fatal("at 1280 px the list is not a table")
			}
		})
	}
}

// TestBrowserRefusedExtendSaysSoAtTheField: on a customer's page long
// with channels, extending the last one by more days than the balance
// holds answers next to the days field — in sight, announced (role=alert,
// tied by aria-describedby), the field focused and keeping what was typed.
func TestBrowserRefusedExtendSaysSoAtTheField(t *testing.T) {
	admin := startBrowser(t, "admin")
	f := newAdmFix(t)
	ctx := context.Background()
	f.configureToken()
	plan := f.plan("Big", 8, 30, 30)
	u := f.a.newUser(models.RoleCustomer, "many@example.com")
	if _, err := f.svc.ActivatePlan(ctx, models.SystemActor, u.ID, plan.ID); err != nil {
		t.Fatal(err)
	}
	var last *models.Channel
	for i := 1; i <= 8; i++ {
		last = f.createChannel(u.ID, fmt.Sprintf("Line %d", i))
	}
	balance := f.user(u.ID).DayBalance
	days := strconv.FormatInt(balance+500, 10)
	base := "#ch" + strconv.FormatInt(last.ID, 10) + "-"
	form := `form[action="/admin/users/` + strconv.FormatInt(u.ID, 10) + `/channels/` + strconv.FormatInt(last.ID, 10) + `/extend"]`

	admin.do(t, chromedp.Navigate(f.a.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	admin.login(t, "admin@example.com", "Dashboard")
	admin.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(f.a.srv.URL+userPath(u.ID)), chromedp.WaitVisible(chromedp.CSS(form)))
	if top := inTab(t, admin, chromedp.Evaluate[float64](`document.querySelector('`+form+`').getBoundingClientRect().top`)); top < 844 {
		t.Fatalf("the page is not long enough to test: the form is at %v px", top)
	}
	admin.do(t,
		chromedp.Evaluate[chromedp.Void](`window.__marker = 1`),
		chromedp.SetValue(chromedp.CSS(base+"days"), days),
		chromedp.SetValue(chromedp.CSS(base+"comment"), "too many"),
		chromedp.Click(chromedp.CSS(form+" button[type=submit]")),
	)
	admin.waitJS(t, "the refusal next to the field", `document.querySelector('`+base+`days-error') !== null && `+htmxIdle)
	if !inTab(t, admin, chromedp.Evaluate[bool](`window.__marker === 1`)) {
		t.Fatal("the form reloaded the page instead of an HTMX swap")
	}
	admin.waitJS(t, "the focus on the days field", `document.activeElement && document.activeElement.matches('`+base+`days')`)
	got := inTab(t, admin, chromedp.Evaluate[map[string]any](`(() => {
		const err = document.querySelector('`+base+`days-error'), input = document.querySelector('`+base+`days');
		const r = err.getBoundingClientRect();
		return {inView: r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0, text: err.textContent, role: err.getAttribute('role'),
			describedBy: input.getAttribute('aria-describedby'), invalid: input.getAttribute('aria-invalid'), value: input.value};
	})()`))
	if got["inView"] != true {
		t.Errorf("the message is out of sight: %v", got)
	}
	if got["value"] != days || got["invalid"] != "true" || got["role"] != "alert" {
		t.Errorf("the field: %v", got)
	}
	if want := fmt.Sprintf("many@example.com has only %d days left (you asked for %s)", balance, groupThousands(balance+500)); !containsText(fmt.Sprint(got["text"]), want) {
		t.Errorf("the message %q, want %q", got["text"], want)
	}
	if d, _ := got["describedBy"].(string); !containsText(" "+d+" ", " "+base[1:]+"days-error ") {
		t.Errorf("aria-describedby %q does not name the message", d)
	}
	if b := f.user(u.ID).DayBalance; b != balance || f.extends() != 0 {
		t.Fatalf("a refused extend moved days (balance %d, was %d) or reached WHAPI (%d)", b, balance, f.extends())
	}
}

// containsText reports whether s holds want, the isolates aside.
func containsText(s, want string) bool { return strings.Contains(withoutIsolates(s), want) }
