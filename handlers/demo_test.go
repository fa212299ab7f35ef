package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi/whapisim"
)

// demoSimLink is what main's demo gives Config.DemoLink: the simulator
// links a made-up phone, and its errors become the app's.
func demoSimLink(sim **whapisim.Sim) func(context.Context, string) error {
	return func(_ context.Context, id string) error {
		err := (*sim).LinkChannel(id, whapisim.DemoPhone)
		switch {
		case errors.Is(err, whapisim.ErrNoQR):
			return provision.ErrNoQR
		case errors.Is(err, whapisim.ErrAlreadyLinked):
			return provision.ErrAlreadyLinked
		case errors.Is(err, whapisim.ErrChannelNotFound):
			return models.ErrNotFound
		}
		return err
	}
}

// In the demo the connect page offers, under the QR code, a box clearly
// marked as the demo's whose button plays the phone: the simulated WHAPI
// links a number, its webhook reaches the app, and the page's own poll
// turns "Connected". The box goes once there is nothing to scan.
func TestDemoScanLinksThroughTheWebhook(t *testing.T) {
	var sim *whapisim.Sim
	f := newCustFix(t, func(o *custOptions) {
		o.hooks = true
		o.handler.DemoLink = demoSimLink(&sim)
	})
	sim = f.sim
	u := f.customer("amal@example.com", true)
	ch := f.channel(u, "Shop")
	c := f.signedIn("amal@example.com")

	page := c.get(connectPath(ch.ID, ""))
	custWant(t, page, http.StatusOK)
	if s := custShown(t, page.body); s.step != "qr" {
		t.Fatalf("the connect page shows %q, want the QR code", s.step)
	}
	custHas(t, page.body, "Demo only", "There is no phone here.", "Simulate scanning the QR code")
	if !strings.Contains(page.body, `action="`+connectPath(ch.ID, "/demo-scan")+`"`) {
		t.Fatal("the demo box does not post to the demo route")
	}

	r := c.submit(connectPath(ch.ID, ""), connectPath(ch.ID, "/demo-scan"), nil)
	if flash := custFlash(t, c, r, connectPath(ch.ID, "")); !strings.Contains(flash, "a simulated phone scanned the code") {
		t.Fatalf("flash after the simulated scan: %q", flash)
	}
	// The simulated WHAPI tells the app (its webhook, or the page's poll,
	// whichever comes first): wait for it.
	deadline := time.Now().Add(30 * time.Second)
	for !f.reload(ch).Linked {
		if time.Now().After(deadline) {
			t.Fatalf("the simulated scan's webhook never reached the app; logs:\n%s", f.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := f.reload(ch).LinkedPhone; got != whapisim.DemoPhone {
		t.Errorf("linked phone %q, want the demo's %q", got, whapisim.DemoPhone)
	}
	// The channel's status event may link it before the users event is
	// delivered: wait for that one too.
	usersPostDelivered := func() bool {
		for _, d := range f.sim.Hooks() {
			if d.Type == "users" && d.Method == "post" && d.Delivered {
				return true
			}
		}
		return false
	}
	for !usersPostDelivered() {
		if time.Now().After(deadline) {
			t.Fatalf("the simulated WHAPI's users/post webhook was not delivered to the app; logs:\n%s", f.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	page = c.get(connectPath(ch.ID, ""))
	if s := custShown(t, page.body); s.step != "connected" {
		t.Fatalf("after the webhook the connect page shows %q, want connected", s.step)
	}
	custHasNot(t, page.body, "Demo only", "Simulate scanning")

	// Pressed again (a second tab): nothing to scan, said plainly.
	r = c.submit(connectPath(ch.ID, ""), connectPath(ch.ID, "/demo-scan"), nil)
	if flash := custFlash(t, c, r, connectPath(ch.ID, "")); !strings.Contains(flash, "already linked") {
		t.Errorf("flash after a second simulated scan: %q", flash)
	}

	// Someone else's channel is not found, and stays unlinked.
	other := f.channel(f.customer("bruno@example.com", true), "Other")
	r = c.submit(connectPath(ch.ID, ""), connectPath(other.ID, "/demo-scan"), nil)
	custWant(t, r, http.StatusNotFound)
	if st, _ := f.sim.Channel(f.reload(other).RemoteID()); st.Linked {
		t.Error("a customer linked someone else's channel")
	}
}

// Outside the demo there is no box and no route: a post to it is 404 and
// links nothing.
func TestDemoScanOnlyInTheDemo(t *testing.T) {
	f := newCustFix(t)
	u := f.customer("amal@example.com", true)
	ch := f.channel(u, "Shop")
	c := f.signedIn("amal@example.com")
	page := c.get(connectPath(ch.ID, ""))
	if s := custShown(t, page.body); s.step != "qr" {
		t.Fatalf("the connect page shows %q, want the QR code", s.step)
	}
	custHasNot(t, page.body, "Demo only", "Simulate scanning")
	if strings.Contains(page.body, "demo-scan") {
		t.Error("the connect page names the demo route outside the demo")
	}
	r := c.submit(connectPath(ch.ID, ""), connectPath(ch.ID, "/demo-scan"), nil)
	custWant(t, r, http.StatusNotFound)
	if st, _ := f.sim.Channel(f.reload(ch).RemoteID()); st.Linked {
		t.Error("the post linked the channel outside the demo")
	}
}
