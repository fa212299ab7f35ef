package provision

import (
	"bytes"
	"errors"
	"image/png"
	"sync"
	"testing"
	"time"

	"whapidesk/whapi/whapisim"
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
	if _, err := e.svc.PairingCode(e.ctx, admin, ch.ID, "+973 1330 0383"); !errors.Is(err, ErrAlreadyLinked) {
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
	if _, err := e.svc.PairingCode(e.ctx, admin, ch.ID, "abc"); !errors.As(err, &fe) {
		t.Fatalf("bad phone: %v", err)
	}
	code, err := e.svc.PairingCode(e.ctx, admin, ch.ID, "+973 1330-0383")
	if err != nil || len(code) < 8 {
		t.Fatalf("code %q: %v", code, err)
	}
	reqs := e.sim.Requests()
	if last := reqs[len(reqs)-1]; last.Path != "/users/login/97313300383" {
		t.Fatalf("asked for %s", last.Path)
	}
}

// A QR answer whose expire is missing, zero or negative is shown for 20 s,
// a longer one for at most 120 s, one in between as WHAPI says; the code is
// asked for again only when that time is up.
func TestQRLifetimeBounds(t *testing.T) {
	for _, tt := range []struct {
		name   string
		expire string // the raw JSON "expire" WHAPI sends; "" = none
		want   time.Duration
	}{
		{"missing", "", 20 * time.Second},
		{"zero", "0", 20 * time.Second},
		{"negative", "-5", 20 * time.Second},
		{"within", "45", 45 * time.Second},
		{"fraction", "7.5", 7500 * time.Millisecond},
		{"at the cap", "120", 120 * time.Second},
		{"above the cap", "300", 120 * time.Second},
		{"huge", "1e12", 120 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.customer("amal", 1, 30, 30)
			ch := e.create(u.ID, "shop")
			e.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/users/login", Kind: whapisim.FaultQRExpire, Expire: tt.expire})
			e.sim.ResetRequests()
			st, err := e.svc.ConnectState(e.ctx, ch.ID)
			if err != nil || st.Phase != PhaseWaiting || len(st.PNG) == 0 {
				t.Fatalf("connect page: %+v %v, want a QR to scan", st, err)
			}
			if left := st.ExpiresAt.Sub(e.clock.Now()); left != tt.want {
				t.Fatalf("the QR is shown for %v, want %v", left, tt.want)
			}
			e.clock.Advance(tt.want - time.Millisecond)
			again, err := e.svc.ConnectState(e.ctx, ch.ID)
			if err != nil || !bytes.Equal(again.PNG, st.PNG) || !again.ExpiresAt.Equal(st.ExpiresAt) {
				t.Fatalf("just before it ends: %+v %v, want the same QR", again, err)
			}
			if n := e.sim.CountRequests("GET", "/users/login"); n != 1 {
				t.Fatalf("%d QR calls within the QR's time, want 1", n)
			}
			e.clock.Advance(time.Millisecond)
			next, err := e.svc.ConnectState(e.ctx, ch.ID)
			if err != nil || next.Phase != PhaseWaiting || !next.ExpiresAt.After(e.clock.Now()) {
				t.Fatalf("once it ended: %+v %v, want a fresh QR", next, err)
			}
			if n := e.sim.CountRequests("GET", "/users/login"); n != 2 {
				t.Fatalf("%d QR calls, want a second one once the first QR's time was up", n)
			}
		})
	}
}

// Two instances on one database and one simulator: twenty viewers spread
// over both, polling one channel for two QR lifetimes, cost exactly one
// QR call per lifetime in total. Each fetch is slow (300 ms at the
// gate), so the other instance's viewers arrive while it runs: they wait
// for the code the winner stores instead of asking the gate themselves.
func TestQRFetchesCoalesceAcrossInstances(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	instances := []*Service{e.svc, e.newService()}
	e.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/users/login", Kind: whapisim.FaultLatency,
		Delay: 300 * time.Millisecond, Times: 2})
	e.sim.ResetRequests()
	for step := 0; step < 8; step++ { // 8 × 5 s = two 20 s lifetimes
		var wg sync.WaitGroup
		pngs := make([][]byte, 20)
		for i := range 20 {
			wg.Go(func() {
				st, err := instances[i%2].ConnectState(e.ctx, ch.ID)
				if err != nil || st.Phase != PhaseWaiting {
					t.Errorf("step %d, viewer %d: %+v %v", step, i, st, err)
					return
				}
				pngs[i] = st.PNG
			})
		}
		wg.Wait()
		for i := range pngs {
			if !bytes.Equal(pngs[i], pngs[0]) {
				t.Fatalf("step %d: viewers %d and 0 were shown different codes", step, i)
			}
		}
		e.clock.Advance(5 * time.Second)
	}
	if n := e.sim.CountRequests("GET", "/users/login"); n != 2 {
		t.Fatalf("%d QR calls for two QR lifetimes on two instances, want exactly 2", n)
	}
	// The health stays per instance: one call per channel per 2 s per
	// instance at most (8 rounds, 2 instances).
	if n := e.sim.CountRequests("GET", "/health"); n > 16 {
		t.Fatalf("%d health calls for 8 polling rounds on 2 instances", n)
	}
}

// A fetch lease left by an instance that died (it took the lease, never
// stored a code nor freed it) holds the others back only until it ends:
// meanwhile their viewers see "preparing" and the gate is not asked; once
// it has ended, the next viewer's instance fetches, and the other instance
// shows that code without asking again.
func TestQRLeaseOfDeadFetchExpires(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	a, b := e.svc, e.newService()
	for _, s := range []*Service{a, b} {
		s.connect.wait, s.connect.poll = 300*time.Millisecond, 20*time.Millisecond
	}
	now := e.clock.Now()
	if _, won, err := e.store.TakeQRLease(e.ctx, ch.ID, now, now.Add(qrLease)); err != nil || !won {
		t.Fatalf("the dead instance's lease: %v %v", won, err)
	}
	e.sim.ResetRequests()
	for _, s := range []*Service{a, b} {
		st, err := s.ConnectState(e.ctx, ch.ID)
		if err != nil || st.Phase != PhasePreparing {
			t.Fatalf("under the dead lease: %+v %v, want preparing", st, err)
		}
	}
	e.clock.Advance(qrLease - time.Millisecond)
	if st, err := a.ConnectState(e.ctx, ch.ID); err != nil || st.Phase != PhasePreparing {
		t.Fatalf("just before the lease ends: %+v %v, want preparing", st, err)
	}
	if n := e.sim.CountRequests("GET", "/users/login"); n != 0 {
		t.Fatalf("%d QR calls under another instance's lease", n)
	}
	e.clock.Advance(time.Millisecond)
	st, err := b.ConnectState(e.ctx, ch.ID)
	if err != nil || st.Phase != PhaseWaiting || len(st.PNG) == 0 {
		t.Fatalf("once the lease ended: %+v %v, want a QR", st, err)
	}
	again, err := a.ConnectState(e.ctx, ch.ID)
	if err != nil || again.Phase != PhaseWaiting || !bytes.Equal(again.PNG, st.PNG) {
		t.Fatalf("the other instance: %+v %v, want the same QR", again, err)
	}
	if n := e.sim.CountRequests("GET", "/users/login"); n != 1 {
		t.Fatalf("%d QR calls, want 1", n)
	}
	if row, err := e.store.ChannelQR(e.ctx, ch.ID); err != nil || row.Fetching(e.clock.Now()) {
		t.Fatalf("the lease is still held after the fetch: %+v %v", row, err)
	}
}

// A new code told by webhook to one instance replaces the shared one: the
// other instance shows it at once, without asking the gate.
func TestQRFromWebhookReplacesSharedOne(t *testing.T) {
	e := hookEnv(t)
	a, b := e.svc, e.newService()
	e.receiverFor(b) // a registers the webhooks; b receives the events
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	first, err := a.ConnectState(e.ctx, ch.ID)
	if err != nil || first.Phase != PhaseWaiting {
		t.Fatalf("%+v %v", first, err)
	}
	qrCalls := e.sim.CountRequests("GET", "/users/login")
	e.clock.Advance(whapisim.DefaultQRLifetime) // the code rotates
	e.sim.Tick()
	waitFor(t, "the new code's event", func() bool {
		for _, d := range e.sim.Hooks() {
			if d.Type == "channel" && d.Method == "patch" && d.Delivered {
				return true
			}
		}
		return false
	})
	st, err := a.ConnectState(e.ctx, ch.ID)
	if err != nil || st.Phase != PhaseWaiting || len(st.PNG) == 0 {
		t.Fatalf("%+v %v", st, err)
	}
	if bytes.Equal(st.PNG, first.PNG) || !st.ExpiresAt.After(e.clock.Now()) {
		t.Fatalf("the other instance shows the old code (expires %v)", st.ExpiresAt)
	}
	if n := e.sim.CountRequests("GET", "/users/login"); n != qrCalls {
		t.Fatalf("%d QR calls: the webhook's code should be shown on every instance", n-qrCalls)
	}
}
