package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/provision"
)

// poll lets the service look at the channel's line, as the connect page's
// poll does, and returns its phase.
func (f *custFix) poll(ch *models.Channel) provision.Phase {
	f.t.Helper()
	f.advance(3 * time.Second)
	st, err := f.svc.ConnectState(context.Background(), ch.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return st.Phase
}

// A linked line that drops: the customer's dashboard says since when and
// shows a Reconnect banner once the alert's delay has passed; the admin's
// Attention list holds it with a fresh connect link, and the dashboard
// counts it; a reconnect takes all of it away. Customers cannot open the
// list.
func TestDisconnectedLineBannerAndAttentionList(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("rana@example.com", true)
	ch := f.channel(u, "front desk")
	f.link(ch, "15551234567")
	if f.poll(ch) != provision.PhaseConnected {
		t.Fatal("not linked")
	}
	cust := f.signedIn("rana@example.com")
	f.newUser(models.RoleAdmin, "boss@example.com")
	adm := f.signedIn("boss@example.com")

	r := cust.get("/app")
	custWant(t, r, http.StatusOK)
	if !strings.Contains(r.body, `data-testid="link-line">Connected since `) || !strings.Contains(r.body, `% over 7 days · `) {
		t.Fatalf("a linked line's card:\n%s", r.body)
	}

	if err := f.sim.UnlinkChannel(f.reload(ch).RemoteID()); err != nil {
		t.Fatal(err)
	}
	if f.poll(ch) == provision.PhaseConnected {
		t.Fatal("still linked")
	}
	f.advance(4 * time.Minute)
	if r := cust.get("/app"); strings.Contains(r.body, "disconnect-banner") {
		t.Fatal("a banner before the alert's delay")
	}
	if r := adm.get("/admin/attention"); !strings.Contains(r.body, `data-testid="attention-empty"`) {
		t.Fatalf("listed before the delay:\n%s", r.body)
	}

	f.advance(2 * time.Minute)
	r = cust.get("/app")
	reconnect := `href="/app/channels/` + strconv.FormatInt(ch.ID, 10) + `/connect">Reconnect</a>`
	if !strings.Contains(r.body, `data-testid="disconnect-banner"`) || !strings.Contains(r.body, "Your line “<bdi>front desk</bdi>” is disconnected since ") ||
		!strings.Contains(r.body, reconnect) || !strings.Contains(r.body, `data-testid="link-line">Disconnected 6 min ago`) {
		t.Fatalf("the banner:\n%s", r.body)
	}
	// The channel's pages, the owner's and the admin's, say it too.
	id := strconv.FormatInt(ch.ID, 10)
	for c, path := range map[*testClient]string{cust: "/app/channels/" + id + "/connect", adm: "/admin/channels/" + id + "/connect"} {
		if r := c.get(path); !strings.Contains(r.body, `data-testid="channel-history">Disconnected 6 min ago · uptime `) {
			t.Fatalf("%s:\n%s", path, r.body)
		}
	}
	if r := cust.get("/admin/attention"); r.StatusCode == http.StatusOK {
		t.Fatal("a customer opens the Attention list")
	}

	r = adm.get("/admin/attention")
	custWant(t, r, http.StatusOK)
	if !strings.Contains(r.body, `data-testid="attention-disconnected"`) || !strings.Contains(r.body, "front desk") ||
		!strings.Contains(r.body, "rana@example.com") || !strings.Contains(r.body, "6 min ago") {
		t.Fatalf("the Attention list:\n%s", r.body)
	}
	if r := adm.get("/admin"); !strings.Contains(r.body, `data-testid="attention-count">1 item needs attention`) {
		t.Fatalf("the dashboard's count:\n%s", r.body)
	}
	// The row's button makes a fresh connect link and shows it.
	action := "/admin/channels/" + strconv.FormatInt(ch.ID, 10) + "/connect-links"
	page := adm.get("/admin/attention").body
	if !strings.Contains(page, `action="`+action+`"`) || !strings.Contains(page, `name="valid_minutes" value="30"`) {
		t.Fatalf("no fresh-link button:\n%s", page)
	}
	made := adm.submit("/admin/attention", action, url.Values{"valid_minutes": {"30"}})
	custWant(t, made, http.StatusOK)
	links, err := f.svc.ConnectLinks(context.Background(), ch.ID)
	if err != nil || len(links) != 1 || !strings.Contains(made.body, "/l/") {
		t.Fatalf("the fresh link: %d %v\n%s", len(links), err, made.body)
	}

	// Reconnected: the banner, the row and the count go.
	f.link(ch, "15551234567")
	if f.poll(ch) != provision.PhaseConnected {
		t.Fatal("not linked again")
	}
	if r := cust.get("/app"); strings.Contains(r.body, "disconnect-banner") || !strings.Contains(r.body, "Connected since ") {
		t.Fatalf("after the reconnect:\n%s", r.body)
	}
	if r := adm.get("/admin/attention"); !strings.Contains(r.body, `data-testid="attention-empty"`) {
		t.Fatalf("listed after the reconnect:\n%s", r.body)
	}
	if r := adm.get("/admin"); strings.Contains(r.body, "attention-count") {
		t.Fatal("the dashboard still counts it")
	}
}
