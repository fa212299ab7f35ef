package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"whapidesk/provision"
)

// The pairing form: five codes, then the sixth is refused beside the
// number with when to ask again; WHAPI is not asked.
func TestConnectPairingCodeLimit(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("alice@example.com", true)
	ch := f.channel(u, "Sales")
	c := f.signedIn("alice@example.com")
	page, action := connectPath(ch.ID, ""), connectPath(ch.ID, "/pairing")
	for range provision.PairingPerChannel {
		r := c.submit(page, action, url.Values{"phone": {"+1 555 123 4567"}})
		custWant(t, r, http.StatusOK)
		custHas(t, r.body, "Your code for +15551234567:")
		f.advance(time.Minute)
	}
	r := c.submit(page, action, url.Values{"phone": {"+1 555 123 4567"}})
	custWant(t, r, http.StatusOK)
	custHas(t, r.body, "You can ask for another code in 5 minutes.")
	custHasNot(t, r.body, "Your code for")
	if !strings.Contains(r.body, `data-testid="error-pairing-phone"`) || !strings.Contains(r.body, `value="+1 555 123 4567"`) {
		t.Fatal("the refusal is not next to the number, or the number was lost")
	}
	if n := f.sim.CountRequests("GET", "/users/login/15551234567"); n != provision.PairingPerChannel {
		t.Fatalf("WHAPI was asked for %d codes", n)
	}
}

// TestBrowserPairingCodeLimit: in a real Chromium, a customer asks for
// codes on the connect page (htmx swaps each answer into the card); the
// sixth is refused beside the number, in the card, without a reload.
func TestBrowserPairingCodeLimit(t *testing.T) {
	tab := startBrowser(t, "customer")
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("cust@example.com", true)
	ch := f.channel(u, "Sales")
	tab.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	tab.login(t, "cust@example.com", "My channels")
	tab.follow(t, chromedp.Navigate(f.srv.URL+connectPath(ch.ID, "")))
	tab.do(t, chromedp.WaitVisible(chromedp.ID("pairing-phone")), chromedp.Evaluate[chromedp.Void](`window.__marker = 1`))
	ask := func() {
		t.Helper()
		tab.settled(t)
		tab.do(t,
			chromedp.Evaluate[chromedp.Void](`document.getElementById('pairing').dataset.asked = '1'`),
			chromedp.SetValue(chromedp.ID("pairing-phone"), "+1 555 123 4567"),
			chromedp.Click(chromedp.CSS(`#pairing button[type=submit]`)),
		)
		// The card is swapped for a new one (without the mark).
		tab.waitJS(t, "the card's answer", `document.getElementById('pairing') !== null && !document.getElementById('pairing').dataset.asked`)
	}
	for i := range provision.PairingPerChannel {
		ask()
		if inTab(t, tab, chromedp.Evaluate[bool](`document.querySelector('[data-testid=pairing-code]') !== null`)) != true {
			t.Fatalf("code %d not shown", i+1)
		}
		f.advance(time.Minute)
	}
	ask()
	msg := inTab(t, tab, chromedp.Text(chromedp.CSS(`[data-testid=error-pairing-phone]`)))
	if msg != "You can ask for another code in 5 minutes." {
		t.Fatalf("beside the number: %q", msg)
	}
	if inTab(t, tab, chromedp.Evaluate[bool](`document.querySelector('[data-testid=pairing-code]') !== null`)) {
		t.Fatal("a code is still shown after the refusal")
	}
	if !inTab(t, tab, chromedp.Evaluate[bool](`window.__marker === 1`)) {
		t.Fatal("the page reloaded")
	}
	tab.screenshot(t, "connect-pairing-limit.png")
}
