package handlers

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"whapidesk/internal/testsmtp"
	"whapidesk/models"
)

// TestBrowserForgotPassword: in a real headless Chromium, a customer who
// forgot their password follows the login page's link, asks for a new one,
// opens the link of the mail a real SMTP server received, chooses a new
// password and signs in with it; the link then says it was used.
func TestBrowserForgotPassword(t *testing.T) {
	tab := startBrowser(t, "customer")
	a := newTestApp(t)
	srv := testsmtp.Start(t, testsmtp.Options{})
	withMail(t, a, srv)
	a.newUser(models.RoleCustomer, "cust@example.com")

	tab.do(t, chromedp.Navigate(a.srv.URL+"/login"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=forgot-link]`)))
	tab.follow(t, chromedp.Click(chromedp.CSS(`[data-testid=forgot-link]`)))
	tab.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=forgot-form]`)), chromedp.SendKeys(chromedp.ID("email"), "cust@example.com"))
	tab.follow(t, chromedp.Click(chromedp.CSS(`[data-testid=forgot-form] button[type=submit]`)))
	tab.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=reset-sent]`)))

	_, parts := srv.To(t, "cust@example.com", 1)[0].Parts(t)
	m := resetLinkRe(a).FindStringSubmatch(parts["text/plain"])
	if m == nil {
		t.Fatalf("no reset link in the mail:\n%s", parts["text/plain"])
	}
	link := m[0]

	tab.do(t, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`[data-testid=set-password-form]`)))
	if h1 := inTab(t, tab, chromedp.Text(chromedp.CSS("h1"))); h1 != "Choose a new password" {
		t.Errorf("the reset page's heading is %q", h1)
	}
	const pw = "a brand new passphrase 7"
	tab.do(t,
		chromedp.SendKeys(chromedp.ID("pw-new_password"), pw),
		chromedp.SendKeys(chromedp.ID("pw-confirm_password"), pw),
	)
	tab.follow(t, chromedp.Click(chromedp.CSS(`[data-testid=set-password-form] button[type=submit]`)))
	tab.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=password-set]`)))
	tab.follow(t, chromedp.Click(chromedp.CSS(`a[href="/login"]`)))
	tab.do(t,
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "cust@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), pw),
	)
	tab.follow(t, chromedp.Click(chromedp.CSS(`.login-card button[type=submit]`)))
	tab.do(t, chromedp.WaitVisible(chromedp.CSS(`header .topbar-user`)))
	if h1 := inTab(t, tab, chromedp.Text(chromedp.CSS("main h1"))); h1 != "My channels" {
		t.Fatalf("after signing in with the new password the page is %q", h1)
	}
	tab.do(t, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`[data-testid=link-problem]`)))
	if msg := inTab(t, tab, chromedp.Text(chromedp.CSS(`[data-testid=link-problem]`))); !strings.Contains(msg, "already been used") {
		t.Errorf("the used link says %q", msg)
	}
}
