package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"whapidesk/internal/testenv"
	"whapidesk/models"
)

// a11yPage is a page a person can reach: who opens it and where.
type a11yPage struct {
	name, who, path string
}

// TestAccessibility opens every page a user can reach — signed out, as a
// customer, as an admin — in English, Arabic and French (the browser's
// Accept-Language), on a desktop (1280 px) and a phone (390 px), runs
// axe-core on each (internal/testenv.Axe), and fails on any violation of
// impact serious or critical, naming the rule, its impact, the elements
// and the page; and on any page wider than the window (it would scroll
// sideways). Without Chromium it is
// skipped, except under CI=true, where it fails.
func TestAccessibility(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	f := newCustFix(t)
	ctx := context.Background()
	f.newUser(models.RoleAdmin, "admin@example.com")
	amal := f.customer("amal@example.com", true)
	ch := f.channel(amal, "Shop")
	_, key, err := f.store.CreateAPIKey(ctx, models.SystemActor, amal.ID, "billing")
	if err != nil {
		t.Fatal(err)
	}
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	pages := []a11yPage{
		{"login", "anon", "/login"},
		{"forgot-password", "anon", "/forgot-password"},
		{"app", "customer", "/app"},
		{"app/connect", "customer", "/app/channels/" + id(ch.ID) + "/connect"},
		{"account (password, mails)", "customer", "/account/password"},
		{"admin", "admin", "/admin"},
		{"admin/users", "admin", "/admin/users"},
		{"admin/users/:id", "admin", "/admin/users/" + id(amal.ID)},
		{"admin/channels", "admin", "/admin/channels"},
		{"admin/plans", "admin", "/admin/plans"},
		{"admin/audit", "admin", "/admin/audit"},
		{"admin/jobs", "admin", "/admin/jobs"},
		{"admin/outbox", "admin", "/admin/outbox"},
		{"admin/attention", "admin", "/admin/attention"},
		{"admin/webhooks", "admin", "/admin/webhooks"},
		{"admin/settings/whapi", "admin", "/admin/settings/whapi"},
		{"admin/partner/entries", "admin", "/admin/partner/entries"},
		{"admin/keys", "admin", "/admin/keys"},
		{"admin/keys/:id/revoke", "admin", "/admin/keys/" + id(key.ID) + "/revoke"},
	}

	// One tab per person, each in a browser context of its own (cookies).
	// The deadline is the whole walk's: many pages, on a busy machine.
	deadline := time.Now().Add(20 * time.Minute)
	if d, ok := t.Deadline(); ok && d.Add(-browserMargin).Before(deadline) {
		deadline = d.Add(-browserMargin)
	}
	anon := openTab(t, testenv.Browser(t), "anonymous", deadline)
	tabs := map[string]*browserTab{
		"anon":     anon,
		"customer": anon.newWindow(t, "customer"),
		"admin":    anon.newWindow(t, "admin"),
	}
	signIn(t, f.srv.URL, tabs["customer"], "amal@example.com")
	signIn(t, f.srv.URL, tabs["admin"], "admin@example.com")

	var failures []string
	for _, lang := range []string{"en", "ar", "fr"} {
		for _, width := range []int64{1280, 390} {
			for _, tab := range tabs {
				tab.do(t, chromedp.EmulateViewport(width, 900), chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
					// The language by Accept-Language, and no answer from the
					// cache of another language's visit.
					if _, err := cdp.Call(ctx, tgt, network.Enable, network.EnableParams{}); err != nil {
						return err
					}
					if _, err := cdp.Call(ctx, tgt, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
						return err
					}
					_, err := cdp.Call(ctx, tgt, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}})
					return err
				}))
			}
			for _, p := range pages {
				where := fmt.Sprintf("%s [%s, %d px]", p.path, lang, width)
				tab := tabs[p.who]
				res := inTab(t, tab, chromedp.NavigateResponse(f.srv.URL+p.path))
				if res.Status != http.StatusOK {
					t.Fatalf("%s: status %d", where, res.Status)
				}
				tab.waitJS(t, "the page to load", `document.readyState === 'complete'`)
				if got := inTab(t, tab, chromedp.Evaluate[string](`document.documentElement.lang`)); got != lang {
					failures = append(failures, fmt.Sprintf("%s: page-language: the page is in %q, want %q", where, got, lang))
				}
				// Nothing pushes the page wider than the screen: no sideways
				// scroll, on a phone either, in any language.
				if over := inTab(t, tab, chromedp.Evaluate[string](sidewaysJS)); over != "" {
					failures = append(failures, fmt.Sprintf("%s: the page scrolls sideways: %s", where, over))
				}
				actx, cancel := tab.bounded()
				vs, err := testenv.Axe(actx)
				cancel()
				if err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				for _, v := range vs {
					if !v.Serious() {
						continue
					}
					failures = append(failures, where+": "+v.String())
				}
			}
		}
	}
	for _, fl := range failures {
		t.Error(fl)
	}
}

// sidewaysJS says how much wider than the window the page is, and the
// widest element that sticks out ("" when nothing does).
const sidewaysJS = `(() => {
	const d = document.documentElement, over = d.scrollWidth - d.clientWidth;
	if (over <= 0) return "";
	let worst = null, by = 0;
	for (const el of document.body.querySelectorAll('*')) {
		const r = el.getBoundingClientRect();
		const out = Math.max(r.right - d.clientWidth, -r.left);
		if (out > by && getComputedStyle(el).position !== 'fixed') { by = out; worst = el; }
	}
	const name = worst ? worst.tagName.toLowerCase() + (worst.id ? '#' + worst.id : '') + (worst.className && typeof worst.className === 'string' ? '.' + worst.className.trim().split(/\s+/).join('.') : '') : '?';
	return over + " px, " + name + " by " + Math.round(by) + " px";
})()`

// signIn signs in through the login form in tab and waits for the signed-in
// page.
func signIn(t *testing.T, base string, tab *browserTab, email string) {
	t.Helper()
	tab.do(t, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), testPassword))
	tab.follow(t, chromedp.Click(chromedp.CSS(`.login-card button[type=submit]`)))
	tab.do(t, chromedp.WaitVisible(chromedp.CSS(`header .topbar-user`)))
}
