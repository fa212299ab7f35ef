package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"whapidesk/whapi/whapisim"
)

// TestBrowserTestMessage drives the test message card in a real headless
// Chromium: on the connect page of a line waiting for its phone there is
// no card; once the phone links, the card appears by itself; a bad number
// is an error next to the field; a good one goes out, the button disabled
// and "Sending…" shown while WHAPI answers, and the card says it was sent
// — all without a reload.
func TestBrowserTestMessage(t *testing.T) {
	tab := startBrowser(t, "customer")
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	f.svc.SetBrand("Acme Lines")
	u := f.customer("cust@example.com", true)
	ch := f.channel(u, "Sales")

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"the connect page of a line without a phone has no card", func(t *testing.T) {
			tab.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
			tab.login(t, "cust@example.com", "My channels")
			tab.do(t, chromedp.Navigate(f.srv.URL+connectPath(ch.ID, "")), chromedp.WaitVisible(chromedp.ID("connect-status")))
			tab.do(t, chromedp.Evaluate[chromedp.Void](`window.__marker = 1`))
			if inTab(t, tab, chromedp.Evaluate[bool](`document.querySelector('[data-testid=test-message]') !== null`)) {
				t.Fatal("a test message card before the phone is linked")
			}
		}},
		{"the card appears once the phone links", func(t *testing.T) {
			f.link(ch, "15551234567")
			f.advance(3 * time.Second) // the app's cached line status goes stale
			tab.waitJS(t, "the test message card", `document.querySelector('[data-testid=test-message] [data-testid=test-message-send]') !== null`)
			tab.settled(t)
			if text := inTab(t, tab, chromedp.Text(chromedp.CSS(`[data-testid=test-message-text]`))); text != "Your line is connected. This is a test message from Acme Lines." {
				t.Fatalf("the card shows the text %q", text)
			}
		}},
		{"a bad number is an error next to the field", func(t *testing.T) {
			tab.do(t,
				chromedp.SetValue(chromedp.ID("test-message-to"), "0770 0900 123"),
				chromedp.Click(chromedp.CSS(`[data-testid=test-message-send]`)),
			)
			tab.waitJS(t, "the field error", `document.querySelector('[data-testid=error-test-message-to]') !== null`)
			tab.settled(t)
			if got := inTab(t, tab, chromedp.Text(chromedp.CSS(`[data-testid=error-test-message-to]`))); !strings.Contains(got, "country code") {
				t.Fatalf("the field error says %q", got)
			}
			if inTab(t, tab, chromedp.Evaluate[string](`document.getElementById('test-message-to').getAttribute('aria-invalid')`)) != "true" {
				t.Fatal("the field is not marked invalid")
			}
			if n := len(f.sim.Messages()); n != 0 {
				t.Fatalf("%d messages sent", n)
			}
		}},
		{"a good number is sent, with progress while WHAPI answers", func(t *testing.T) {
			// WHAPI takes a second: the button is disabled and "Sending…"
			// shows meanwhile.
			f.sim.InjectFault(whapisim.Fault{Method: "POST", Path: "/messages/text", Kind: whapisim.FaultLatency, Delay: time.Second})
			tab.do(t,
				chromedp.SetValue(chromedp.ID("test-message-to"), "+44 7700 900123"),
				chromedp.Click(chromedp.CSS(`[data-testid=test-message-send]`)),
			)
			tab.waitJS(t, "the button disabled and the indicator shown while sending",
				`document.querySelector('[data-testid=test-message-send]').disabled &&
				 document.getElementById('test-message-indicator').classList.contains('htmx-request')`)
			tab.waitJS(t, "the result", `document.querySelector('[data-testid=test-message-result][data-outcome=sent]') !== null`)
			tab.settled(t)
			if got := inTab(t, tab, chromedp.Text(chromedp.CSS(`[data-testid=test-message-result]`))); !strings.Contains(got, "Sent to +44••••••••23.") {
				t.Fatalf("the result says %q", got)
			}
			if got := inTab(t, tab, chromedp.Text(chromedp.CSS(`[data-testid=test-message-left]`))); got != "You can send 4 more test messages this hour." {
				t.Fatalf("left %q", got)
			}
			if !inTab(t, tab, chromedp.Evaluate[bool](`window.__marker === 1`)) {
				t.Fatal("the page reloaded")
			}
			if m := f.sim.Messages(); len(m) != 1 || m[0].To != "447700900123" {
				t.Fatalf("WHAPI got %+v", m)
			}
			tab.screenshot(t, "connect-test-message.png")
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}
