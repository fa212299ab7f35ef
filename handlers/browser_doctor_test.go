package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi/whapisim"
)

// TestBrowserTestConnection clicks "Test connection" on the WHAPI Settings
// page in a real headless Chromium: the button is disabled and "Asking
// WHAPI…" shows while WHAPI answers, then the doctor's lines are swapped in
// under the token (HTMX, no reload), each with its badge; a second click,
// after WHAPI revoked the token, shows the token's line failing.
//
// WHAPIDESK_SCREENSHOTS=1 also writes settings-test-connection.png to
// docs/screenshots/.
func TestBrowserTestConnection(t *testing.T) {
	admin := startBrowser(t, "admin")
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	if _, err := a.svc.SaveWHAPISettings(context.Background(), models.Actor{Email: "admin@example.com"},
		provision.SettingsInput{PartnerToken: a.partnerToken}); err != nil {
		t.Fatal(err)
	}
	const button = `#settings form[action="/admin/settings/whapi/test"] button`
	const lines = `document.querySelectorAll('#doctor [data-testid=doctor-line]')`
	line := func(check string) string {
		return inTab(t, admin, chromedp.Text(chromedp.CSS(`#doctor [data-check="`+check+`"]`)))
	}

	admin.do(t, chromedp.Navigate(a.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	admin.login(t, "admin@example.com", "Dashboard")
	admin.follow(t, chromedp.Click(chromedp.CSS(`nav a[href="/admin/settings/whapi"]`)))
	admin.do(t, chromedp.WaitVisible(chromedp.CSS(button)))
	if n := inTab(t, admin, chromedp.Evaluate[int](lines+`.length`)); n != 0 {
		t.Fatalf("%d lines before any test", n)
	}

	// WHAPI takes a while to list the projects: the page shows it is asking.
	a.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/projects", Kind: whapisim.FaultLatency, Delay: 1500 * time.Millisecond})
	admin.do(t,
		chromedp.Evaluate[chromedp.Void](`window.__marker = 1`),
		chromedp.Click(chromedp.CSS(button)),
	)
	admin.waitJS(t, "the button disabled and the progress shown while WHAPI answers",
		`document.querySelector('`+button+`').disabled && getComputedStyle(document.getElementById('test-indicator')).display !== 'none'`)
	admin.waitJS(t, "the lines to be swapped in", lines+`.length === 7 && `+htmxIdle)
	if !inTab(t, admin, chromedp.Evaluate[bool](`window.__marker === 1`)) {
		t.Fatal("Test connection reloaded the page instead of an HTMX swap")
	}
	if l := line(provision.CheckToken); !strings.Contains(l, "Pass") || !strings.Contains(l, "accepted by WHAPI") {
		t.Fatalf("token line %q", l)
	}
	if l := line(provision.CheckPublicURL); !strings.Contains(l, "Warning") || !strings.Contains(l, "not set") {
		t.Fatalf("public URL line %q", l)
	}
	if flash := inTab(t, admin, chromedp.Text(chromedp.CSS(`#flash .alert`))); !strings.Contains(flash, "Verified") {
		t.Fatalf("flash %q", flash)
	}
	admin.screenshot(t, "settings-test-connection.png")

	a.sim.SetPartnerToken(fakeJWT(1300)) // WHAPI revoked it
	admin.settled(t)                     // the button was swapped in
	admin.do(t, chromedp.Click(chromedp.CSS(button)))
	admin.waitJS(t, "the token's line to fail", `(document.querySelector('#doctor [data-check="token"]')?.textContent ?? '').includes('Fail') && `+htmxIdle)
	if l := line(provision.CheckToken); !strings.Contains(l, "WHAPI refused it (401)") {
		t.Fatalf("token line %q", l)
	}
	if !inTab(t, admin, chromedp.Evaluate[bool](`window.__marker === 1`)) {
		t.Fatal("the second test reloaded the page")
	}
}
