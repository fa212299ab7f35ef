package provision

import (
	"errors"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
)

func actorOf(u *models.User) models.Actor { return models.Actor{UserID: &u.ID, Email: u.Email} }

// A connect link opens its channel's page for its lifetime, to anyone who
// holds it; it is made and revoked by the channel's owner or an admin
// only; it ends when revoked, when it expires, and once the phone is
// linked; an altered token is the same answer as an unknown one.
func TestConnectLinks(t *testing.T) {
	e := newEnv(t)
	owner := e.customer("owner", 2, 30, 60)
	other := e.customer("other", 2, 30, 60)
	adm, err := e.store.CreateUser(e.ctx, models.NewUser{Email: "boss@example.com", Password: "long enough pw", Role: models.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	ch := e.create(owner.ID, "shop")
	e.svc.SetPublicURL("https://desk.example.com/")

	// Lifetimes: 30 minutes unless chosen, 5 minutes to 7 days.
	for _, bad := range []time.Duration{time.Minute, 4 * time.Minute, 7*24*time.Hour + time.Minute, -time.Hour} {
		var fe FieldErrors
		if _, err := e.svc.CreateConnectLink(e.ctx, actorOf(owner), ch.ID, bad); !errors.As(err, &fe) || fe["valid_minutes"] == "" {
			t.Fatalf("valid %s: %v", bad, err)
		}
	}
	// Someone else's channel: as if it did not exist.
	if _, err := e.svc.CreateConnectLink(e.ctx, actorOf(other), ch.ID, 0); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("another customer's link: %v", err)
	}

	l, err := e.svc.CreateConnectLink(e.ctx, actorOf(owner), ch.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Token) < 22 || l.URL != "https://desk.example.com/l/"+l.Token || !l.Link.ExpiresAt.Equal(e.clock.Now().Add(30*time.Minute)) {
		t.Fatalf("link: %+v", l)
	}
	if l.Link.TokenHash == l.Token || strings.Contains(l.Link.TokenHash, l.Token) {
		t.Fatal("the token is stored as it is")
	}
	got, gotCh, err := e.svc.OpenConnectLink(e.ctx, l.Token)
	if err != nil || got.ID != l.Link.ID || gotCh.ID != ch.ID {
		t.Fatalf("open: %+v %+v %v", got, gotCh, err)
	}
	// Altered (one character changed, cut, or padded) and unknown: one answer.
	alt := []byte(l.Token)
	if alt[5] == 'A' {
		alt[5] = 'B'
	} else {
		alt[5] = 'A'
	}
	for _, tok := range []string{string(alt), l.Token[:len(l.Token)-1], l.Token + "x", "", "../../etc"} {
		if _, _, err := e.svc.OpenConnectLink(e.ctx, tok); !errors.Is(err, ErrLinkUnknown) {
			t.Fatalf("token %q: %v", tok, err)
		}
	}

	// Expiry, on the service's clock.
	short, err := e.svc.CreateConnectLink(e.ctx, actorOf(adm), ch.ID, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Minute)
	if _, _, err := e.svc.OpenConnectLink(e.ctx, short.Token); !errors.Is(err, ErrLinkExpired) {
		t.Fatalf("after 5 minutes: %v", err)
	}
	if _, _, err := e.svc.OpenConnectLink(e.ctx, l.Token); err != nil {
		t.Fatalf("the 30-minute link after 5 minutes: %v", err)
	}

	// Revoke: the owner or an admin, not another customer.
	rev, err := e.svc.FreshConnectLink(e.ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeConnectLink(e.ctx, actorOf(other), rev.Link.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("another customer revokes: %v", err)
	}
	if ok, err := e.svc.RevokeConnectLink(e.ctx, actorOf(adm), rev.Link.ID); err != nil || !ok {
		t.Fatalf("admin revokes: %v %v", ok, err)
	}
	if _, _, err := e.svc.OpenConnectLink(e.ctx, rev.Token); !errors.Is(err, ErrLinkRevoked) {
		t.Fatalf("revoked: %v", err)
	}
	if live, err := e.svc.ConnectLinks(e.ctx, ch.ID); err != nil || len(live) != 1 || live[0].ID != l.Link.ID {
		t.Fatalf("live links: %+v %v", live, err)
	}

	// The phone scans: the page's next look records the link, and the
	// link is used.
	if err := e.sim.LinkChannel(ch.RemoteID(), "97313300383"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3 * time.Second)
	if st, err := e.svc.ConnectState(e.ctx, ch.ID); err != nil || st.Phase != PhaseConnected {
		t.Fatalf("after the scan: %+v %v", st, err)
	}
	if _, _, err := e.svc.OpenConnectLink(e.ctx, l.Token); !errors.Is(err, ErrLinkUsed) {
		t.Fatalf("after linking: %v", err)
	}

	// A deleted channel's links open nothing, and none can be made.
	ch2 := e.create(owner.ID, "second")
	l2, err := e.svc.CreateConnectLink(e.ctx, actorOf(owner), ch2.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Delete(e.ctx, actorOf(owner), ch2.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.OpenConnectLink(e.ctx, l2.Token); !errors.Is(err, ErrLinkUnknown) {
		t.Fatalf("deleted channel's link: %v", err)
	}
	if _, err := e.svc.CreateConnectLink(e.ctx, actorOf(owner), ch2.ID, 0); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("a link to a deleted channel: %v", err)
	}
}
