package provision

import (
	"errors"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/whapi"
	"whapidesk/whapi/whapisim"
)

// line is what the gate says of a channel's line, asked without waking it.
func (e *env) line(ch *models.Channel) *whapi.Health {
	e.t.Helper()
	token, err := e.store.ChannelToken(e.channel(ch.ID))
	if err != nil {
		e.t.Fatal(err)
	}
	h, err := e.client().Health(e.ctx, token) // wakeup=false: only looks
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// remote is WHAPI's view of a channel (the manager's).
func (e *env) remote(ch *models.Channel) *whapi.Channel {
	e.t.Helper()
	r, err := e.client().GetChannel(e.ctx, ch.RemoteID())
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// wakeups counts the gate calls that would launch a stopped line: /health
// without wakeup=false, and the QR calls (wakeup=true).
func (e *env) wakeups() int {
	n := 0
	for _, r := range e.sim.Requests() {
		if r.Path == "/users/login" || r.Path == "/health" && !strings.Contains(r.RawQuery, "wakeup=false") {
			n++
		}
	}
	return n
}

// expireAndRevive lets a linked channel's days run out, syncs it (expired)
// and extends it again.
func (e *env) expireAndRevive(ch *models.Channel) (*models.Channel, error) {
	e.t.Helper()
	e.clock.Advance(40 * 24 * time.Hour)
	if got, err := e.svc.Sync(e.ctx, ch.ID); err != nil || got.Status != models.ChannelExpired {
		e.t.Fatalf("after 40 days: %+v %v", got, err)
	}
	e.sim.ResetRequests()
	return e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 10, Comment: "back"})
}

// A channel extended again after its days ran out is started with WHAPI's
// start (WHAPI keeps it stopped until then), before its switch to live
// mode, and its linked phone's messages flow again without anyone opening
// the connect page; nothing wakes it through the gate.
func TestARevivedChannelIsStarted(t *testing.T) {
	for _, paidBefore := range []bool{true, false} {
		name := "live"
		if !paidBefore {
			name = "still on its trial"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			u := e.customer("amal", 1, 15, 60)
			ch := e.create(u.ID, "a")
			if err := e.sim.LinkChannel(ch.RemoteID(), "15551234567"); err != nil {
				t.Fatal(err)
			}
			if paidBefore {
				if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 10, Comment: "paid"}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := e.expireAndRevive(ch)
			if err != nil {
				t.Fatal(err)
			}
			if h := e.line(ch); h.Status.Text != whapi.StatusAuth {
				t.Fatalf("the revived, linked channel is %q at WHAPI, want %q", h.Status.Text, whapi.StatusAuth)
			}
			if r := e.remote(ch); r.Stopped || r.Mode != whapi.ModeLive {
				t.Fatalf("at WHAPI: %v, want running and live", r)
			}
			if got.Status != models.ChannelActive || IsStopped(got) {
				t.Fatalf("here: %+v, want active and running", got)
			}
			var order []string
			for _, r := range e.sim.Requests() {
				if r.Method != "GET" {
					order = append(order, r.Method+" "+r.Path[strings.LastIndexByte(r.Path, '/')+1:])
				}
			}
			want := "POST extend,POST start"
			if !paidBefore {
				want += ",PATCH mode"
			}
			if strings.Join(order, ",") != want {
				t.Fatalf("changes sent: %v, want %s (the start before the mode switch, which restarts a running line)", order, want)
			}
			if n := e.wakeups(); n != 0 {
				t.Fatalf("%d gate calls that wake a line, want none", n)
			}
			e.checkBooks()
		})
	}
}

// When the start after a revival gets no usable answer, the channel stays
// meant to run: the connect page wakes the sleeping line (the fallback the
// docs imply), and Reconcile's next sync starts it.
func TestARevivedChannelWhoseStartFailed(t *testing.T) {
	for _, via := range []string{"connect page", "reconcile"} {
		t.Run(via, func(t *testing.T) {
			e := newEnv(t)
			u := e.customer("amal", 1, 15, 60)
			ch := e.create(u.ID, "a")
			e.sim.InjectFault(whapisim.Fault{Method: "POST", Path: "/channels/" + ch.RemoteID() + "/start", Kind: whapisim.FaultStatus, Status: 503})
			got, err := e.expireAndRevive(ch)
			if err != nil {
				t.Fatal(err)
			}
			if IsStopped(got) || e.line(ch).Status.Text != whapi.StatusNotInit {
				t.Fatalf("after a start answered 503: %+v, line %s", got, e.line(ch).Status.Text)
			}
			switch via {
			case "connect page":
				st, err := e.svc.ConnectState(e.ctx, ch.ID)
				if err != nil || st.Phase != PhaseWaiting {
					t.Fatalf("connect page: %+v %v, want a QR", st, err)
				}
			case "reconcile":
				if _, err := e.svc.Reconcile(e.ctx); err != nil {
					t.Fatal(err)
				}
				if n := e.sim.CountRequests("POST", "/channels/"+ch.RemoteID()+"/start"); n != 2 {
					t.Fatalf("%d starts, want a second from the sync", n)
				}
			}
			if h := e.line(ch); h.Status.Text != whapi.StatusQR {
				t.Fatalf("the line is %s, want it up", h.Status.Text)
			}
			if got := e.channel(ch.ID); IsStopped(got) {
				t.Fatalf("here: %+v", got)
			}
		})
	}
}

// When WHAPI refuses the start after a revival, the channel is shown
// stopped, for an admin to start.
func TestARevivedChannelWhoseStartIsRefused(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 1, 15, 60)
	ch := e.create(u.ID, "a")
	e.sim.InjectFault(whapisim.Fault{Method: "POST", Path: "/channels/" + ch.RemoteID() + "/start", Kind: whapisim.FaultStatus, Status: 400})
	got, err := e.expireAndRevive(ch)
	if err != nil {
		t.Fatal(err)
	}
	if !IsStopped(got) || ViewAt(got, e.clock.Now()).Phase != PhaseStopped {
		t.Fatalf("after a refused start: %+v, want it shown stopped", got)
	}
	if _, err := e.svc.Reconcile(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.CountRequests("POST", "/channels/"+ch.RemoteID()+"/start"); n != 1 {
		t.Fatalf("%d starts: a sync must not start a channel shown stopped", n)
	}
	if got, err := e.svc.Start(e.ctx, admin, ch.ID); err != nil || IsStopped(got) {
		t.Fatalf("an admin's start: %+v %v", got, err)
	}
	if h := e.line(ch); h.Status.Text != whapi.StatusQR {
		t.Fatalf("the line is %s after the start", h.Status.Text)
	}
}

// A stopped channel keeps its plan slot, its phone and its days (which run
// on); nothing wakes it — not its connect page, a sync, an extend or the
// top-up — until an admin starts it; then it runs as before.
func TestStopAndStart(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 1, 15, 60)
	ch := e.create(u.ID, "a")
	if err := e.sim.LinkChannel(ch.RemoteID(), "15551234567"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ConnectState(e.ctx, ch.ID); err != nil { // learns the phone
		t.Fatal(err)
	}
	if _, err := e.svc.Start(e.ctx, admin, ch.ID); !errors.Is(err, ErrChannelRunning) {
		t.Fatalf("start of a running channel: %v, want ErrChannelRunning", err)
	}
	before := e.channel(ch.ID)
	got, err := e.svc.Stop(e.ctx, admin, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !IsStopped(got) || got.Status != models.ChannelTrial || !got.Linked || !got.ActiveTill.Equal(*before.ActiveTill) {
		t.Fatalf("stopped: %+v", got)
	}
	if st, _ := e.sim.Channel(ch.RemoteID()); !st.Halted {
		t.Fatalf("at WHAPI: %+v, want stopped", st)
	}
	v := ViewAt(got, e.clock.Now())
	if v.Phase != PhaseStopped || v.Label != "Stopped" || v.Can.Connect || v.Can.Restart || v.Can.Stop || !v.Can.Start || !v.Can.Extend || !v.Can.Delete {
		t.Fatalf("view: %+v", v)
	}
	for a, want := range map[Action]error{ActStop: ErrChannelStopped, ActRestart: ErrChannelStopped, ActConnect: ErrNoQR} {
		if err := e.svc.Permit(e.ctx, got, a); !errors.Is(err, want) {
			t.Fatalf("%s of a stopped channel: %v, want %v", a, err, want)
		}
	}
	// It holds its slot: the one-channel plan is full.
	if _, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: u.ID, Name: "b"}); !errors.Is(err, models.ErrPlanLimit) {
		t.Fatalf("a create next to a stopped channel on a 1-channel plan: %v", err)
	}
	// Nothing wakes it.
	e.sim.ResetRequests()
	st, err := e.svc.ConnectState(e.ctx, ch.ID)
	if err != nil || st.Phase != PhaseStopped {
		t.Fatalf("connect page: %+v %v", st, err)
	}
	if _, err := e.svc.Reconcile(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 5, Comment: "more"}); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.CountRequests("POST", "/channels/"+ch.RemoteID()+"/start"); n != 0 || e.wakeups() != 0 {
		t.Fatalf("%d starts and %d wakeups of a stopped channel", n, e.wakeups())
	}
	if h := e.line(ch); h.Status.Text != whapi.StatusStop {
		t.Fatalf("the line is %s, want it stopped", h.Status.Text)
	}
	if got := e.channel(ch.ID); !IsStopped(got) || got.Mode != whapi.ModeTrial {
		// Its first paid days switch it to live once it runs: a mode
		// change restarts a line, and this one must stay stopped.
		t.Fatalf("after sync and extend: %+v", got)
	}
	// Its days run on.
	e.clock.Advance(24 * time.Hour)
	if got := ViewAt(e.channel(ch.ID), e.clock.Now()); got.DaysLeft != DaysLeft(before.ActiveTill, e.clock.Now())+5 {
		t.Fatalf("days left %d", got.DaysLeft)
	}

	got, err = e.svc.Start(e.ctx, admin, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if IsStopped(got) || got.Mode != whapi.ModeLive || !got.Linked {
		t.Fatalf("started: %+v, want running, live, linked", got)
	}
	if h := e.line(ch); h.Status.Text != whapi.StatusAuth {
		t.Fatalf("the line is %s, want AUTH (its session survived)", h.Status.Text)
	}
	var actions []string
	events, err := e.store.ListAudit(e.ctx, 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Action == "channel.stop" || ev.Action == "channel.start" {
			actions = append(actions, ev.Action+" by "+ev.ActorEmail)
		}
	}
	if strings.Join(actions, "; ") != "channel.start by "+admin.Email+"; channel.stop by "+admin.Email {
		t.Fatalf("audit: %v", actions)
	}
	e.checkBooks()
}

// A stop or a start whose answer says nothing is settled by reading the
// channel back; when that fails too, what was asked stands until a sync
// settles it from WHAPI.
func TestStopAndStartOutcomes(t *testing.T) {
	for _, tt := range []struct {
		name    string
		faults  []whapisim.Fault // on the call (path suffix added) or the read
		wantErr error
		applied bool
	}{
		{"refused", []whapisim.Fault{{Kind: whapisim.FaultStatus, Status: 400}}, ErrRefused, false},
		{"503 not ready, not applied", []whapisim.Fault{{Kind: whapisim.FaultStatus, Status: 503}}, ErrRefused, false},
		{"answer lost, applied", []whapisim.Fault{{Kind: whapisim.FaultLostAfterApply}}, nil, true},
		{"applied, error under a 200", []whapisim.Fault{{Kind: whapisim.FaultAppliedWithError, Shape: whapisim.ShapeSuccessFalse}}, nil, true},
		{"failure under a 200, not applied", []whapisim.Fault{{Kind: whapisim.FaultErrorIn2xx}}, ErrRefused, false},
		{"answer lost, applied, read fails", []whapisim.Fault{{Kind: whapisim.FaultLostAfterApply},
			{Method: "GET", Kind: whapisim.FaultStatus, Status: 500, Times: 3}}, ErrOutcomeUnknown, true},
		{"no answer, not applied, read fails", []whapisim.Fault{{Kind: whapisim.FaultStatus, Status: 502},
			{Method: "GET", Kind: whapisim.FaultStatus, Status: 500, Times: 3}}, ErrOutcomeUnknown, false},
	} {
		for _, stop := range []bool{true, false} {
			verb := map[bool]string{true: "stop", false: "start"}[stop]
			t.Run(verb+"/"+tt.name, func(t *testing.T) {
				e := newEnv(t)
				u := e.customer("amal", 1, 15, 60)
				ch := e.create(u.ID, "a")
				if !stop {
					if _, err := e.svc.Stop(e.ctx, admin, ch.ID); err != nil {
						t.Fatal(err)
					}
				}
				for _, f := range tt.faults {
					if f.Method == "" {
						f.Method, f.Path = "POST", "/channels/"+ch.RemoteID()+"/"+verb
					} else {
						f.Path = "/channels/" + ch.RemoteID()
					}
					e.sim.InjectFault(f)
				}
				run := e.svc.Start
				if stop {
					run = e.svc.Stop
				}
				_, err := run(e.ctx, admin, ch.ID)
				if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("%s: %v, want %v", verb, err, tt.wantErr)
				}
				e.noWHAPIText(err)
				atWhapi := e.remote(ch).Stopped
				if atWhapi != (stop == tt.applied) {
					t.Fatalf("fault did not do what the case says: stopped at WHAPI = %v", atWhapi)
				}
				want := atWhapi
				if errors.Is(err, ErrOutcomeUnknown) {
					want = stop // what was asked stands …
				}
				if got := IsStopped(e.channel(ch.ID)); got != want {
					t.Fatalf("stopped here = %v, want %v", got, want)
				}
				// … until a sync settles it from WHAPI.
				if _, err := e.svc.Reconcile(e.ctx); err != nil {
					t.Fatal(err)
				}
				if got, atWhapi := IsStopped(e.channel(ch.ID)), e.remote(ch).Stopped; got != atWhapi {
					t.Fatalf("after a sync: stopped here %v, at WHAPI %v", got, atWhapi)
				}
				if !stop && errors.Is(err, ErrOutcomeUnknown) && IsStopped(e.channel(ch.ID)) {
					t.Fatal("a start left unsettled: the sync must start the line meant to run")
				}
			})
		}
	}
}

// A restart takes the line through a new start and keeps its phone; an
// unanswered one is judged from the gate.
func TestRestart(t *testing.T) {
	for _, tt := range []struct {
		name    string
		faults  []whapisim.Fault
		wantErr error
	}{
		{"answered", nil, nil},
		{"answer lost, applied", []whapisim.Fault{{Method: "POST", Kind: whapisim.FaultLostAfterApply}}, nil},
		{"503 not ready, not applied", []whapisim.Fault{{Method: "POST", Kind: whapisim.FaultStatus, Status: 503}}, ErrRefused},
		{"refused", []whapisim.Fault{{Method: "POST", Kind: whapisim.FaultStatus, Status: 400}}, ErrRefused},
		{"no answer, gate unreachable", []whapisim.Fault{{Method: "POST", Kind: whapisim.FaultStatus, Status: 502},
			{Method: "GET", Path: "/health", Kind: whapisim.FaultStatus, Status: 500, Times: 3}}, ErrUnconfirmed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.customer("amal", 1, 15, 60)
			ch := e.create(u.ID, "a")
			if err := e.sim.LinkChannel(ch.RemoteID(), "15551234567"); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Hour)
			startedAt := e.line(ch).StartAt
			for _, f := range tt.faults {
				if f.Path == "" {
					f.Path = "/channels/" + ch.RemoteID() + "/restart"
				}
				e.sim.InjectFault(f)
			}
			_, err := e.svc.Restart(e.ctx, admin, ch.ID)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("restart: %v, want %v", err, tt.wantErr)
			}
			e.noWHAPIText(err)
			h := e.line(ch)
			if restarted := h.StartAt != startedAt; restarted != (tt.wantErr == nil) && !errors.Is(tt.wantErr, ErrUnconfirmed) {
				t.Fatalf("restarted at WHAPI: %v", restarted)
			}
			if h.Status.Text != whapi.StatusAuth || IsStopped(e.channel(ch.ID)) {
				t.Fatalf("after the restart: %s", h.Status.Text)
			}
		})
	}
	t.Run("stopped", func(t *testing.T) {
		e := newEnv(t)
		u := e.customer("amal", 1, 15, 60)
		ch := e.create(u.ID, "a")
		if _, err := e.svc.Stop(e.ctx, admin, ch.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Restart(e.ctx, admin, ch.ID); !errors.Is(err, ErrChannelStopped) {
			t.Fatalf("restart of a stopped channel: %v", err)
		}
		if n := e.sim.CountRequests("POST", "/channels/"+ch.RemoteID()+"/restart"); n != 0 {
			t.Fatal("a restart was sent")
		}
	})
}

// A line WHAPI holds stopped though whapidesk means it to run (stopped in
// WHAPI's dashboard) is shown paused on its connect page and never woken
// there; the next sync starts it, as whapidesk runs its channels.
func TestALineStoppedOutsideIsStartedBySync(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 1, 15, 60)
	ch := e.create(u.ID, "a")
	if err := e.client().StopChannel(e.ctx, ch.RemoteID()); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetRequests()
	st, err := e.svc.ConnectState(e.ctx, ch.ID)
	if err != nil || st.Phase != PhaseStopped || e.wakeups() != 0 {
		t.Fatalf("connect page: %+v %v, %d wakeups", st, err, e.wakeups())
	}
	if _, err := e.svc.Reconcile(e.ctx); err != nil {
		t.Fatal(err)
	}
	if h := e.line(ch); h.Status.Text != whapi.StatusQR || IsStopped(e.channel(ch.ID)) {
		t.Fatalf("after a sync: line %s, %+v", h.Status.Text, e.channel(ch.ID))
	}
}

// A line whose gate reports ERROR or SYNC_ERROR asks its owner to
// reconnect; Reconnect logs the broken session out and a fresh QR comes.
// A healthy line is never logged out, and a line at most once a minute.
func TestReconnect(t *testing.T) {
	for _, status := range []string{whapi.StatusError, whapi.StatusSyncError} {
		t.Run(status, func(t *testing.T) {
			e := newEnv(t)
			u := e.customer("amal", 1, 15, 60)
			ch := e.create(u.ID, "a")
			if err := e.sim.LinkChannel(ch.RemoteID(), "15551234567"); err != nil {
				t.Fatal(err)
			}
			// Healthy: nothing is logged out.
			if done, err := e.svc.Reconnect(e.ctx, admin, ch.ID); err != nil || done {
				t.Fatalf("reconnect of a healthy line: %v %v", done, err)
			}
			if n := e.sim.CountRequests("POST", "/users/logout"); n != 0 {
				t.Fatal("a healthy line was logged out")
			}
			if err := e.sim.BreakChannel(ch.RemoteID(), status); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(3 * time.Second) // past the cached health
			st, err := e.svc.ConnectState(e.ctx, ch.ID)
			if err != nil || st.Phase != PhaseReconnect || st.Phase.ConnectStep() != "reconnect" {
				t.Fatalf("broken line: %+v %v", st, err)
			}
			if done, err := e.svc.Reconnect(e.ctx, admin, ch.ID); err != nil || !done {
				t.Fatalf("reconnect: %v %v", done, err)
			}
			if n := e.sim.CountRequests("POST", "/users/logout"); n != 1 {
				t.Fatalf("%d logouts, want 1", n)
			}
			st, err = e.svc.ConnectState(e.ctx, ch.ID)
			if err != nil || st.Phase != PhaseWaiting || len(st.PNG) == 0 {
				t.Fatalf("after reconnecting: %+v %v, want a fresh QR", st, err)
			}
			if e.channel(ch.ID).Linked {
				t.Fatal("still linked here")
			}
			// Broken again at once: one logout a minute.
			if err := e.sim.LinkChannel(ch.RemoteID(), "15551234567"); err != nil {
				t.Fatal(err)
			}
			if err := e.sim.BreakChannel(ch.RemoteID(), status); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(3 * time.Second)
			var rl *RetryLaterError
			if _, err := e.svc.Reconnect(e.ctx, admin, ch.ID); !errors.As(err, &rl) || rl.After <= 0 || rl.After > time.Minute {
				t.Fatalf("a second reconnect within a minute: %v", err)
			}
			e.clock.Advance(time.Minute)
			if done, err := e.svc.Reconnect(e.ctx, admin, ch.ID); err != nil || !done {
				t.Fatalf("a minute later: %v %v", done, err)
			}
			if n := e.sim.CountRequests("POST", "/users/logout"); n != 2 {
				t.Fatalf("%d logouts, want 2", n)
			}
		})
	}
}
