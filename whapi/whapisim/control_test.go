package whapisim

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// POST /_sim/channels/{id}/link is a phone scanning the QR code, over
// HTTP: the line turns AUTH and the webhooks hear it, as with
// LinkChannel. It needs a QR on screen, like a real scan.
func TestControlLinkOverHTTP(t *testing.T) {
	e := newEnv(t, Options{StartupDelay: 2 * time.Second})
	rc := newReceiver(t)
	ch := e.create("shop")
	e.subscribe(ch.Token, rc.srv.URL+"/hooks/whapi/k", loginEvents...)
	link := "/_sim/channels/" + ch.ID + "/link"

	wantError(t, e.request("POST", link, "", nil), http.StatusConflict) // still starting: no QR yet
	e.clock.Advance(2 * time.Second)
	// A queued fault is WHAPI's misbehaviour: it never hits a control.
	e.sim.InjectFault(Fault{Kind: FaultStatus, Status: 500})
	r := e.request("POST", link, "", map[string]string{"phone": "447700900123"})
	if r.status != http.StatusOK {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	// The fault was left for the next WHAPI call.
	wantError(t, e.gate(ch.Token, "GET", "/health?wakeup=false"), http.StatusInternalServerError)
	if h := e.health(ch.Token); h.Status.Text != "AUTH" || h.User == nil || h.User.ID != "447700900123" {
		t.Fatalf("health after the link: %+v", h)
	}
	waitFor(t, "users/post", func() bool {
		for _, ev := range rc.events() {
			if ev == "users/post" {
				return true
			}
		}
		return false
	})
	wantError(t, e.request("POST", link, "", nil), http.StatusConflict) // already linked

	r = e.request("POST", "/_sim/channels/"+ch.ID+"/unlink", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("unlink: %d %s", r.status, r.body)
	}
	e.clock.Advance(time.Second)
	// No phone given: the made-up one.
	if r := e.request("POST", link, "", nil); r.status != http.StatusOK {
		t.Fatalf("link without a phone: %d %s", r.status, r.body)
	}
	if st, _ := e.sim.Channel(ch.ID); st.LinkedPhone != DemoPhone {
		t.Errorf("linked phone %q, want %q", st.LinkedPhone, DemoPhone)
	}

	wantError(t, e.request("POST", "/_sim/channels/ABCDEF-GHIJK/link", "", nil), http.StatusNotFound)
	wantError(t, e.request("POST", link, "", map[string]string{"phone": "+44 7700"}), http.StatusBadRequest)
	wantError(t, e.request("POST", link, "", map[string]any{"phone": "447700900123", "x": 1}), http.StatusBadRequest)
	wantError(t, e.request("GET", link, "", nil), http.StatusMethodNotAllowed)
	wantError(t, e.request("POST", "/_sim/channels/"+ch.ID+"/explode", "", nil), http.StatusNotFound)

	// Only the main root has the controls: a second gate host does not.
	second := httptest.NewServer(e.sim.GateHost())
	t.Cleanup(second.Close)
	resp, err := http.Post(second.URL+link, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a control on a second gate host: %d, want 404", resp.StatusCode)
	}
}
