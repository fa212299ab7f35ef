package handlers

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"whapidesk/models"
)

// A customer changes their password from the top bar, in a real browser:
// a mistake is shown next to its field without the passwords coming back,
// the change signs the other browser out and keeps this one in.
func TestBrowserPasswordChange(t *testing.T) {
	here := startBrowser(t, "here")
	there := here.newWindow(t, "there")
	a := newTestApp(t)
	u := a.newUser(models.RoleCustomer, "amal@example.com")
	for _, b := range []*browserTab{here, there} {
		b.do(t, chromedp.Navigate(a.srv.URL+"/login"))
		b.login(t, u.Email, "My channels")
	}

	const next = "a much longer new secret"
	fill := func(current, newPw, confirm string) {
		t.Helper()
		here.do(t,
			chromedp.SetValue(chromedp.ID("pw-current_password"), current),
			chromedp.SetValue(chromedp.ID("pw-new_password"), newPw),
			chromedp.SetValue(chromedp.ID("pw-confirm_password"), confirm),
			chromedp.Click(chromedp.CSS(`#password-card button[type=submit]`)),
		)
	}
	here.follow(t, chromedp.Click(chromedp.CSS(`header a[href="/account/password"]`)))
	here.do(t, chromedp.WaitVisible(chromedp.ID("password-card")))
	fill(testPassword, next, next+"!")
	here.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=error-confirm_password]`)))
	if msg := inTab(t, here, chromedp.Text(chromedp.CSS(`[data-testid=error-confirm_password]`))); !strings.Contains(msg, "differ") {
		t.Fatalf("the error next to the confirmation says %q", msg)
	}
	for _, id := range []string{"pw-current_password", "pw-new_password", "pw-confirm_password"} {
		if v := inTab(t, here, chromedp.Value(chromedp.ID(id))); v != "" {
			t.Fatalf("%s came back filled in", id)
		}
	}
	here.screenshot(t, "account-password-error.png")

	here.settled(t) // the form the error came back in
	// The change answers with the next page: follow it, rather than wait
	// for a flash that the page being left might still hold.
	here.do(t,
		chromedp.SetValue(chromedp.ID("pw-current_password"), testPassword),
		chromedp.SetValue(chromedp.ID("pw-new_password"), next),
		chromedp.SetValue(chromedp.ID("pw-confirm_password"), next),
	)
	here.follow(t, chromedp.Click(chromedp.CSS(`#password-card button[type=submit]`)))
	here.do(t, chromedp.WaitVisible(chromedp.CSS(`#flash .alert`)))
	here.settled(t)
	if flash := inTab(t, here, chromedp.Text(chromedp.CSS(`#flash .alert`))); !strings.Contains(flash, "password is changed") {
		t.Fatalf("after the change the page says %q", flash)
	}
	if h1 := inTab(t, here, chromedp.Text(chromedp.CSS("main h1"))); h1 != "My channels" {
		t.Fatalf("after the change this browser is on %q", h1)
	}

	there.do(t, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(".login-card")))
	if h1 := inTab(t, there, chromedp.Text(chromedp.CSS("main h1"))); h1 != "Sign in" {
		t.Fatalf("the other browser, after the change, is on %q", h1)
	}
}
