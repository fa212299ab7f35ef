package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"whapidesk/internal/testenv"
	"whapidesk/models"
	"whapidesk/whapi"
	"whapidesk/whapi/whapisim"
)

// env is a provision service on a real SQLite file, talking over HTTP to
// the simulator, with one clock for all three.
type env struct {
	t     *testing.T
	te    *testenv.Env
	svc   *Service
	store *models.Store
	sim   *whapisim.Sim
	srv   *httptest.Server
	clock *whapisim.Clock
	token string
	ctx   context.Context
	// timeout is the service's WHAPI client timeout (envOpts.timeout).
	timeout time.Duration
	// gate2 is the apiUrl of the simulator's second gate host
	// (envOpts.secondGate), and clientOpts let the service's client reach it.
	gate2      string
	clientOpts []whapi.Option
}

type envOpts struct {
	sim whapisim.Options
	// timeout is the WHAPI client's: production's by default, so that a
	// fault-free call is waited for however busy the machine is. A test
	// that needs a call to time out (a hang with no end) sets a short one.
	timeout time.Duration
	// ownProjects: the partner has the simulator's own default project,
	// not whapidesk's (sim.ProjectIDs must be empty).
	ownProjects bool
	// secondGate serves the simulator's gate on a second host too
	// (env.gate2), which the service's client may call.
	secondGate bool
	// front is a test's handler in front of the simulator
	// (testenv.Options.SimFront).
	front func(http.Handler) http.Handler
}

func newEnv(t *testing.T, opts ...func(*envOpts)) *env {
	t.Helper()
	o := envOpts{timeout: whapi.DefaultTimeout}
	o.sim = whapisim.Options{PartnerToken: genToken(1300), BalanceDays: 10_000,
		ProjectIDs: []string{models.DefaultProjectID}, StartupDelay: -1}
	for _, f := range opts {
		f(&o)
	}
	// One manual clock for the simulator, the store and the service.
	te := testenv.New(t, testenv.Options{States: States(), Sim: o.sim, ManualClock: true,
		ClockStart: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), StoreOnClock: true, SimOwnProjects: o.ownProjects, SimFront: o.front})
	e := &env{t: t, te: te, store: te.Store, sim: te.Sim, srv: te.SimServer, clock: te.Clock, token: o.sim.PartnerToken, ctx: context.Background(), timeout: o.timeout}
	if o.secondGate {
		e.gate2, e.clientOpts = te.SecondGate()
	}
	e.svc = e.newService()
	// The token is saved as an admin saves it: checked with WHAPI, which
	// lists the project. Tests count WHAPI's requests from here.
	if res, err := e.svc.SaveWHAPISettings(e.ctx, admin, SettingsInput{PartnerToken: e.token}); err != nil {
		t.Fatal(err)
	} else if !o.ownProjects && (res.Check == nil || res.Check.ProjectKnown == nil || !*res.Check.ProjectKnown) {
		t.Fatalf("the project is not known after saving the token: %+v", res.Check)
	}
	e.sim.ResetRequests()
	return e
}

// newService is a fresh service on the same store and simulator: what a
// restarted process gets.
func (e *env) newService() *Service {
	client := e.te.Client(append(e.clientOpts, whapi.WithTimeout(e.timeout), whapi.WithLogger(slog.New(slog.DiscardHandler)))...)
	svc := New(e.store, client, slog.New(slog.DiscardHandler))
	svc.SetClock(e.clock.Now)
	svc.SettleAfter = 0
	return svc
}

// endsHang is the option for a test that injects f: a hang with no end
// needs the client to give up, after 2 s rather than production's 15.
func endsHang(f whapisim.Fault) func(*envOpts) {
	return func(o *envOpts) {
		if f.Kind == whapisim.FaultHang && f.Delay == 0 {
			o.timeout = 2 * time.Second
		}
	}
}

// client is a WHAPI client of our own, to act on WHAPI behind the
// service's back (as a crash, or someone in WHAPI's dashboard, would).
func (e *env) client() *whapi.Client {
	return whapi.New(e.srv.URL, e.srv.URL, e.store, whapi.WithLogger(slog.New(slog.DiscardHandler)))
}

// customer makes a customer on a plan of maxChannels channels, then sets
// their balance to exactly balance days.
func (e *env) customer(name string, maxChannels, daysPerPeriod, balance int64) *models.User {
	e.t.Helper()
	u, err := e.store.CreateUser(e.ctx, models.NewUser{Email: name + "@example.com", Password: "long enough pw", Role: models.RoleCustomer})
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.store.CreatePlan(e.ctx, admin, models.PlanInput{Name: "plan-" + name, MaxChannels: maxChannels, DaysPerPeriod: daysPerPeriod, PeriodDays: 30})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.ActivatePlan(e.ctx, admin, u.ID, p.ID); err != nil {
		e.t.Fatal(err)
	}
	credited := p.PeriodCredit()
	if balance > credited {
		if err := e.store.CreditDays(e.ctx, admin, u.ID, balance-credited, models.LedgerAdminCredit, "test"); err != nil {
			e.t.Fatal(err)
		}
	} else if balance < credited {
		e.t.Fatalf("plan credit %d is above the wanted balance %d", credited, balance)
	}
	return e.user(u.ID)
}

func (e *env) user(id int64) *models.User {
	u, err := e.store.UserByID(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) channel(id int64) *models.Channel {
	ch, err := e.store.ChannelByID(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return ch
}

func (e *env) create(userID int64, name string) *models.Channel {
	e.t.Helper()
	ch, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: userID, Name: name})
	if err != nil {
		e.t.Fatalf("create %s: %v", name, err)
	}
	return ch
}

// simLive counts the simulator's channels that are not deleted.
func (e *env) simLive() int {
	n := 0
	for _, c := range e.sim.Channels() {
		if !c.Deleted {
			n++
		}
	}
	return n
}

// checkBooks asserts invariants 2 and 5: every balance is its ledger's sum,
// and the days WHAPI holds in channels are the days confirmed as allocated.
func (e *env) checkBooks() {
	e.t.Helper()
	mm, err := e.store.CheckLedger(e.ctx)
	if err != nil || len(mm) > 0 {
		e.t.Fatalf("ledger mismatch: %+v %v", mm, err)
	}
	var simDays int
	for _, c := range e.sim.Channels() {
		simDays += c.ExtendedDays - c.RefundedDays
	}
	pb, _ := e.store.PartnerBalance(e.ctx)
	if int64(simDays) != pb.Extended-pb.Returned {
		e.t.Fatalf("WHAPI holds %d days in channels, whapidesk booked %d extended − %d returned", simDays, pb.Extended, pb.Returned)
	}
	var open []models.Operation
	open, err = e.store.OpenOperations(e.ctx, e.clock.Now().Add(time.Hour))
	if err != nil || len(open) > 0 {
		e.t.Fatalf("operations left open: %+v %v", open, err)
	}
}

func TestCreateRespectsThePlanUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 3, 30, 90)
	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: u.ID, Name: fmt.Sprintf("line %d", i)})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, models.ErrPlanLimit):
				limited.Add(1)
			default:
				t.Errorf("create: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 3 || limited.Load() != 17 {
		t.Fatalf("created %d, refused %d; want 3 and 17", ok.Load(), limited.Load())
	}
	if n, _ := e.store.CountLiveChannels(e.ctx, u.ID); n != 3 || e.simLive() != 3 {
		t.Fatalf("live channels: local %d, WHAPI %d", n, e.simLive())
	}
	e.checkBooks()
}

func TestCreateRefusals(t *testing.T) {
	e := newEnv(t)
	nobody, _ := e.store.CreateUser(e.ctx, models.NewUser{Email: "np@example.com", Password: "long enough pw", Role: models.RoleCustomer})
	if _, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: nobody.ID, Name: "x"}); !errors.Is(err, models.ErrNoActivePlan) {
		t.Fatalf("no plan: %v", err)
	}
	u := e.customer("bruno", 1, 30, 30)
	var fe FieldErrors
	if _, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: u.ID, Name: " ", Phone: "12"}); !errors.As(err, &fe) || fe["name"] == "" || fe["phone"] == "" {
		t.Fatalf("bad input: %v", err)
	}
	if err := e.store.CancelSubscription(e.ctx, admin, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: u.ID, Name: "x"}); !errors.Is(err, models.ErrNoActivePlan) {
		t.Fatalf("cancelled plan: %v", err)
	}
	if len(e.sim.Requests()) != 0 {
		t.Fatal("refused creates reached WHAPI")
	}
}

func TestCreateWithLostAnswersMakesNoDuplicate(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault whapisim.Fault
	}{
		{"answer lost after WHAPI created it", whapisim.Fault{Method: "PUT", Path: "/channels", Kind: whapisim.FaultLostAfterApply}},
		{"timeout before WHAPI created it", whapisim.Fault{Method: "PUT", Path: "/channels", Kind: whapisim.FaultHang}},
		{"5xx before WHAPI created it", whapisim.Fault{Method: "PUT", Path: "/channels", Kind: whapisim.FaultStatus, Status: 502}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, endsHang(tt.fault))
			u := e.customer("amal", 2, 30, 60)
			e.sim.InjectFault(tt.fault)
			ch, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: u.ID, Name: "shop"})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if ch.RemoteID() == "" || ch.Status != models.ChannelTrial {
				t.Fatalf("channel %+v", ch)
			}
			if e.simLive() != 1 {
				t.Fatalf("WHAPI has %d channels, want 1", e.simLive())
			}
			if lists := e.sim.CountRequests("GET", "/channels/list"); lists < 1 {
				t.Fatal("the lost answer was not resolved by listing")
			}
			if n, _ := e.store.CountLiveChannels(e.ctx, u.ID); n != 1 {
				t.Fatalf("%d live channels", n)
			}
			e.checkBooks()
		})
	}
}

func TestCreateRateLimitedFreesTheSlot(t *testing.T) {
	e := newEnv(t, func(o *envOpts) { o.sim.CreateLimit = 1 })
	u := e.customer("amal", 3, 30, 90)
	e.create(u.ID, "first")
	_, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: u.ID, Name: "second"})
	var rl *RetryLaterError
	if !errors.As(err, &rl) || rl.After <= 0 || rl.After > 30*time.Minute {
		t.Fatalf("want a retry-later error, got %v", err)
	}
	if n, _ := e.store.CountLiveChannels(e.ctx, u.ID); n != 1 {
		t.Fatalf("a refused create kept a plan slot: %d live", n)
	}
}

func TestParallelExtendsNeverOverspend(t *testing.T) {
	// The balance under 50 extends at once, not WHAPI's cool-down (which
	// would refuse all but the first): a WHAPI without it.
	e := newEnv(t, func(o *envOpts) { o.sim.ExtendCoolDown = -1 })
	u := e.customer("amal", 1, 30, 100)
	ch := e.create(u.ID, "shop")
	var ok, short atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 3, Comment: "test"})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, models.ErrInsufficientBalance):
				short.Add(1)
			default:
				t.Errorf("extend: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 33 || short.Load() != 17 {
		t.Fatalf("%d extended, %d refused; want 33 and 17", ok.Load(), short.Load())
	}
	if b := e.user(u.ID).DayBalance; b != 1 {
		t.Fatalf("balance %d, want 1", b)
	}
	if n := e.sim.CountRequests("POST", "/channels/"+ch.RemoteID()+"/extend"); n != 33 {
		t.Fatalf("WHAPI got %d extends, want 33", n)
	}
	if got := e.channel(ch.ID).DaysAllocated; got != 99 {
		t.Fatalf("days allocated %d", got)
	}
	e.checkBooks()
}

func TestFirstPaidExtendGoesLiveAndReadsBack(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	got, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 10, Comment: "first days"})
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := e.sim.Channel(ch.RemoteID())
	if sc.Mode != "live" || got.Mode != "live" || got.Status != models.ChannelActive {
		t.Fatalf("mode: WHAPI %s, local %s/%s", sc.Mode, got.Mode, got.Status)
	}
	if !got.ActiveTill.Equal(sc.ActiveTill.UTC()) {
		t.Fatalf("active till not read back: local %v, WHAPI %v", got.ActiveTill, sc.ActiveTill)
	}
	if n := e.sim.CountRequests("PATCH", "/channels/"+ch.RemoteID()+"/mode"); n != 1 {
		t.Fatalf("%d mode switches", n)
	}
	// A second extend, after WHAPI's cool-down, does not switch again.
	e.clock.Advance(whapisim.DefaultExtendCoolDown)
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 5, Comment: "more"}); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.CountRequests("PATCH", "/channels/"+ch.RemoteID()+"/mode"); n != 1 {
		t.Fatalf("%d mode switches after the second extend", n)
	}
	var fe FieldErrors
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 1, Comment: " "}); !errors.As(err, &fe) || fe["comment"] == "" {
		t.Fatalf("extend without comment: %v", err)
	}
	e.checkBooks()
}

func TestExtendRefusedForLackOfPartnerDaysGivesDaysBack(t *testing.T) {
	e := newEnv(t, func(o *envOpts) { o.sim.BalanceDays = 5 })
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	_, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 10, Comment: "too many"})
	if !errors.Is(err, ErrPartnerShort) {
		t.Fatalf("want ErrPartnerShort, got %v", err)
	}
	if b := e.user(u.ID).DayBalance; b != 30 {
		t.Fatalf("balance %d after a refused extend, want 30", b)
	}
	if st, _ := e.store.Settings(e.ctx); st.PartnerShortAt == nil {
		t.Fatal("no partner-balance warning raised")
	}
	if err := e.store.RecordPartnerPurchase(e.ctx, admin, 100, "bought"); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.store.Settings(e.ctx); st.PartnerShortAt != nil {
		t.Fatal("the warning stays after days were bought")
	}
	e.checkBooks()
}

func TestExtendFaultsAreSettledExactlyOnce(t *testing.T) {
	for _, tt := range []struct {
		name    string
		fault   whapisim.Fault
		applied bool
		now     bool // settled at once (else by Reconcile)
	}{
		{"answer lost after apply", whapisim.Fault{Method: "POST", Path: "/channels/", Kind: whapisim.FaultLostAfterApply}, true, true},
		{"timeout, not applied", whapisim.Fault{Method: "POST", Path: "/channels/", Kind: whapisim.FaultHang}, false, false},
		{"500, not applied", whapisim.Fault{Method: "POST", Path: "/channels/", Kind: whapisim.FaultStatus, Status: 500}, false, false},
		{"503 is a refusal", whapisim.Fault{Method: "POST", Path: "/channels/", Kind: whapisim.FaultStatus, Status: 503}, false, true},
		{"malformed answer, not applied", whapisim.Fault{Method: "POST", Path: "/channels/", Kind: whapisim.FaultMalformed}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, endsHang(tt.fault))
			u := e.customer("amal", 1, 30, 30)
			ch := e.create(u.ID, "shop")
			e.sim.InjectFault(tt.fault)
			_, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 7, Comment: "fault"})
			if tt.now != (err == nil || !errors.Is(err, ErrOutcomeUnknown)) {
				t.Fatalf("extend: %v", err)
			}
			if !tt.now {
				if b := e.user(u.ID).DayBalance; b != 23 {
					t.Fatalf("while unsettled the days stay reserved: balance %d", b)
				}
				rep, err := e.newService().Reconcile(e.ctx)
				if err != nil || rep.Settled != 1 {
					t.Fatalf("reconcile: %+v %v", rep, err)
				}
			}
			sc, _ := e.sim.Channel(ch.RemoteID())
			want := int64(30)
			if tt.applied {
				want = 23
			}
			if b := e.user(u.ID).DayBalance; b != want || (sc.ExtendedDays == 7) != tt.applied {
				t.Fatalf("balance %d (want %d), WHAPI extended %d", b, want, sc.ExtendedDays)
			}
			// Settling again changes nothing.
			if rep, _ := e.newService().Reconcile(e.ctx); rep.Settled != 0 {
				t.Fatalf("settled twice: %+v", rep)
			}
			if got := e.channel(ch.ID); !got.ActiveTill.Equal(sc.ActiveTill.UTC()) {
				t.Fatalf("after reconcile: local active till %v, WHAPI %v", got.ActiveTill, sc.ActiveTill)
			}
			e.checkBooks()
		})
	}
}

// The process stops between reserving and settling; the next one repairs it.
func TestCrashBetweenReserveAndSettle(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 3, 15, 45)
	ch := e.create(u.ID, "shop")
	other := e.create(u.ID, "stock") // one open change per channel: the second crash is on another
	client := e.client()

	// 1. Reserved and sent, WHAPI applied it, then the process died.
	op, err := e.store.ReserveExtend(e.ctx, admin, ch.ID, 4, "crash after send")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.MarkSent(e.ctx, op.ID); err != nil {
		t.Fatal(err)
	}
	if err := client.ExtendChannel(e.ctx, ch.RemoteID(), 4, "crash after send"); err != nil {
		t.Fatal(err)
	}
	// 2. Reserved, never sent.
	if _, err := e.store.ReserveExtend(e.ctx, admin, ch.ID, 6, "a second change while the first is open"); !errors.Is(err, models.ErrChannelBusy) {
		t.Fatalf("a second open change of one channel: %v, want ErrChannelBusy", err)
	}
	if _, err := e.store.ReserveExtend(e.ctx, admin, other.ID, 6, "crash before send"); err != nil {
		t.Fatal(err)
	}
	// 3. A create reserved and sent; WHAPI made it; the process died.
	pending, cop, err := e.store.ReserveChannel(e.ctx, admin, u.ID, "second", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.MarkSent(e.ctx, cop.ID); err != nil {
		t.Fatal(err)
	}
	st, _ := e.store.Settings(e.ctx)
	if _, err := client.CreateChannel(e.ctx, whapi.CreateChannelRequest{Name: remoteName(st.InstallID, pending), ProjectID: st.ProjectID}); err != nil {
		t.Fatal(err)
	}
	if b := e.user(u.ID).DayBalance; b != 35 {
		t.Fatalf("balance before restart %d, want 45 − 4 − 6", b)
	}

	rep, err := e.newService().Reconcile(e.ctx) // the restarted process
	if err != nil || rep.Settled != 3 {
		t.Fatalf("reconcile: %+v %v", rep, err)
	}
	if b := e.user(u.ID).DayBalance; b != 41 {
		t.Fatalf("balance after reconcile %d, want 45 − 4", b)
	}
	if got := e.channel(pending.ID); got.RemoteID() == "" || !HoldsSlot(got.Status) {
		t.Fatalf("the created channel was not adopted: %+v", got)
	}
	if e.simLive() != 3 {
		t.Fatalf("WHAPI has %d channels", e.simLive())
	}
	e.checkBooks()
}

func TestDeleteReturnsUnusedPaidDays(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 20, Comment: "paid"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3 * 24 * time.Hour) // still in the 5-day trial: all 20 paid days unused
	preview := e.svc.View(e.channel(ch.ID)).UnusedDays
	days, err := e.svc.Delete(e.ctx, admin, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := e.sim.Channel(ch.RemoteID())
	if days != 20 || preview != days || int64(sc.RefundedDays) != days {
		t.Fatalf("returned %d (preview %d), WHAPI refunded %d", days, preview, sc.RefundedDays)
	}
	if b := e.user(u.ID).DayBalance; b != 30 {
		t.Fatalf("balance %d", b)
	}
	if got := e.channel(ch.ID); got.Status != models.ChannelDeleted {
		t.Fatalf("status %s", got.Status)
	}
	// The slot is free again.
	e.create(u.ID, "next")
	e.checkBooks()
}

func TestDeleteOfChannelGoneUpstreamCleansUp(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	client := e.client()
	if err := client.DeleteChannel(e.ctx, ch.RemoteID()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Delete(e.ctx, admin, ch.ID); err != nil {
		t.Fatalf("delete of a channel already gone: %v", err)
	}
	if got := e.channel(ch.ID); got.Status != models.ChannelDeleted {
		t.Fatalf("status %s", got.Status)
	}
	e.checkBooks()
}

func TestReconcileMarksGoneChannelsAndRemovesOrphans(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 2, 15, 30)
	a := e.create(u.ID, "a")
	b := e.create(u.ID, "b")
	client := e.client()
	if err := client.DeleteChannel(e.ctx, a.RemoteID()); err != nil { // deleted at WHAPI, not here
		t.Fatal(err)
	}
	st, _ := e.store.Settings(e.ctx)
	orphan := *b
	if _, err := client.CreateChannel(e.ctx, whapi.CreateChannelRequest{Name: remoteName(st.InstallID, &orphan), ProjectID: st.ProjectID}); err != nil {
		t.Fatal(err) // a duplicate of b, as a lost create answer could leave
	}
	other := whapi.CreateChannelRequest{Name: "someone else's [wd-ffffffff-2]", ProjectID: st.ProjectID}
	if _, err := client.CreateChannel(e.ctx, other); err != nil {
		t.Fatal(err)
	}
	rep, err := e.svc.Reconcile(e.ctx)
	if err != nil || rep.Gone != 1 || rep.Orphans != 1 || rep.Synced != 1 {
		t.Fatalf("reconcile: %+v %v", rep, err)
	}
	if got := e.channel(a.ID); got.Status != models.ChannelDeleted {
		t.Fatalf("gone channel: %s", got.Status)
	}
	if e.simLive() != 2 { // b and the other installation's channel
		t.Fatalf("WHAPI has %d channels, want 2", e.simLive())
	}
	e.checkBooks()
}

func TestAutoAndManualAllocation(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 2, 30, 60)
	ch := e.create(u.ID, "shop") // manual: nothing allocated
	if got := e.channel(ch.ID); got.DaysAllocated != 0 {
		t.Fatalf("manual mode allocated %d days on create", got.DaysAllocated)
	}
	if err := e.svc.CreditDays(e.ctx, admin, u.ID, 10, "bonus"); err != nil {
		t.Fatal(err)
	}
	if rep, _ := e.svc.AutoTopUp(e.ctx); rep.Extended != 0 || e.channel(ch.ID).DaysAllocated != 0 {
		t.Fatal("manual mode moved days by itself")
	}

	if err := e.store.SetAllocationMode(e.ctx, admin, u.ID, models.AllocationAuto); err != nil {
		t.Fatal(err)
	}
	if e.channel(ch.ID).DaysAllocated != 0 {
		t.Fatal("switching mode moved days (it changes only what happens next)")
	}
	if err := e.svc.CreditDays(e.ctx, admin, u.ID, 5, "more"); err != nil {
		t.Fatal(err)
	}
	if got := e.channel(ch.ID).DaysAllocated; got != 30 {
		t.Fatalf("auto mode: credit allocated %d days, want one period (30)", got)
	}
	second := e.create(u.ID, "second") // auto: allocated on create, up to the balance
	if got := e.channel(second.ID).DaysAllocated; got != 30 {
		t.Fatalf("auto mode: create allocated %d days", got)
	}
	if b := e.user(u.ID).DayBalance; b != 15 {
		t.Fatalf("balance %d, want 75 − 60", b)
	}
	// Nothing is due yet; when a channel's end nears, the job tops it up,
	// never beyond the balance.
	if rep, _ := e.svc.AutoTopUp(e.ctx); rep.Extended != 0 {
		t.Fatalf("topped up early: %+v", rep)
	}
	e.clock.Advance(33*24*time.Hour + time.Hour) // 5 trial + 1 + 30 paid days: under 3 left
	rep, err := e.svc.AutoTopUp(e.ctx)
	if err != nil || rep.Extended != 1 || rep.Days != 15 {
		t.Fatalf("top-up: %+v %v (want one channel, the last 15 days)", rep, err)
	}
	if b := e.user(u.ID).DayBalance; b != 0 {
		t.Fatalf("balance %d", b)
	}
	e.checkBooks()
}
