package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"whapidesk/internal/testenv"
	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// walkStepTimeout bounds one step of the walk: each waits on a condition,
// so the bound only decides how long a stuck walk takes to fail.
const walkStepTimeout = time.Minute

// walker is a person in a browser tab.
type walker struct {
	t    *testing.T
	name string
	ctx  context.Context
}

// startBrowser starts headless Chromium (testenv.Browser: skipped without
// it, except in CI) and returns the context of its first tab, which the
// walkers' tabs share the browser of.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(testenv.Browser(t))
	t.Cleanup(cancel)
	if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("starting the browser: %v", err)
	}
	return ctx
}

// newWalker opens a tab, in a browser context of its own (its own
// cookies), of the browser of root (startBrowser).
func newWalker(t *testing.T, root context.Context, name string) *walker {
	t.Helper()
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	w := &walker{t: t, name: name, ctx: ctx}
	if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("%s: starting the browser: %v", name, err)
	}
	return w
}

// do runs the steps, failing the test with what was being done.
func (w *walker) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, walkStepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Steps(steps...)); err != nil {
		w.t.Fatalf("%s: %s: %v", w.name, what, err)
	}
}

// text is the visible text of the first element matching css, once there
// is one. It is read in one script that finds the element and reads it:
// pages that poll swap their content every second, and a node found in one
// call may be gone by the next ("No node with given id found").
func (w *walker) text(css string) string {
	w.t.Helper()
	sel, err := json.Marshal(css)
	if err != nil {
		w.t.Fatal(err)
	}
	w.waitFor(css, `document.querySelector(`+string(sel)+`) !== null`)
	ctx, cancel := context.WithTimeout(w.ctx, walkStepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(`+string(sel)+`)?.innerText ?? ''`))
	if err != nil {
		w.t.Fatalf("%s: reading %s: %v", w.name, css, err)
	}
	return strings.TrimSpace(s)
}

// waitFor waits until the JavaScript predicate holds.
func (w *walker) waitFor(what, predicate string) {
	w.t.Helper()
	w.do("waiting for "+what, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(walkStepTimeout)))
}

// htmxIdle: nothing of htmx in flight or still settling (see the
// handlers' browser tests: a click on content swapped in a moment ago
// would submit natively).
const htmxIdle = `document.querySelector('.htmx-request, .htmx-swapping, .htmx-added, .htmx-settling') === null`

// signIn signs in on the login page and waits for the signed-in header.
func (w *walker) signIn(base, email, password string) {
	w.t.Helper()
	w.do("signing in as "+email,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(".login-card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("header .topbar-user")),
	)
}

// signOut uses the header's "Log out" and waits for the login page.
func (w *walker) signOut() {
	w.t.Helper()
	w.waitFor("the page to settle", htmxIdle)
	w.do("signing out",
		chromedp.Click(chromedp.CSS("header .topbar-user form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#email")),
	)
}

// screenshot writes the page at width × height to the directory named by
// WHAPIDESK_DEMO_SCREENSHOTS (a directory outside the repository, such as
// /tmp), when it is set; then the tab goes back to 1280×900.
func (w *walker) screenshot(name string, width, height int64) {
	w.t.Helper()
	dir := os.Getenv("WHAPIDESK_DEMO_SCREENSHOTS")
	if dir == "" {
		return
	}
	w.do("resizing", chromedp.EmulateViewport(width, height))
	ctx, cancel := context.WithTimeout(w.ctx, walkStepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		w.t.Fatalf("%s: screenshot: %v", w.name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		w.t.Fatal(err)
	}
	w.t.Logf("screenshot: %s", path)
	w.do("resizing back", chromedp.EmulateViewport(1280, 900))
}

// waitForPage loads url until the JavaScript predicate holds on it, for
// pages that do not refresh themselves, for up to limit.
func (w *walker) waitForPage(what, url, predicate string, limit time.Duration) {
	w.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		w.do("loading "+url, chromedp.Navigate(url))
		ctx, cancel := context.WithTimeout(w.ctx, walkStepTimeout)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](predicate))
		cancel()
		if err != nil {
			w.t.Fatalf("%s: waiting for %s: %v", w.name, what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: %s is not there after %s", w.name, what, limit)
		}
		time.Sleep(500 * time.Millisecond) // between loads of the page
	}
}

// digits keeps the digits of s ("+1 202-555-0142" → "12025550142").
func digits(s string) string { return regexp.MustCompile(`\D`).ReplaceAllString(s, "") }

// waitForOutput waits until the server printed what re matches on stdout.
func waitForOutput(t *testing.T, s *server, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(walkStepTimeout)
	for {
		if m := re.FindStringSubmatch(s.stdout.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo never printed %s:\n%s", re, s.stdout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// simBalance is the partner balance the demo's simulated WHAPI holds,
// read from its state file.
func simBalance(t *testing.T, dir string) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "demo-whapisim.json"))
	if err != nil {
		t.Fatalf("the simulator's state file: %v", err)
	}
	var st struct{ Balance int }
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st.Balance
}

// TestDemoWalk walks the demo as a person trying it would: the admin picks
// the project; a customer adds a channel, lands on its connect page with
// the QR code, presses "Simulate scanning" (there is no phone), and sees
// "Connected" with the number, told by the simulated WHAPI's webhook.
// Meanwhile, once the project is picked, the demo gives Bruno a sample
// line and links and drops a phone on it: his dashboard shows it
// disconnected. The demo is stopped and started again on the same
// directory: after a sync, both channels are still there, Amal's still
// connected, with its days, and no day went back to the partner's balance;
// a minute after the drop, Bruno's line is on the admin's Attention list.
func TestDemoWalk(t *testing.T) {
	alloc := startBrowser(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")

	s := startServer(t, "demo", "--db", db)
	adminPassword := waitForOutput(t, s, passwordLine)[1]
	customerPassword := waitForOutput(t, s, customerPasswordLine)[1]
	if out := s.stdout.String(); !strings.Contains(out, "Demo only") || !strings.Contains(out, "demo-whapisim.json") ||
		!strings.Contains(out, "Webhooks go to "+s.base) || !strings.Contains(out, `Bruno's line "Front desk" is linked and dropped`) {
		t.Errorf("the demo's instructions do not tell how to reach Connected, where webhooks go, where the channels are kept, or of the sample line:\n%s", out)
	}

	// The admin's first step: pick the project (one click).
	admin := newWalker(t, alloc, "admin")
	admin.signIn(s.base, "admin@example.com", adminPassword)
	// The project list is swapped in by htmx once WHAPI answers: the
	// button is clicked once that swap has settled (a button found during
	// it may be replaced before the click lands: "Could not find node").
	project := `[data-testid=project-row][data-project-id="` + whapisim.DefaultProjectID + `"] button`
	admin.do("opening WHAPI Settings",
		chromedp.Click(chromedp.CSS(`nav a[href="/admin/settings/whapi"]`)),
		chromedp.WaitVisible(chromedp.CSS(project)),
	)
	admin.waitFor("the project list to settle", htmxIdle)
	pickedAt := time.Now()
	admin.do("picking the project in WHAPI Settings",
		chromedp.Click(chromedp.CSS(project)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=project-in-use]`)),
	)
	admin.signOut()

	// Amal adds a channel and lands on its connect page, with the QR code
	// and the demo's box under it.
	amal := newWalker(t, alloc, "amal")
	amal.signIn(s.base, "amal@example.com", customerPassword)
	amal.do("adding a channel",
		chromedp.SendKeys(chromedp.CSS("#channel-name"), "Shop"),
		chromedp.Click(chromedp.CSS("#create-channel button[type=submit]")),
	)
	amal.do("landing on the connect page", chromedp.WaitVisible(chromedp.CSS(`#connect-status`)))
	amal.waitFor("the QR code on the connect page", `document.querySelector('#connect-status[data-step="qr"] img.qr') !== null`)
	amal.do("finding the demo box", chromedp.WaitVisible(chromedp.CSS(`[data-testid=demo-scan-button]`)))
	if box := amal.text(`[data-testid=demo-scan]`); !strings.Contains(box, "Demo only") || !strings.Contains(box, "There is no phone here.") {
		t.Errorf("the demo box is not clearly marked as the demo's: %q", box)
	}
	amal.screenshot("demo-connect-desktop.png", 1280, 900)
	amal.screenshot("demo-connect-phone.png", 390, 844)

	amal.do("simulating the scan", chromedp.Click(chromedp.CSS(`[data-testid=demo-scan-button]`)))
	amal.do("waiting for Connected", chromedp.WaitVisible(chromedp.CSS(`[data-testid=connected]`)))
	if phone := amal.text(`[data-testid=linked-phone]`); digits(phone) != whapisim.DemoPhone {
		t.Errorf("the connect page shows the number %q, want the demo's %s", phone, whapisim.DemoPhone)
	}
	if n := len(regexp.MustCompile(`path=/hooks/whapi/… status=200`).FindAllString(s.stderr.String(), -1)); n == 0 {
		t.Errorf("the log shows no webhook arriving:\n%s", s.stderr)
	}
	amal.screenshot("demo-connected.png", 1280, 900)
	amal.do("opening the dashboard", chromedp.Navigate(s.base+"/app"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=channel]`)))
	daysBefore := amal.text(`[data-testid=channel] [data-testid=days-left]`)

	// Bruno's sample line, made, linked and dropped by the demo since the
	// pick: his dashboard says it is disconnected.
	bruno := newWalker(t, alloc, "bruno")
	bruno.signIn(s.base, "bruno@example.com", customerPassword)
	bruno.waitForPage("Bruno's sample line, disconnected", s.base+"/app",
		`[...document.querySelectorAll('[data-testid=channel]')].some(c => c.querySelector('h3').textContent.trim() === 'Front desk' &&
			(c.querySelector('[data-testid=link-line]')?.textContent ?? '').trim().startsWith('Disconnected'))`, 2*time.Minute)
	balanceBefore := simBalance(t, dir)
	s.stop(t)

	// Started again on the same directory.
	s2 := startServer(t, "demo", "--db", db)
	waitForOutput(t, s2, regexp.MustCompile(`already seeded`))
	admin2 := newWalker(t, alloc, "admin after the restart")
	admin2.signIn(s2.base, "admin@example.com", adminPassword)
	admin2.waitFor("the dashboard", htmxIdle)
	admin2.do("syncing with the simulated WHAPI",
		chromedp.Click(chromedp.CSS(`form[action="/admin/sync"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#flash .alert`)),
	)
	if flash := admin2.text(`#flash .alert`); !strings.Contains(flash, "2 channels refreshed") || strings.Contains(flash, "no longer at WHAPI") {
		t.Errorf("the sync after the restart says %q, want both channels (Amal's and Bruno's) refreshed and none gone", flash)
	}

	amal2 := newWalker(t, alloc, "amal after the restart")
	amal2.signIn(s2.base, "amal@example.com", customerPassword)
	amal2.do("finding the channel", chromedp.WaitVisible(chromedp.CSS(`[data-testid=channel]`)))
	card := amal2.text(`[data-testid=channel]`)
	if !strings.Contains(card, "Shop") || !strings.Contains(digits(card), whapisim.DemoPhone) {
		t.Errorf("after the restart the channel card reads %q, want Shop with its linked number", card)
	}
	if days := amal2.text(`[data-testid=channel] [data-testid=days-left]`); days != daysBefore {
		t.Errorf("days left after the restart %q, want %q", days, daysBefore)
	}
	amal2.do("opening the connection",
		chromedp.Click(chromedp.CSS(`[data-testid=channel] a[href$="/connect"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=connected]`)),
	)

	// A minute (the demo's alert delay) after the drop, Bruno's line is on
	// the Attention list, with the button for a fresh connect link.
	admin2.waitForPage("Bruno's line on the Attention list", s2.base+"/admin/attention",
		`[...document.querySelectorAll('[data-testid=attention-disconnected]')].some(r =>
			r.querySelector('[data-testid=attention-subject]').textContent.trim() === 'Front desk' &&
			r.textContent.includes('bruno@example.com') && r.querySelector('[data-testid=attention-link]') !== null)`, 3*time.Minute)
	if intro := admin2.text(`.page-header + p`); !strings.Contains(intro, "disconnected for more than 1 minute") {
		t.Errorf("the Attention page says %q, want the demo's delay of 1 minute", intro)
	}
	s2.stop(t)

	if got := simBalance(t, dir); got != balanceBefore {
		t.Errorf("the simulated partner balance went from %d to %d across the restart: days were returned", balanceBefore, got)
	}
	store := openTestStore(t, db)
	rows, _, err := store.ListChannels(t.Context(), models.ChannelFilter{})
	if err != nil || len(rows) != 2 {
		t.Fatalf("channels after the restart: %d, %v; want Amal's and Bruno's sample", len(rows), err)
	}
	bruno2, err := store.UserByEmail(t.Context(), "bruno@example.com")
	if err != nil {
		t.Fatal(err)
	}
	checkSampleLine(t, store, bruno2.ID, pickedAt)
	pb, err := store.PartnerBalance(t.Context())
	if err != nil || pb.Returned != 0 {
		t.Errorf("the partner ledger after the restart: %+v, %v; want nothing returned", pb, err)
	}
}
