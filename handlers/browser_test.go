package handlers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"whapidesk/internal/testenv"
	"whapidesk/models"
)

// browserBudget bounds the whole browser test, browser start included,
// and never past the test binary's own deadline less browserMargin. Every
// step waits for a condition, so the bound only decides how long a test
// that is stuck takes to fail: generous, since a busy machine makes
// Chromium slow.
const browserBudget = 5 * time.Minute

// browserMargin is what is left, after the budget, for the failure
// screenshots (10 s each at most).
const browserMargin = 15 * time.Second

// TestBrowserWHAPISettings drives the WHAPI Settings page in a real headless
// Chromium: login, saving a long token through HTMX, replacing it, keeping
// it, a validation error, a customer locked out, and a post without CSRF.
//
// WHAPIDESK_SCREENSHOTS=1 also writes the screenshots of docs/screenshots/.
func TestBrowserWHAPISettings(t *testing.T) {
	admin := startBrowser(t, "admin")
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	a.newUser(models.RoleCustomer, "customer@example.com")
	firstTok := a.partnerToken

	type step struct {
		name string
		run  func(t *testing.T)
	}
	// Each step of chain builds on the ones before it.
	chain := []step{
		{"admin logs in and lands on /admin", func(t *testing.T) {
			admin.do(t, chromedp.Navigate(a.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
			admin.screenshot(t, "login.png")
			admin.login(t, "admin@example.com", "Dashboard")
			if loc := inTab(t, admin, chromedp.Location()); loc != a.srv.URL+"/admin" {
				t.Fatalf("after login the browser is at %s, want /admin", loc)
			}
		}},
		{"pasted Bearer token is saved and verified without a reload", func(t *testing.T) {
			admin.do(t,
				chromedp.Click(chromedp.CSS(`nav a[href="/admin/settings/whapi"]`)),
				chromedp.WaitVisible(chromedp.ID("partner_token")),
			)
			admin.paste(t, "Bearer "+firstTok)
			flash := admin.save(t)
			if !strings.Contains(flash, "Saved and verified") {
				t.Fatalf("flash after save: %q", flash)
			}
			if badge := inTab(t, admin, chromedp.Text(chromedp.CSS(`[data-testid=verify-status]`))); badge != "Verified" {
				t.Fatalf("verify-status badge says %q", badge)
			}
			admin.do(t, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
			admin.screenshot(t, "settings-verified.png")
		}},
		{"WHAPI received Bearer exactly once", func(t *testing.T) {
			auth, ok := a.lastManagerAuth("/projects")
			if !ok {
				t.Fatal("the simulator received no /projects request")
			}
			if auth != "Bearer "+firstTok || strings.Count(auth, "Bearer") != 1 {
				t.Fatalf("Authorization sent to WHAPI: %.20q…, want exactly \"Bearer <token>\"", auth)
			}
		}},
		{"the page shows only the masked token", func(t *testing.T) {
			admin.requireNoToken(t, firstTok)
		}},
		{"a new token pasted without Bearer and with spaces replaces it", func(t *testing.T) {
			oldSummary := admin.summary(t)
			newTok := fakeJWT(1300)
			a.sim.SetPartnerToken(newTok)
			admin.paste(t, "\n  "+newTok+"  \n\n")
			if flash := admin.save(t); !strings.Contains(flash, "Saved and verified") {
				t.Fatalf("flash after replace: %q", flash)
			}
			if badge := inTab(t, admin, chromedp.Text(chromedp.CSS(`[data-testid=verify-status]`))); badge != "Verified" {
				t.Fatalf("verify-status badge says %q", badge)
			}
			if got := a.storedToken(); got != "Bearer "+newTok {
				t.Fatalf("stored token %.20q…, want \"Bearer \" + the new token", got)
			}
			summary := admin.summary(t)
			if summary == oldSummary || !strings.Contains(summary, "…"+newTok[len(newTok)-4:]) {
				t.Fatalf("masked hint did not change: before %q, after %q", oldSummary, summary)
			}
			admin.requireNoToken(t, newTok)
		}},
		{"an empty token field keeps the token", func(t *testing.T) {
			before := a.storedToken()
			admin.do(t, chromedp.SetValue(chromedp.ID("project_id"), "AnotherProject00001"))
			if v := inTab(t, admin, chromedp.Value(chromedp.ID("partner_token"))); v != "" {
				t.Fatalf("the token field is not empty: %d characters", len(v))
			}
			admin.save(t)
			if a.storedToken() != before {
				t.Fatal("saving with an empty token field changed the token")
			}
			admin.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=project-unknown]`)))
		}},
		{"a token WHAPI refuses keeps the current one until it is saved anyway", func(t *testing.T) {
			current, oldSummary := a.storedToken(), admin.summary(t)
			wrong := fakeJWT(1300) // not the token WHAPI knows
			admin.paste(t, "Bearer "+wrong)
			if flash := admin.save(t); !strings.Contains(flash, "Nothing was saved: WHAPI refused the new token.") {
				t.Fatalf("flash after a refused token: %q", flash)
			}
			msg := inTab(t, admin, chromedp.Text(chromedp.CSS(`[data-testid=error-partner_token]`)))
			if !strings.HasPrefix(msg, "WHAPI refused this token (401): the current token stays in use.") {
				t.Fatalf("next to the token field: %q", msg)
			}
			if a.storedToken() != current {
				t.Fatal("a refused token replaced the current one")
			}
			if s := admin.summary(t); s != oldSummary {
				t.Fatalf("the current token's summary changed: %q → %q", oldSummary, s)
			}
			if badge := inTab(t, admin, chromedp.Text(chromedp.CSS(`[data-testid=verify-status]`))); badge != "Verified" {
				t.Fatalf("verify-status badge says %q", badge)
			}
			admin.requireNoToken(t, current)
			admin.screenshot(t, "settings-token-refused.png")

			// Pasted again, "Save it anyway" replaces it.
			admin.settled(t)
			admin.paste(t, "Bearer "+wrong)
			if flash := admin.saveBy(t, `#settings [data-testid=save-anyway]`); !strings.Contains(flash, "Saved anyway, as you asked") {
				t.Fatalf("flash after saving anyway: %q", flash)
			}
			if a.storedToken() != "Bearer "+wrong {
				t.Fatal("save it anyway did not replace the token")
			}
			if badge := inTab(t, admin, chromedp.Text(chromedp.CSS(`[data-testid=verify-status]`))); badge != "Refused by WHAPI" {
				t.Fatalf("verify-status badge says %q", badge)
			}
			admin.requireNoToken(t, wrong)
			if inTab(t, admin, chromedp.Evaluate[bool](`document.querySelector('[data-testid=save-anyway]') !== null`)) {
				t.Fatal("the page still offers to save anyway")
			}
		}},
	}
	// Each check needs only the admin signed in on the settings page.
	checks := []step{
		{"a post without the CSRF token is refused", func(t *testing.T) {
			threshold := func() int64 {
				st, err := a.store.Settings(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				return st.LowBalanceThreshold
			}
			before := threshold()
			if before == 7 {
				t.Fatal("pick another threshold: 7 is the current one")
			}
			const post = `fetch('/admin/settings/whapi', {method: 'POST', headers: %s,
				body: 'low_balance_threshold=7&partner_token='}).then(r => r.status)`
			noToken := strings.Replace(post, "%s", `{'Content-Type': 'application/x-www-form-urlencoded'}`, 1)
			if status := inTab(t, admin, chromedp.Evaluate[int](noToken, chromedp.EvalAwaitPromise)); status != 403 {
				t.Fatalf("post without CSRF: status %d, want 403", status)
			}
			if got := threshold(); got != before {
				t.Fatalf("post without CSRF changed the threshold %d → %d", before, got)
			}
			// The same post with the page's token goes through: the 403
			// above is the missing token, nothing else.
			withToken := strings.Replace(post, "%s", `{'Content-Type': 'application/x-www-form-urlencoded',
				'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]').content}`, 1)
			if status := inTab(t, admin, chromedp.Evaluate[int](withToken, chromedp.EvalAwaitPromise)); status != 200 {
				t.Fatalf("post with CSRF: status %d, want 200 after the redirect", status)
			}
			if got := threshold(); got != 7 {
				t.Fatalf("post with CSRF: threshold %d, want 7", got)
			}
		}},
		{"a customer has no access", func(t *testing.T) {
			customer := admin.newWindow(t, "customer")
			customer.do(t, chromedp.Navigate(a.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
			customer.login(t, "customer@example.com", "My channels")
			res := inTab(t, customer, chromedp.NavigateResponse(a.srv.URL+"/admin/settings/whapi"))
			if res.Status != 403 {
				t.Fatalf("customer on the settings page: status %d, want 403", res.Status)
			}
			if body := inTab(t, customer, chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, "You do not have access") {
				t.Fatalf("the 403 page says %q", body)
			}
			if inTab(t, customer, chromedp.Evaluate[bool](`document.querySelector('#settings, #partner_token, form[action="/admin/settings/whapi"]') !== null`)) {
				t.Fatal("the 403 page shows the settings form")
			}
		}},
		{"a pasted text that is no token shows an error next to the field", func(t *testing.T) {
			before := a.storedToken()
			admin.paste(t, "hello world")
			flash := admin.save(t)
			admin.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=error-partner_token]`)))
			if !strings.Contains(flash, "Nothing was saved") {
				t.Fatalf("flash after a bad token: %q", flash)
			}
			if a.storedToken() != before {
				t.Fatal("a refused token changed the stored one")
			}
			admin.screenshot(t, "settings-error.png")
		}},
	}
	for _, s := range chain {
		if !t.Run(s.name, s.run) {
			return
		}
	}
	for _, s := range checks {
		t.Run(s.name, s.run)
	}
}

// startBrowser starts headless Chromium for the test (testenv.Browser:
// skipped without it, except in CI) and returns its first tab.
func startBrowser(t *testing.T, name string) *browserTab {
	t.Helper()
	allocCtx := testenv.Browser(t)
	// Each action gets the test's deadline (see browserTab.bounded).
	deadline := time.Now().Add(browserBudget)
	if d, ok := t.Deadline(); ok && d.Add(-browserMargin).Before(deadline) {
		deadline = d.Add(-browserMargin)
	}
	return openTab(t, allocCtx, name, deadline)
}

// newWindow opens a tab in a new browser context of b's browser: another
// person, with cookies of their own.
func (b *browserTab) newWindow(t *testing.T, name string) *browserTab {
	t.Helper()
	return openTab(t, b.ctx, name, b.deadline, chromedp.WithNewBrowserContext())
}

// browserTab is one browser tab; all tabs share the deadline of the whole test.
type browserTab struct {
	name     string
	ctx      context.Context
	deadline time.Time

	mu         sync.Mutex
	exceptions []string // uncaught JavaScript errors
}

// openTab opens a tab at 1280×900 in parent: the allocator, or a tab whose
// browser it shares. On failure it saves a screenshot of the tab; the test
// fails if the page throws an uncaught JavaScript error.
func openTab(t *testing.T, parent context.Context, name string, deadline time.Time, opts ...chromedp.ContextOption) *browserTab {
	t.Helper()
	var ctx context.Context
	for attempt := 1; ; attempt++ {
		var cancel context.CancelFunc
		ctx, cancel = chromedp.NewContext(parent, opts...)
		t.Cleanup(cancel)
		// The first action starts the browser (or opens the tab). It runs
		// on the tab's own context, since the browser lives as long as the
		// context of that first call; a timer bounds it instead of a
		// deadline.
		timer := time.AfterFunc(time.Until(deadline), cancel)
		err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900))
		if !timer.Stop() {
			err = fmt.Errorf("no answer before the test's deadline (%s)", browserBudget)
		}
		if err == nil {
			break
		}
		// Chromium now and then dies as it starts on a loaded machine
		// (crashpad reports it before the first page): that is not the
		// test's subject, so a new one is started, twice at most.
		if attempt < 3 && strings.Contains(err.Error(), "chrome failed to start") {
			t.Logf("%s tab: Chromium died as it started (attempt %d), starting it again: %.200v", name, attempt, err)
			cancel()
			continue
		}
		t.Fatalf("%s tab: starting the browser: %v", name, err)
	}
	b := &browserTab{name: name, ctx: ctx, deadline: deadline}
	if err := chromedp.Listen(ctx, b.onEvent); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, e := range b.exceptions {
			t.Errorf("%s tab: uncaught JavaScript error: %s", b.name, e)
		}
		if t.Failed() {
			b.failureScreenshot(t)
		}
	})
	return b
}

func (b *browserTab) onEvent(ev any) {
	if e, ok := ev.(*runtime.EventExceptionThrown); ok {
		msg := e.ExceptionDetails.Text
		if ex := e.ExceptionDetails.Exception; ex != nil && ex.Description != "" {
			msg += " " + ex.Description
		}
		b.mu.Lock()
		b.exceptions = append(b.exceptions, msg)
		b.mu.Unlock()
	}
}

// browserActionTimeout bounds one action, so that a wait that never ends fails
// the test with time left for its screenshot; a minute, so that a busy
// machine does not.
const browserActionTimeout = time.Minute

// bounded is the tab's context for one action: at most browserActionTimeout, and
// never past the test's deadline.
func (b *browserTab) bounded() (context.Context, context.CancelFunc) {
	d := time.Now().Add(browserActionTimeout)
	if b.deadline.Before(d) {
		d = b.deadline
	}
	return context.WithDeadline(b.ctx, d)
}

// do runs the actions in order and fails the test at the first error.
func (b *browserTab) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	inTab(t, b, chromedp.Steps(steps...))
}

// inTab runs one action in the tab and returns its value; it fails the test on error.
func inTab[T any](t *testing.T, b *browserTab, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := b.bounded()
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s tab: %v", b.name, err)
	}
	return v
}

// follow runs steps that make the tab load another page (a link, a plain
// form, a redirect) and waits until that page has loaded, so that what
// comes next never queries the page being left (chromedp answers "No node
// with given id found" or "Cannot find context with specified id" then).
func (b *browserTab) follow(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := b.bounded()
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, steps...); err != nil {
		t.Fatalf("%s tab: loading the next page: %v", b.name, err)
	}
}

// waitJS waits until the JavaScript predicate is true; what says, in the
// failure message, what it waited for.
func (b *browserTab) waitJS(t *testing.T, what, predicate string) {
	t.Helper()
	ctx, cancel := b.bounded()
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate)); err != nil {
		t.Fatalf("%s tab: waiting for %s: %v", b.name, what, err)
	}
}

// login signs in through the form of the login page on screen and waits
// for the start page, whose heading is wantH1.
func (b *browserTab) login(t *testing.T, email, wantH1 string) {
	t.Helper()
	b.do(t,
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
	)
	b.follow(t, chromedp.Click(chromedp.CSS(`.login-card button[type=submit]`)))
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`header .topbar-user`)))
	if h1 := inTab(t, b, chromedp.Text(chromedp.CSS("main h1"))); h1 != wantH1 {
		t.Fatalf("after login the page is %q, want %q", h1, wantH1)
	}
}

// paste puts text into the token field as a paste would, and checks that
// the field holds all of it.
func (b *browserTab) paste(t *testing.T, text string) {
	t.Helper()
	b.do(t, chromedp.SetValue(chromedp.ID("partner_token"), text))
	if got := inTab(t, b, chromedp.Value(chromedp.ID("partner_token"))); got != text {
		t.Fatalf("the token field holds %d characters, want %d", len(got), len(text))
	}
}

// htmxIdle is true when htmx has nothing in flight and has bound what it
// swapped in: htmx 2 processes new elements only when they settle (20 ms
// after the swap; until then they carry htmx-added), so a click on a form
// swapped in a moment ago would submit natively and reload the page.
const htmxIdle = `document.querySelector('.htmx-request, .htmx-swapping, .htmx-added, .htmx-settling') === null`

// settled waits until htmx is idle (htmxIdle): call it before clicking
// into content that htmx has just swapped in.
func (b *browserTab) settled(t *testing.T) {
	t.Helper()
	b.waitJS(t, "htmx to settle", htmxIdle)
}

// save clicks Save and waits for HTMX to swap in the answer; it returns the
// flash message. It fails the test if the page was reloaded instead, or if
// HTMX got an answer it did not show.
func (b *browserTab) save(t *testing.T) string {
	t.Helper()
	return b.saveBy(t, `#settings form[action="/admin/settings/whapi"] button[type=submit]`)
}

// saveBy is save with another button of the form (e.g. "Save it anyway").
func (b *browserTab) saveBy(t *testing.T, button string) string {
	t.Helper()
	b.do(t,
		chromedp.Evaluate[chromedp.Void](`window.__marker = 1; window.__htmxError = 0;
			document.getElementById('flash').replaceChildren();
			document.addEventListener('htmx:responseError', e => { window.__htmxError = e.detail.xhr.status }, {once: true})`),
		chromedp.Click(chromedp.CSS(button)),
	)
	b.waitJS(t, "the answer to Save to be swapped in (a flash message, no request in flight)",
		`window.__htmxError || (document.querySelector('#flash .alert') !== null && `+htmxIdle+`)`)
	if !inTab(t, b, chromedp.Evaluate[bool](`window.__marker === 1`)) {
		t.Fatal("Save reloaded the whole page instead of an HTMX swap")
	}
	if status := inTab(t, b, chromedp.Evaluate[int](`window.__htmxError`)); status != 0 {
		t.Fatalf("the server answered Save with %d, but HTMX did not swap that answer in (htmx:responseError): the user sees no reaction", status)
	}
	return inTab(t, b, chromedp.Text(chromedp.CSS(`#flash .alert`)))
}

// summary is the token summary line of the settings page.
func (b *browserTab) summary(t *testing.T) string {
	t.Helper()
	return inTab(t, b, chromedp.Text(chromedp.CSS(`[data-testid=token-summary]`)))
}

// requireNoToken checks that the field is empty and that the page shows
// only the masked hint of tok.
func (b *browserTab) requireNoToken(t *testing.T, tok string) {
	t.Helper()
	if v := inTab(t, b, chromedp.Value(chromedp.ID("partner_token"))); v != "" {
		t.Fatalf("the token field still holds %d characters after the save", len(v))
	}
	if s := b.summary(t); !strings.Contains(s, "…"+tok[len(tok)-4:]) {
		t.Fatalf("token summary %q lacks the masked hint", s)
	}
	html := inTab(t, b, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	for _, piece := range []string{tok[len(tok)-40:], tok[100:140]} {
		if strings.Contains(html, piece) {
			t.Fatal("the page's HTML holds the token")
		}
	}
}

// screenshot writes the page (1280 wide, at least 900 high) to
// docs/screenshots/name, only when WHAPIDESK_SCREENSHOTS=1, so that normal
// runs leave the repository alone.
func (b *browserTab) screenshot(t *testing.T, name string) {
	t.Helper()
	if os.Getenv("WHAPIDESK_SCREENSHOTS") != "1" {
		return
	}
	// Move the mouse away, so that nothing shows a hover state.
	b.do(t, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 0, 0))
	png := inTab(t, b, chromedp.FullScreenshot(100))
	path := filepath.Join("..", "docs", "screenshots", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// failureScreenshot saves what the tab shows. It goes to a directory that
// outlives the test (t.TempDir is deleted when the test ends).
func (b *browserTab) failureScreenshot(t *testing.T) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("%s tab: no failure screenshot: %v", b.name, err)
		return
	}
	dir, err := os.MkdirTemp("", "whapidesk-browser-")
	if err == nil {
		path := filepath.Join(dir, b.name+".png")
		if err = os.WriteFile(path, png, 0o644); err == nil {
			t.Logf("%s tab: failure screenshot: %s", b.name, path)
			return
		}
	}
	t.Logf("%s tab: saving the failure screenshot: %v", b.name, err)
}
