package handlers

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// TestBrowserAutoManualToggle drives the auto/manual toggle in a real
// headless Chromium: an admin switches a customer from manual to auto on
// the customers list (HTMX, no reload), credits days on the customer's page
// and the customer's existing channel is extended without anything more;
// switched back to manual, a credit extends nothing until the admin uses
// the extend form.
//
// WHAPIDESK_SCREENSHOTS=1 also writes customers.png and customer.png to
// docs/screenshots/.
func TestBrowserAutoManualToggle(t *testing.T) {
	admin := startBrowser(t, "admin")
	f := newAdmFix(t, func(o *appOptions) { o.manualClock = true })
	ctx := context.Background()
	f.configureToken()
	plan := f.plan("Starter", 2, 30, 30)
	cust := f.a.newUser(models.RoleCustomer, "cust@example.com")
	for i, email := range []string{"ann@example.com", "bob@example.com", "zoe@example.com"} {
		u := f.a.newUser(models.RoleCustomer, email)
		if i == 1 {
			if err := f.a.store.SetAllocationMode(ctx, models.SystemActor, u.ID, models.AllocationAuto); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := f.svc.ActivatePlan(ctx, models.SystemActor, cust.ID, plan.ID); err != nil {
		t.Fatal(err)
	}
	ch := f.createChannel(cust.ID, "Support line") // in manual mode: no days yet
	if ch.DaysAllocated != 0 || f.extends() != 0 {
		t.Fatalf("a manual customer's new channel got days: %+v", ch)
	}
	uid := strconv.FormatInt(cust.ID, 10)
	toggle := "#mode-toggle-" + uid

	// clickToggle switches the customer's mode with the toggle on screen and
	// waits for HTMX to swap in the new one, which says want; the page must
	// not reload.
	clickToggle := func(t *testing.T, want string) {
		t.Helper()
		admin.do(t,
			chromedp.Evaluate[chromedp.Void](`window.__marker = 1; document.getElementById('flash').replaceChildren()`),
			chromedp.Click(chromedp.CSS(toggle+" button[type=submit]")),
		)
		admin.waitJS(t, "the toggle to say "+want,
			`(document.querySelector('`+toggle+` [data-testid=mode-badge]') || {}).textContent === '`+want+`'
			 && `+htmxIdle)
		if !inTab(t, admin, chromedp.Evaluate[bool](`window.__marker === 1`)) {
			t.Fatal("switching the mode reloaded the page instead of an HTMX swap")
		}
		if flash := inTab(t, admin, chromedp.Text(chromedp.CSS(`#flash .alert`))); !strings.Contains(withoutIsolates(flash), "cust@example.com is on") {
			t.Fatalf("flash after switching: %q", flash)
		}
	}
	// submitOnUserPage fills and submits a form of the customer's page and
	// waits for HTMX to swap in the answer; it returns the flash message.
	submitOnUserPage := func(t *testing.T, form string, fields map[string]string) string {
		t.Helper()
		steps := []chromedp.Action[chromedp.Void]{
			chromedp.Evaluate[chromedp.Void](`window.__marker = 1; document.getElementById('flash').replaceChildren()`),
		}
		for sel, val := range fields {
			steps = append(steps, chromedp.SetValue(chromedp.CSS(sel), val))
		}
		steps = append(steps, chromedp.Click(chromedp.CSS(form+" button[type=submit]")))
		admin.do(t, steps...)
		admin.waitJS(t, "the answer to be swapped in", `document.querySelector('#flash .alert') !== null && `+htmxIdle)
		if !inTab(t, admin, chromedp.Evaluate[bool](`window.__marker === 1`)) {
			t.Fatal("the form reloaded the page instead of an HTMX swap")
		}
		return inTab(t, admin, chromedp.Text(chromedp.CSS(`#flash .alert`)))
	}
	creditForm := `form[action="/admin/users/` + uid + `/days"]`
	credit := func(t *testing.T, days string) string {
		t.Helper()
		return submitOnUserPage(t, creditForm, map[string]string{"#credit-days": days, "#credit-comment": "browser test credit"})
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"admin signs in and opens the customers list", func(t *testing.T) {
			admin.do(t, chromedp.Navigate(f.a.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
			admin.login(t, "admin@example.com", "Dashboard")
			admin.follow(t, chromedp.Click(chromedp.CSS(`nav a[href="/admin/users"]`)))
			admin.do(t, chromedp.WaitVisible(chromedp.CSS(toggle)))
			if mode := inTab(t, admin, chromedp.Text(chromedp.CSS(toggle+" [data-testid=mode-badge]"))); mode != "Manual" {
				t.Fatalf("the customer's badge says %q, want Manual", mode)
			}
			admin.screenshot(t, "customers.png")
		}},
		{"switch to auto on the list, without a reload", func(t *testing.T) {
			clickToggle(t, "Auto")
			if m := f.user(cust.ID).AllocationMode; m != models.AllocationAuto {
				t.Fatalf("mode in the database: %s", m)
			}
			if f.extends() != 0 {
				t.Fatal("switching the mode extended a channel by itself")
			}
		}},
		{"a credit in auto mode extends the channel without anything more", func(t *testing.T) {
			admin.follow(t, chromedp.Click(chromedp.CSS(`a[href="/admin/users/`+uid+`"]`)))
			admin.do(t, chromedp.WaitVisible(chromedp.CSS(creditForm)))
			if flash := credit(t, "10"); !strings.Contains(flash, "10 days credited") || !strings.Contains(flash, "Automatic allocation gave") {
				t.Fatalf("flash after crediting in auto mode: %q", flash)
			}
			if n := f.extends(); n != 1 {
				t.Fatalf("the simulator received %d extends, want 1", n)
			}
			if got := f.channel(ch.ID); got.DaysAllocated <= 0 {
				t.Fatalf("the channel has %d days allocated", got.DaysAllocated)
			}
			allocated := inTab(t, admin, chromedp.Text(chromedp.CSS(`#channel-`+strconv.FormatInt(ch.ID, 10)+` [data-testid=days-allocated]`)))
			if allocated == "0" {
				t.Fatal("the page still shows 0 days allocated")
			}
			admin.do(t, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
			admin.screenshot(t, "customer.png")
		}},
		{"back to manual: a credit extends nothing", func(t *testing.T) {
			allocated := f.channel(ch.ID).DaysAllocated
			clickToggle(t, "Manual")
			if m := f.user(cust.ID).AllocationMode; m != models.AllocationManual {
				t.Fatalf("mode in the database: %s", m)
			}
			balance := f.user(cust.ID).DayBalance
			if flash := credit(t, "7"); !strings.Contains(flash, "7 days credited") || strings.Contains(flash, "Automatic") {
				t.Fatalf("flash after crediting in manual mode: %q", flash)
			}
			if n := f.extends(); n != 1 {
				t.Fatalf("the simulator received %d extends after a manual-mode credit, want still 1", n)
			}
			if got := f.channel(ch.ID).DaysAllocated; got != allocated {
				t.Fatalf("days allocated %d → %d in manual mode", allocated, got)
			}
			if got := f.user(cust.ID).DayBalance; got != balance+7 {
				t.Fatalf("balance %d after crediting 7 to %d", got, balance)
			}
		}},
		{"the admin's extend form extends it, once WHAPI takes an extend again", func(t *testing.T) {
			cid := strconv.FormatInt(ch.ID, 10)
			balance := f.user(cust.ID).DayBalance
			if hint := inTab(t, admin, chromedp.Text(chromedp.ID("ch"+cid+"-days-hint"))); !strings.Contains(hint, strconv.FormatInt(balance, 10)+" days available") {
				t.Fatalf("the extend form's hint %q does not show the balance %d", hint, balance)
			}
			extend := func() string {
				return submitOnUserPage(t, `#channel-`+cid+` form[data-testid=extend-form]`,
					map[string]string{"#ch" + cid + "-days": "5", "#ch" + cid + "-comment": "by hand"})
			}
			// The credit's allocation extended it moments ago: WHAPI's
			// cool-down. The admin is told when to try again; no day moves.
			if flash := extend(); !strings.Contains(flash, "was extended moments ago. Try again after ") || !strings.Contains(flash, "(in 5 minutes)") {
				t.Fatalf("flash after extending too soon: %q", flash)
			}
			if got := f.user(cust.ID).DayBalance; got != balance {
				t.Fatalf("balance %d after an extend refused as too soon, want %d", got, balance)
			}
			f.a.clock.Advance(whapisim.DefaultExtendCoolDown)
			if flash := extend(); !strings.Contains(flash, "extended by 5 days") {
				t.Fatalf("flash after extending: %q", flash)
			}
			if n := f.extends(); n != 3 {
				t.Fatalf("the simulator received %d extends, want 3", n)
			}
			if got := f.user(cust.ID).DayBalance; got != balance-5 {
				t.Fatalf("balance %d after extending by 5 from %d", got, balance)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}
