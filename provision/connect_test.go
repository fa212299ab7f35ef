package provision

import (
	"bytes"
	"errors"
	"image/png"
	"sync"
	"testing"
	"time"
)

func TestConnectStatesFromPreparingToConnected(t *testing.T) {
	e := newEnv(t, func(o *envOpts) { o.sim.StartupDelay = 4 * time.Second })
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")

	st, err := e.svc.ConnectState(e.ctx, ch.ID)
	if err != nil || st.Phase != PhasePreparing {
		t.Fatalf("right after create: %+v %v", st, err)
	}
	e.clock.Advance(5 * time.Second)
	st, err = e.svc.ConnectState(e.ctx, ch.ID)
	if err != nil || st.Phase != PhaseWaiting {
		t.Fatalf("after start-up: %+v %v", st, err)
	}
	if _, err := png.Decode(bytes.NewReader(st.PNG)); err != nil {
		t.Fatalf("the QR is not a PNG: %v", err)
	}
	if left := st.ExpiresAt.Sub(e.clock.Now()); left <= 0 || left > 20*time.Second {
		t.Fatalf("expires in %v", left)
	}
	if err := e.sim.LinkChannel(ch.RemoteID(), "97313300383"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3 * time.Second)
	st, err = e.svc.ConnectState(e.ctx, ch.ID)
	if err != nil || st.Phase != PhaseConnected || st.Phone != "97313300383" {
		t.Fatalf("after linking: %+v %v", st, err)
	}
	if got := e.channel(ch.ID); !got.Linked || got.LinkedPhone != "97313300383" {
		t.Fatalf("linked not stored: %+v", got)
	}
	if _, err := e.svc.PairingCode(e.ctx, ch.ID, "+973 1330 0383"); !errors.Is(err, ErrAlreadyLinked) {
		t.Fatalf("pairing code once linked: %v", err)
	}
}

// Twenty viewers polling one channel for two QR lifetimes cause at most
// one QR call per lifetime.
func TestQRFetchesCoalesce(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	e.sim.ResetRequests()
	for step := 0; step < 8; step++ { // 8 × 5 s = two 20 s lifetimes
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				st, err := e.svc.ConnectState(e.ctx, ch.ID)
				if err != nil || st.Phase != PhaseWaiting {
					t.Errorf("viewer: %+v %v", st, err)
				}
			})
		}
		wg.Wait()
		e.clock.Advance(5 * time.Second)
	}
	if n := e.sim.CountRequests("GET", "/users/login"); n > 2 {
		t.Fatalf("%d QR calls for two QR lifetimes, want at most 2", n)
	}
	if n := e.sim.CountRequests("GET", "/health"); n > 8 {
		t.Fatalf("%d health calls for 8 polling rounds", n)
	}
}

func TestPairingCode(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	var fe FieldErrors
	if _, err := e.svc.PairingCode(e.ctx, ch.ID, "abc"); !errors.As(err, &fe) {
		t.Fatalf("bad phone: %v", err)
	}
	code, err := e.svc.PairingCode(e.ctx, ch.ID, "+973 1330-0383")
	if err != nil || len(code) < 8 {
		t.Fatalf("code %q: %v", code, err)
	}
	reqs := e.sim.Requests()
	if last := reqs[len(reqs)-1]; last.Path != "/users/login/97313300383" {
		t.Fatalf("asked for %s", last.Path)
	}
}
