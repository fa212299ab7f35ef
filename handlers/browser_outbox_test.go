package handlers

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"whapidesk/models"
)

// TestBrowserInvitationAndOutbox: an admin creates a customer without a
// password in a real headless Chromium; the Outbox page shows the
// invitation queued (mail is not configured here) and, on its own page,
// as it would be sent, its HTML in a sandboxed frame. In a fresh browser
// the customer opens the mailed link, chooses a password, and signs in;
// the link then says it was used.
func TestBrowserInvitationAndOutbox(t *testing.T) {
	admin := startBrowser(t, "admin")
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")

	admin.do(t, chromedp.Navigate(a.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	admin.login(t, "admin@example.com", "Dashboard")
	admin.follow(t, chromedp.Click(chromedp.CSS(`nav a[href="/admin/users"]`)))
	admin.do(t,
		chromedp.SendKeys(chromedp.ID("new-email"), "dana@example.com"),
		chromedp.SendKeys(chromedp.ID("new-name"), "Dana"),
	)
	admin.settled(t)
	// HTMX posts the form; its answer sends the browser to the new
	// customer's page (HX-Redirect).
	admin.do(t, chromedp.Click(chromedp.CSS(`form[method=post][action="/admin/users"] button[type=submit]`)))
	admin.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=resend-invitation]`)))

	admin.follow(t, chromedp.Click(chromedp.CSS(`nav a[href="/admin/outbox"]`)))
	admin.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=mail-not-configured]`)))
	if to := inTab(t, admin, chromedp.Text(chromedp.CSS(`[data-testid=outbox-table] [data-testid=mail-to]`))); to != "dana@example.com" {
		t.Fatalf("the outbox's mail is to %q", to)
	}
	if st := inTab(t, admin, chromedp.Text(chromedp.CSS(`[data-testid=outbox-table] [data-testid=mail-state]`))); st != "Queued" {
		t.Errorf("the mail's state says %q, want Queued", st)
	}
	admin.follow(t, chromedp.Click(chromedp.CSS(`[data-testid=mail-subject]`)))
	admin.do(t, chromedp.WaitVisible(chromedp.CSS(`iframe[data-testid=mail-html]`)))
	text := inTab(t, admin, chromedp.Text(chromedp.CSS(`[data-testid=mail-text]`)))
	src := inTab(t, admin, chromedp.Evaluate[string](`document.querySelector('iframe[data-testid=mail-html]').getAttribute('src')`))
	sandbox := inTab(t, admin, chromedp.Evaluate[string](`document.querySelector('iframe[data-testid=mail-html]').getAttribute('sandbox')`))
	link := regexp.MustCompile(regexp.QuoteMeta(a.srv.URL) + `/set-password/[A-Za-z0-9_-]{43}`).FindString(text)
	if link == "" || src == "" || sandbox != "" {
		t.Fatalf("the mail's page: link %q, frame src %q, sandbox %q, text:\n%s", link, src, sandbox, text)
	}
	// The frame's document as the admin sees it: the same link, and the
	// mail's own inline styles applied (the button's colour), which the
	// app's page policy would have dropped.
	mailPage := inTab(t, admin, chromedp.Evaluate[string](`location.href`))
	admin.do(t, chromedp.Navigate(a.srv.URL+src), chromedp.WaitVisible(chromedp.CSS(`a`)))
	if href := inTab(t, admin, chromedp.Evaluate[string](`document.querySelector('a').getAttribute('href')`)); href != link {
		t.Errorf("the HTML part links to %q, the text part to %q", href, link)
	}
	if bg := inTab(t, admin, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('a')).backgroundColor`)); bg != "rgb(26, 95, 180)" {
		t.Errorf("the mail's button shows background %q: its inline style did not apply", bg)
	}
	admin.do(t, chromedp.Navigate(mailPage), chromedp.WaitVisible(chromedp.CSS(`iframe[data-testid=mail-html]`)))

	dana := admin.newWindow(t, "dana")
	dana.do(t, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`[data-testid=set-password-form]`)))
	if who := inTab(t, dana, chromedp.Text(chromedp.CSS(`[data-testid=link-email]`))); who != "dana@example.com" {
		t.Errorf("the page is for %q", who)
	}
	const pw = "a good long password 42"
	dana.do(t,
		chromedp.SendKeys(chromedp.ID("pw-new_password"), pw),
		chromedp.SendKeys(chromedp.ID("pw-confirm_password"), pw),
	)
	dana.follow(t, chromedp.Click(chromedp.CSS(`[data-testid=set-password-form] button[type=submit]`)))
	dana.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=password-set]`)))
	if _, err := a.store.Authenticate(context.Background(), "dana@example.com", pw); err != nil {
		t.Fatalf("sign-in with the chosen password: %v", err)
	}
	dana.do(t, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`[data-testid=link-problem]`)))
	if msg := inTab(t, dana, chromedp.Text(chromedp.CSS(`[data-testid=link-problem]`))); !strings.Contains(msg, "already been used") {
		t.Errorf("the used link says %q", msg)
	}
}
