package handlers

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// TestBrowserConnectPage drives the customer's side in a real headless
// Chromium: a customer signs in, adds a channel from the dashboard, lands
// on its connect page, waits through "Preparing your line…", sees a QR
// code; the code expires (3 s lifetime) and a new image replaces it
// without a reload; the simulator links the phone and the page turns
// "Connected" with the number, with no action by the user, and stops
// polling.
//
// The simulator's clock is the test's: the line starts and the code
// expires when the test moves it, and the page, polling on its own, is
// waited for. (On the wall clock, a busy machine could take the 3 s
// start-up to show the page, which then never said "Preparing".)
//
// WHAPIDESK_SCREENSHOTS=1 also writes app-*.png and connect-*.png (desktop
// 1280×900 and phone 390×844) to docs/screenshots/.
func TestBrowserConnectPage(t *testing.T) {
	tab := startBrowser(t, "customer")
	const lifetime, startup = 3 * time.Second, 3 * time.Second
	f := newCustFix(t, func(o *custOptions) {
		o.sim.QRLifetime = lifetime
		o.sim.StartupDelay = startup
		o.manualClock = true
	})
	u := f.customer("cust@example.com", true)
	f.channel(u, "Support") // a second channel, waiting for its phone

	// phone takes a screenshot at phone size, then goes back to desktop.
	phone := func(t *testing.T, name string) {
		t.Helper()
		tab.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		tab.screenshot(t, name)
		tab.do(t, chromedp.EmulateViewport(1280, 900))
	}
	// qrPixels is the QR image on screen, drawn to a canvas, as a data URL.
	const qrPixels = `(() => { const img = document.querySelector('#connect-status img.qr');
		if (!img || !img.complete || img.naturalWidth === 0) return '';
		const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
		c.getContext('2d').drawImage(img, 0, 0); return c.toDataURL(); })()`
	var firstSrc, firstPixels string

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"the customer signs in and sees the dashboard", func(t *testing.T) {
			tab.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
			tab.login(t, "cust@example.com", "My channels")
			usage := inTab(t, tab, chromedp.Text(chromedp.CSS(`[data-testid=plan-usage]`)))
			if !strings.Contains(usage, "1 of 3 channels") {
				t.Fatalf("plan usage: %q", usage)
			}
		}},
		{"adding a channel leads to its connect page", func(t *testing.T) {
			tab.do(t,
				chromedp.SendKeys(chromedp.ID("channel-name"), "Sales"),
				chromedp.SendKeys(chromedp.ID("channel-phone"), "+1 555 123 4567"),
				chromedp.Click(chromedp.CSS(`#create-channel button[type=submit]`)),
				chromedp.WaitVisible(chromedp.ID("connect-status")),
			)
			if h1 := inTab(t, tab, chromedp.Text(chromedp.CSS("main h1"))); h1 != "Link your phone to “Sales”" {
				t.Fatalf("h1 %q", h1)
			}
			if flash := inTab(t, tab, chromedp.Text(chromedp.CSS(`#flash .alert`))); !strings.Contains(withoutIsolates(flash), "“Sales” is ready") { // the name is isolated (i18n.Isolate)
				t.Fatalf("flash %q", flash)
			}
			tab.do(t, chromedp.Evaluate[chromedp.Void](`window.__marker = 1`))
			// The line takes 3 s to start: the page waits instead of failing.
			// (The simulator's clock stands still until the next step.)
			if live := inTab(t, tab, chromedp.Text(chromedp.ID("connect-announce"))); live != "Preparing your line…" {
				t.Fatalf("right after creation the live region says %q", live)
			}
			tab.screenshot(t, "connect-preparing.png")
		}},
		{"a QR code appears by itself", func(t *testing.T) {
			f.advance(startup) // the line is up
			tab.waitJS(t, "the QR image", qrPixels+` !== ''`)
			firstSrc = inTab(t, tab, chromedp.Evaluate[string](`document.querySelector('#connect-status img.qr').getAttribute('src')`))
			firstPixels = inTab(t, tab, chromedp.Evaluate[string](qrPixels))
			if !strings.HasPrefix(firstSrc, "/app/channels/") {
				t.Fatalf("QR image from %q, want our origin", firstSrc)
			}
			if alt := inTab(t, tab, chromedp.Evaluate[string](`document.querySelector('img.qr').alt`)); !strings.Contains(alt, "QR code") {
				t.Fatalf("alt %q", alt)
			}
			if live := inTab(t, tab, chromedp.Text(chromedp.ID("connect-announce"))); live != "Scan the code with WhatsApp on your phone." {
				t.Fatalf("live region says %q", live)
			}
			tab.do(t, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
			tab.screenshot(t, "connect-desktop.png")
			phone(t, "connect-phone.png")
		}},
		{"the expired code is replaced without a reload", func(t *testing.T) {
			f.advance(lifetime) // the code expires
			tab.waitJS(t, "a new QR image",
				`document.querySelector('#connect-status img.qr') !== null &&
				 document.querySelector('#connect-status img.qr').getAttribute('src') !== `+jsString(firstSrc)+` &&
				 `+qrPixels+` !== ''`)
			if pixels := inTab(t, tab, chromedp.Evaluate[string](qrPixels)); pixels == firstPixels {
				t.Fatal("the new QR image shows the same code")
			}
			if !inTab(t, tab, chromedp.Evaluate[bool](`window.__marker === 1`)) {
				t.Fatal("the page reloaded")
			}
		}},
		{"a pairing code instead, without a reload", func(t *testing.T) {
			tab.do(t,
				chromedp.SetValue(chromedp.ID("pairing-phone"), "+1 555 123 4567"),
				chromedp.Click(chromedp.CSS(`#pairing button[type=submit]`)),
			)
			tab.waitJS(t, "the pairing code", `document.querySelector('[data-testid=pairing-code]') !== null`)
			code := inTab(t, tab, chromedp.Text(chromedp.CSS(`[data-testid=pairing-code]`)))
			if len(code) != 9 || code[4] != '-' {
				t.Fatalf("pairing code %q", code)
			}
			steps := inTab(t, tab, chromedp.Text(chromedp.CSS(`[data-testid=pairing-result]`)))
			if !strings.Contains(steps, "Link with phone number instead") || !strings.Contains(steps, "Linked devices") {
				t.Fatalf("the steps say %q", steps)
			}
			if !inTab(t, tab, chromedp.Evaluate[bool](`window.__marker === 1`)) {
				t.Fatal("the page reloaded")
			}
			tab.do(t, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
			tab.screenshot(t, "connect-pairing.png")
		}},
		{"linking the phone turns the page to Connected by itself", func(t *testing.T) {
			chans, err := f.store.ChannelsByUser(context.Background(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(chans, func(c models.Channel) bool { return c.Name == "Sales" })
			if i < 0 {
				t.Fatalf("no channel Sales: %+v", chans)
			}
			if err := f.sim.LinkChannel(chans[i].RemoteID(), "15551234567"); err != nil {
				t.Fatal(err)
			}
			// Time passes: the app's answer from the gate (kept 2 s for
			// every viewer) goes stale, and the next poll asks again.
			f.advance(lifetime)
			tab.waitJS(t, "the page to say Connected, with the number",
				`document.querySelector('#connect-status[data-step=connected] [data-testid=linked-phone]') !== null`)
			if got := inTab(t, tab, chromedp.Text(chromedp.CSS(`[data-testid=connected]`))); !strings.Contains(got, "Connected.") || !strings.Contains(got, "+15551234567") {
				t.Fatalf("connected box says %q", got)
			}
			if live := inTab(t, tab, chromedp.Text(chromedp.ID("connect-announce"))); live != "Connected: +15551234567" {
				t.Fatalf("live region says %q", live)
			}
			if !inTab(t, tab, chromedp.Evaluate[bool](`window.__marker === 1`)) {
				t.Fatal("the page reloaded")
			}
			if title := inTab(t, tab, chromedp.Text(chromedp.ID("connect-title"))); title != "Your phone is linked" {
				t.Fatalf("card title %q", title)
			}
			if inTab(t, tab, chromedp.Evaluate[bool](`document.getElementById('pairing') !== null`)) {
				t.Fatal("the pairing card still shows once connected")
			}
			tab.screenshot(t, "connect-connected.png")
		}},
		{"polling stops once connected", func(t *testing.T) {
			const polls = `performance.getEntriesByType('resource').filter(e => e.name.includes('/connect/status')).length`
			before := inTab(t, tab, chromedp.Evaluate[int](polls))
			time.Sleep(2500 * time.Millisecond)
			if after := inTab(t, tab, chromedp.Evaluate[int](polls)); after != before {
				t.Fatalf("%d more polls after Connected", after-before)
			}
		}},
		{"the dashboard shows both channels in plain words", func(t *testing.T) {
			tab.do(t, chromedp.Navigate(f.srv.URL+"/app"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=channels]`)))
			text := inTab(t, tab, chromedp.Text(chromedp.CSS(`[data-testid=channels]`)))
			for _, want := range []string{"Sales", "Connected", "+15551234567", "Support", "Waiting for your phone", "days left"} {
				if !strings.Contains(text, want) {
					t.Fatalf("the channel list does not say %q: %s", want, text)
				}
			}
			if usage := inTab(t, tab, chromedp.Text(chromedp.CSS(`[data-testid=plan-usage]`))); !strings.Contains(usage, "2 of 3 channels") {
				t.Fatalf("plan usage %q", usage)
			}
			tab.screenshot(t, "app-desktop.png")
			phone(t, "app-phone.png")
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestBrowserConnectPageByWebhook: the connect page turns "Connected" at
// the first poll after WHAPI's webhook — the page polls every second, so
// within 2 s — with polling of the gate switched off in two ways: the
// simulator hangs /health, and the test's clock stands still, so the app's
// cached status ("QR") never goes stale on its own. Only the webhook, sent
// by the simulator by real HTTP when the phone links, can tell the page.
// The test counts the page's polls instead of timing them, so a busy
// machine slows it down but cannot fail it.
func TestBrowserConnectPageByWebhook(t *testing.T) {
	tab := startBrowser(t, "customer")
	f := newCustFix(t, func(o *custOptions) {
		o.manualClock = true
		o.hooks = true
	})
	u := f.customer("cust@example.com", true)
	ch := f.channel(u, "Sales")
	f.hookSecret(ch) // registered at WHAPI

	tab.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	tab.login(t, "cust@example.com", "My channels")
	tab.do(t, chromedp.Navigate(f.srv.URL+connectPath(ch.ID, "")), chromedp.WaitVisible(chromedp.ID("connect-status")))
	tab.waitJS(t, "the QR code", `document.querySelector('#connect-status[data-step=qr] img.qr') !== null`)
	if every := inTab(t, tab, chromedp.Evaluate[string](`document.getElementById('connect-status').getAttribute('hx-trigger')`)); !strings.HasPrefix(every, "every 1s") {
		t.Fatalf("the page polls on %q, want every second (a webhook must show within 2 s)", every)
	}
	// Every answer to a poll, in order, with what it showed.
	tab.do(t, chromedp.Evaluate[chromedp.Void](`window.__polls = [];
		document.body.addEventListener('htmx:afterRequest', e => {
			if ((e.detail.pathInfo.requestPath || '').includes('/connect/status')) window.__polls.push(e.detail.xhr.status);
		})`))
	const polls = `window.__polls.length`

	f.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/health", Kind: whapisim.FaultHang, Times: 1000})
	health := f.sim.CountRequests("GET", "/health")
	if err := f.sim.LinkChannel(ch.RemoteID(), "15551234567"); err != nil {
		t.Fatal(err)
	}
	delivered := waitHooks(t, f.sim, 2) // the status (AUTH) and users post, answered 200
	answered := inTab(t, tab, chromedp.Evaluate[int](polls))
	tab.waitJS(t, "the page to say Connected, with the number",
		`document.querySelector('#connect-status[data-step=connected] [data-testid=linked-phone]') !== null`)
	after := inTab(t, tab, chromedp.Evaluate[int](polls)) - answered
	t.Logf("the page said Connected %v after the webhook, at poll %d after it", time.Since(delivered), after)
	// One poll may have been in flight when the webhook was applied (it
	// read the old status); the next one must say Connected.
	if after > 2 {
		t.Fatalf("the page said Connected only at the %d. poll answered after the webhook, want the first or second", after)
	}
	if got := inTab(t, tab, chromedp.Text(chromedp.CSS(`[data-testid=connected]`))); !strings.Contains(got, "+15551234567") {
		t.Fatalf("connected box says %q", got)
	}
	if n := f.sim.CountRequests("GET", "/health"); n != health {
		t.Fatalf("the app asked the gate's /health %d times: the webhook alone should have told", n-health)
	}
}
