package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserConnectLink opens a connect link in a fresh headless Chromium
// that has never signed in: the QR code shows (from the link's own path),
// and nothing of the account; the simulator links the phone and the page
// turns "Connected" by itself; opened again, the link says it was used and
// shows nothing else.
func TestBrowserConnectLink(t *testing.T) {
	tab := startBrowser(t, "link")
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("cust@example.com", true)
	ch := f.channel(u, "Sales")
	f.channel(u, "Support desk")
	l, err := f.svc.FreshConnectLink(context.Background(), ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	link := f.srv.URL + l.URL // no public address in tests: the path alone

	tab.follow(t, chromedp.Navigate(link))
	tab.waitJS(t, "the QR image", `(() => { const img = document.querySelector('#connect-status img.qr');
		return img !== null && img.complete && img.naturalWidth > 0; })()`)
	if src := inTab(t, tab, chromedp.Evaluate[string](`document.querySelector('#connect-status img.qr').getAttribute('src')`)); !strings.HasPrefix(src, "/l/") {
		t.Fatalf("QR image from %q, want the link's own path", src)
	}
	text := inTab(t, tab, chromedp.Text(chromedp.CSS("body")))
	for _, want := range []string{"Link your phone to “Sales”", "This link is valid until", "30 minutes", "Link with phone number instead"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the page does not say %q:\n%s", want, text)
		}
	}
	for _, not := range []string{"cust@example.com", "Support desk", "My channels", "Log out"} {
		if strings.Contains(text, not) {
			t.Fatalf("the link's page shows %q", not)
		}
	}
	if n := inTab(t, tab, chromedp.Evaluate[int](`document.querySelectorAll('nav, a[href^="/app"], a[href^="/admin"]').length`)); n != 0 {
		t.Fatalf("%d links into the app on the link's page", n)
	}
	tab.do(t, chromedp.Evaluate[chromedp.Void](`window.__marker = 1`))

	// The phone scans; the page's poll sees it.
	if err := f.sim.LinkChannel(f.reload(ch).RemoteID(), "15551234567"); err != nil {
		t.Fatal(err)
	}
	f.advance(3 * time.Second)
	tab.waitJS(t, "the page to say Connected", `document.querySelector('#connect-status[data-step=connected]') !== null`)
	if !inTab(t, tab, chromedp.Evaluate[bool](`window.__marker === 1`)) {
		t.Fatal("the page reloaded")
	}

	// The link is dead now.
	tab.follow(t, chromedp.Navigate(link))
	tab.waitJS(t, "the used link's page", `document.querySelector('[data-testid=link-ended]') !== null`)
	text = inTab(t, tab, chromedp.Text(chromedp.CSS("body")))
	if !strings.Contains(text, "This link was used") || strings.Contains(text, "Sales") {
		t.Fatalf("the used link says:\n%s", text)
	}
	if n := inTab(t, tab, chromedp.Evaluate[int](`document.querySelectorAll('img.qr, #pairing').length`)); n != 0 {
		t.Fatal("the used link still shows a code or the pairing form")
	}
}
