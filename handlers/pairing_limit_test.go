package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

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
