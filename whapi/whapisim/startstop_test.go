package whapisim

import (
	"errors"
	"testing"
	"time"
)

// The gate follows start, stop and restart: a stop turns the line STOP
// (the manager says stopped) and keeps its session and its days; a start
// boots it as a new channel boots; a restart goes through LAUNCH and back.
func TestStartStopRestart(t *testing.T) {
	e := newEnv(t, Options{BalanceDays: 10})
	ch := e.create("startstop")
	path := "/channels/" + ch.ID
	e.clock.Advance(3 * time.Second)
	if err := e.sim.LinkChannel(ch.ID, "61371989950"); err != nil {
		t.Fatal(err)
	}
	if h := e.health(ch.Token); h.Status.Text != "AUTH" {
		t.Fatalf("linked: %+v", h)
	}
	till := e.getChannel(ch.ID).ActiveTill

	// Not ready: a running channel is not started, a starting one not restarted.
	if m := wantError(t, e.manager("POST", path+"/start", nil), 503).Error.Message; m != "The channel is not ready to be started" {
		t.Fatalf("start of a running channel: %q", m)
	}

	// Stop: STOP, stopped, nothing else changes.
	wantSuccess(t, e.manager("POST", path+"/stop", nil))
	if h := e.health(ch.Token); h.Status.Text != "STOP" || h.Status.Code != 6 || h.User != nil {
		t.Fatalf("stopped: %+v", h)
	}
	got := e.getChannel(ch.ID)
	if !got.Stopped || got.ActiveTill != till {
		t.Fatalf("stopped channel: %+v (activeTill was %d)", got, till)
	}
	if st, _ := e.sim.Channel(ch.ID); !st.Halted || !st.Linked || st.RefundedDays != 0 {
		t.Fatalf("state: %+v", st)
	}
	if m := wantError(t, e.manager("POST", path+"/stop", nil), 503).Error.Message; m != "The channel is not ready to be stopped" {
		t.Fatalf("second stop: %q", m)
	}
	if m := wantError(t, e.manager("POST", path+"/restart", nil), 503).Error.Message; m != "The channel is not ready to be restarted" {
		t.Fatalf("restart of a stopped channel: %q", m)
	}
	// A passive poll and a mode change leave it stopped.
	e.clock.Advance(time.Minute)
	wantSuccess(t, e.manager("PATCH", path+"/mode", map[string]string{"mode": "live"}))
	if h := e.health(ch.Token); h.Status.Text != "STOP" {
		t.Fatalf("after a mode change: %+v", h)
	}
	if q, _ := e.login(ch.Token, "?wakeup=false"); q.Status != "ERROR" {
		t.Fatalf("login wakeup=false of a stopped channel: %+v", q)
	}

	// Start: INIT, LAUNCH, then AUTH again (the session survived).
	wantSuccess(t, e.manager("POST", path+"/start", nil))
	if got := e.getChannel(ch.ID); got.Stopped {
		t.Fatalf("started channel: %+v", got)
	}
	if h := e.health(ch.Token); h.Status.Text != "INIT" || h.StartAt != e.clock.Now().Unix() {
		t.Fatalf("just started: %+v", h)
	}
	e.clock.Advance(1500 * time.Millisecond)
	if h := e.health(ch.Token); h.Status.Text != "LAUNCH" {
		t.Fatalf("starting: %+v", h)
	}
	wantError(t, e.manager("POST", path+"/restart", nil), 503) // still starting
	e.clock.Advance(1500 * time.Millisecond)
	if h := e.health(ch.Token); h.Status.Text != "AUTH" || h.User == nil {
		t.Fatalf("started: %+v", h)
	}

	// Restart: LAUNCH for the startup delay, then AUTH; a new start_at.
	e.clock.Advance(time.Minute)
	before := e.health(ch.Token).StartAt
	wantSuccess(t, e.manager("POST", path+"/restart", nil))
	h := e.health(ch.Token)
	if h.Status.Text != "LAUNCH" || h.StartAt == before {
		t.Fatalf("restarting: %+v (start_at was %d)", h, before)
	}
	e.clock.Advance(3 * time.Second)
	if h := e.health(ch.Token); h.Status.Text != "AUTH" {
		t.Fatalf("restarted: %+v", h)
	}

	// Expired: nothing starts, stops or restarts it.
	e.clock.Set(t0().Add(7 * 24 * time.Hour))
	for _, a := range []string{"start", "stop", "restart"} {
		wantError(t, e.manager("POST", path+"/"+a, nil), 503)
	}

	// Bodies: none on start and restart, only saveDays on stop; unknown
	// channels are 404.
	e.clock.Set(t0().Add(time.Hour))
	for _, tc := range []struct {
		path string
		body any
	}{
		{"/start", map[string]any{"saveDays": true}},
		{"/restart", `[]`},
		{"/stop", map[string]any{"saveDays": "yes"}},
		{"/stop", map[string]any{"savedays": true}},
		{"/stop", `{"saveDays":null}`},
	} {
		wantError(t, e.manager("POST", path+tc.path, tc.body), 400)
	}
	for _, a := range []string{"start", "stop", "restart"} {
		wantError(t, e.manager("POST", "/channels/ABCDEF-12345/"+a, nil), 404)
		wantError(t, e.request("POST", path+"/"+a, "Bearer "+ch.Token, nil), 401)
	}
	wantSuccess(t, e.manager("POST", path+"/stop", map[string]any{"saveDays": false}))
	wantSuccess(t, e.manager("POST", path+"/start", map[string]any{}))
}

// A wakeup launches a stopped channel that has days, as WHAPI's docs say
// of wakeup=true ("launches a stopped/sleeping channel"): a client that
// must keep a line stopped never calls the gate with wakeup=true on it.
func TestWakeupLaunchesStoppedChannel(t *testing.T) {
	for _, path := range []string{"/health", "/users/login", "/users/login?wakeup=true"} {
		t.Run(path, func(t *testing.T) {
			e := newEnv(t, Options{})
			ch := e.create("wake")
			e.clock.Advance(3 * time.Second)
			wantSuccess(t, e.manager("POST", "/channels/"+ch.ID+"/stop", nil))
			e.gate(ch.Token, "GET", path)
			if h := e.health(ch.Token); h.Status.Text != "INIT" {
				t.Fatalf("after %s: %+v", path, h)
			}
			if got := e.getChannel(ch.ID); got.Stopped {
				t.Fatalf("after %s: %+v", path, got)
			}
		})
	}
}

// Extended after its days ran out, a channel stays stopped (NOT_INIT on
// the gate) until started; a mode change does not start it.
func TestStartAfterLateExtend(t *testing.T) {
	e := newEnv(t, Options{BalanceDays: 10})
	ch := e.create("late")
	e.clock.Advance(3 * time.Second)
	if err := e.sim.LinkChannel(ch.ID, "61371989950"); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(t0().Add(7 * 24 * time.Hour))
	wantSuccess(t, e.manager("POST", "/channels/"+ch.ID+"/extend", map[string]any{"days": 5, "comment": "c"}))
	wantSuccess(t, e.manager("PATCH", "/channels/"+ch.ID+"/mode", map[string]string{"mode": "live"}))
	if h := e.health(ch.Token); h.Status.Text != "NOT_INIT" || !e.getChannel(ch.ID).Stopped {
		t.Fatalf("extended after expiry: %+v", h)
	}
	wantError(t, e.manager("POST", "/channels/"+ch.ID+"/restart", nil), 503)
	wantSuccess(t, e.manager("POST", "/channels/"+ch.ID+"/start", nil))
	e.clock.Advance(3 * time.Second)
	if h := e.health(ch.Token); h.Status.Text != "AUTH" {
		t.Fatalf("started: %+v", h)
	}
}

// Stopping with saveDays returns the unused paid days, as a delete would.
func TestStopSaveDays(t *testing.T) {
	e := newEnv(t, Options{BalanceDays: 40})
	ch := e.create("save")
	wantSuccess(t, e.manager("POST", "/channels/"+ch.ID+"/extend", map[string]any{"days": 30, "comment": "c"}))
	e.clock.Advance(time.Hour)
	wantSuccess(t, e.manager("POST", "/channels/"+ch.ID+"/stop", map[string]any{"saveDays": true}))
	st, _ := e.sim.Channel(ch.ID)
	// Trial ends at day 5, activeTill at day 36: 30 whole paid days after the trial.
	if e.sim.Balance() != 40 || st.RefundedDays != 30 || !st.Halted {
		t.Fatalf("balance %d, state %+v", e.sim.Balance(), st)
	}
}

// ERROR and SYNC_ERROR show on the gate once the line is up; a logout
// clears them and a new QR sequence starts; a restart does not.
func TestGateErrors(t *testing.T) {
	e := newEnv(t, Options{})
	ch := e.create("broken")
	if err := e.sim.BreakChannel(ch.ID, "SYNC_ERROR"); !errors.Is(err, ErrNotLinked) {
		t.Fatalf("SYNC_ERROR without a phone: %v", err)
	}
	if err := e.sim.BreakChannel(ch.ID, "STOP"); err == nil {
		t.Fatal("BreakChannel took STOP")
	}
	if err := e.sim.BreakChannel("ABCDEF-12345", "ERROR"); !errors.Is(err, ErrChannelNotFound) {
		t.Fatalf("unknown channel: %v", err)
	}
	if err := e.sim.BreakChannel(ch.ID, "ERROR"); err != nil {
		t.Fatal(err)
	}
	if h := e.health(ch.Token); h.Status.Text != "INIT" {
		t.Fatalf("starting: %+v", h)
	}
	e.clock.Advance(3 * time.Second)
	if h := e.health(ch.Token); h.Status.Text != "ERROR" || h.Status.Code != 5 {
		t.Fatalf("broken: %+v", h)
	}
	if q, _ := e.login(ch.Token, ""); q.Status != "ERROR" {
		t.Fatalf("login of a broken line: %+v", q)
	}
	wantError(t, e.gate(ch.Token, "GET", "/users/login/61371989950"), 422)
	wantSuccess(t, e.manager("POST", "/channels/"+ch.ID+"/restart", nil))
	e.clock.Advance(3 * time.Second)
	if h := e.health(ch.Token); h.Status.Text != "ERROR" {
		t.Fatalf("after a restart: %+v", h)
	}
	wantSuccess(t, e.gate(ch.Token, "POST", "/users/logout"))
	if h := e.health(ch.Token); h.Status.Text != "QR" {
		t.Fatalf("after the logout: %+v", h)
	}
	if q, _ := e.login(ch.Token, ""); q.Status != "OK" {
		t.Fatalf("login after the logout: %+v", q)
	}

	// SYNC_ERROR: linked, the user still shows; the logout unlinks.
	if err := e.sim.LinkChannel(ch.ID, "61371989950"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.BreakChannel(ch.ID, "SYNC_ERROR"); err != nil {
		t.Fatal(err)
	}
	h := e.health(ch.Token)
	if h.Status.Text != "SYNC_ERROR" || h.Status.Code != 7 || h.User == nil || h.User.ID != "61371989950" {
		t.Fatalf("sync error: %+v", h)
	}
	wantError(t, e.gate(ch.Token, "GET", "/users/login"), 409)
	wantSuccess(t, e.gate(ch.Token, "POST", "/users/logout"))
	if st, _ := e.sim.Channel(ch.ID); st.Linked || st.GateError != "" {
		t.Fatalf("after the logout: %+v", st)
	}
	if h := e.health(ch.Token); h.Status.Text != "QR" || h.User != nil {
		t.Fatalf("after the logout: %+v", h)
	}
	wantError(t, e.gate(ch.Token, "POST", "/users/logout"), 409)
}
