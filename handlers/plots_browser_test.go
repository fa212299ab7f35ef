package handlers

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"whapidesk/models"
)

// A channel whose creation is not settled yet shows as Preparing on the
// customer's dashboard, and turns into "Waiting for your phone" by itself
// once Reconcile settles it — no reload, and the card stops asking then.
func TestBrowserPreparingCardRefreshesItself(t *testing.T) {
	tab := startBrowser(t, "customer")
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("cust@example.com", true)
	ch := pendingChannel(t, f, u, "Slow")
	card := "#channel-" + strconv.FormatInt(ch.ID, 10)

	tab.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	tab.login(t, "cust@example.com", "My channels")
	if state := inTab(t, tab, chromedp.Text(chromedp.CSS(card+` [data-testid=channel-state]`))); state != "Preparing" {
		t.Fatalf("the new channel shows %q", state)
	}
	tab.do(t, chromedp.Evaluate[chromedp.Void](`window.__stay = 1`))
	tab.waitJS(t, "the card to ask for itself at least once",
		`performance.getEntriesByType('resource').some(e => e.name.endsWith('/card'))`)

	settlePending(t, f) // WHAPI's answer found: the channel is made

	tab.waitJS(t, "the card to say Waiting for your phone",
		`(document.querySelector('`+card+` [data-testid=channel-state]') || {}).textContent === 'Waiting for your phone' && `+htmxIdle)
	if !inTab(t, tab, chromedp.Evaluate[bool](`window.__stay === 1`)) {
		t.Fatal("the page was reloaded; the card should have refreshed alone")
	}
	if inTab(t, tab, chromedp.Evaluate[bool](`document.querySelector('`+card+`').hasAttribute('hx-trigger')`)) {
		t.Fatal("the ready card still polls")
	}
}

// WHAPIDESK_SCREENSHOTS=1 writes the admin dashboard with its plots and
// the Arabic customer dashboard, at 1280×900 and 390×844, to
// docs/screenshots/ (admin-dashboard-*.png, ar-dashboard-*.png), after
// twelve weeks of channels made, extended and deleted through provision.
func TestBrowserDashboardScreenshots(t *testing.T) {
	if os.Getenv("WHAPIDESK_SCREENSHOTS") != "1" {
		t.Skip("writes docs/screenshots: run with WHAPIDESK_SCREENSHOTS=1")
	}
	tab := startBrowser(t, "admin")
	f := newPlotsFix(t)
	f.newUser(models.RoleAdmin, "admin@example.com")
	if err := f.store.SetUserLanguage(context.Background(), models.SystemActor, f.alice.ID, "ar"); err != nil {
		t.Fatal(err)
	}
	both := func(name string) {
		t.Helper()
		tab.do(t, chromedp.EmulateViewport(1280, 900))
		tab.screenshot(t, name+"-1280.png")
		tab.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		tab.screenshot(t, name+"-390.png")
		tab.do(t, chromedp.EmulateViewport(1280, 900))
	}
	tab.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	tab.login(t, "admin@example.com", "Dashboard")
	tab.do(t, chromedp.WaitVisible(chromedp.ID("plot-days")))
	// At phone width the plots fit the screen: no sideways scrolling.
	tab.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	if wide := inTab(t, tab, chromedp.Evaluate[bool](`[...document.querySelectorAll('figure.plot svg')].some(s => s.getBoundingClientRect().right > window.innerWidth + 1)`)); wide {
		t.Error("a plot is wider than a 390 px screen")
	}
	both("admin-dashboard")

	cust := tab.newWindow(t, "customer")
	cust.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	cust.login(t, "alice@example.com", "قنواتي")
	if dir := inTab(t, cust, chromedp.Evaluate[string](`getComputedStyle(document.body).direction`)); dir != "rtl" {
		t.Fatalf("the Arabic dashboard's direction is %q", dir)
	}
	cust.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=days-left-picture]`)))
	tab = cust
	both("ar-dashboard")
}
