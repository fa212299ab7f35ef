//go:build long

package provision

// A seeded random fault campaign over the whole channel lifecycle (issue 5,
// item 3): several customers, some in auto and some in manual mode, drive
// plans, credits, creates, extends, deletes, mode switches, the connect page,
// syncs, top-ups and reconciles from concurrent goroutines while the
// simulated WHAPI misbehaves on about a third of the requests: hangs past the
// client timeout, answers lost after the change applied, 5xx, 429, malformed
// JSON and slow answers. Between rounds, with the faults cleared, Reconcile
// settles everything and the books are checked: every day accounted for,
// one WHAPI channel per live channel, nothing left half-done, plans never
// exceeded, no balance ever negative.
//
// Run it with `make test-long` or
//
//	go test -race -count=1 -tags long -run '^TestLongFaultCampaign' ./provision/
//
// It uses a fixed seed; WHAPIDESK_CAMPAIGN_SEED=<n> replays another one (the
// seed is printed first). The interleaving of goroutines is up to the
// scheduler, so a seed fixes what each goroutine does and which requests are
// faulted, not the exact order.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/whapi"
	"whapidesk/whapi/whapisim"
)

// campaignSeed is the default seed of TestLongFaultCampaign.
const campaignSeed uint64 = 20261125

const (
	// campTimeout is the WHAPI client's per-call timeout while a round
	// runs with faults on: short, so hangs cost little wall time.
	campTimeout = 200 * time.Millisecond
	// campCalmTimeout is the client's per-call timeout while the faults
	// are off (setup, the settle phases, the connect check, the last
	// top-up): production's. Nothing hangs then, so a call only takes as
	// long as the machine needs, and a busy machine (the simulator draws
	// each QR as a PNG, slow under -race) can need more than campTimeout
	// for a fault-free call: the checks wait for the answer instead of
	// failing on it.
	campCalmTimeout = whapi.DefaultTimeout
	// campWorkTimeout bounds a workflow once it has reserved something
	// (Service.WorkTimeout). In production it is 60 s against a 2 min
	// SettleAfter; here it must stay well below campSettleAfter divided by
	// the speed of the simulated clock during a round (see campTick).
	campWorkTimeout = 1500 * time.Millisecond
	// campSettleAfter is Service.SettleAfter, in simulated time.
	campSettleAfter = 2 * time.Minute
	// During a round the simulated clock moves campTick every
	// campTickEvery of real time (40× real time): 2 simulated minutes take
	// 3 s, twice as long as any workflow may run (campWorkTimeout), so a
	// concurrent Reconcile never judges a change still on its way to WHAPI
	// — the same ordering as production's 60 s work timeout and 2 min
	// SettleAfter.
	campTick      = time.Second
	campTickEvery = 25 * time.Millisecond
	// campStartup is how long a new simulated channel takes to show a QR.
	campStartup = 3 * time.Second

	// campWatchdog ends a campaign that stopped moving: nothing (an
	// action, a reconcile, a channel's connect check) finished for that
	// long. It measures progress, not the campaign's length, which a busy
	// machine stretches.
	campWatchdog = 4 * time.Minute
	// campDrain bounds the wait, at the end of a round, for WHAPI to
	// finish the requests it was sent (the longest fault holds one for
	// 3×campTimeout): generous, so that load only makes it slower.
	campDrain = time.Minute

	campWorkers   = 6
	campActions   = 40 // per worker per round
	campMinRounds = 8
	campMaxRounds = 40
	campMinFaults = 1000
	// campFaultRate is the share of requests that get a fault, on an
	// endpoint faultRates does not list.
	campFaultRate = 0.33
)

func TestLongFaultCampaign(t *testing.T) {
	seed := campaignSeed
	if s := os.Getenv("WHAPIDESK_CAMPAIGN_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			t.Fatalf("WHAPIDESK_CAMPAIGN_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("fault campaign seed %d (replay with WHAPIDESK_CAMPAIGN_SEED=%d)", seed, seed)
	fmt.Printf("fault campaign seed %d (replay with WHAPIDESK_CAMPAIGN_SEED=%d)\n", seed, seed)

	c := newCampaign(t, seed)
	// A deadlock (one was found this way) fails fast, with every stack.
	defer c.watchdog()()
	start := time.Now()
	rounds := 0
	for round := 0; round < campMaxRounds; round++ {
		if round >= campMinRounds && c.faultsHit() >= campMinFaults {
			break
		}
		c.runRound(round)
		c.settle(fmt.Sprintf("round %d", round), round%3 == 2)
		rounds++
		if t.Failed() {
			break
		}
		// Days pass between rounds: trials end, channels near their end
		// (top-up window) or run out.
		c.e.clock.Advance(time.Duration(12+c.rng.IntN(84)) * time.Hour)
	}
	if !t.Failed() {
		c.finalChecks()
	}
	c.report(rounds, time.Since(start))
	if !t.Failed() && c.faultsHit() < campMinFaults {
		t.Fatalf("only %d faults hit in %d rounds, want at least %d", c.faultsHit(), rounds, campMinFaults)
	}
}

// campCustomer is one customer of the campaign, on one of two plans of the
// same size: switching between them credits a period's days and keeps the
// limit the monitor checks (a plan smaller than the customer's channels is
// refused by ActivatePlan, a case of its own).
type campCustomer struct {
	id    int64
	name  string
	max   int64
	plans [2]int64
}

type campaign struct {
	t    *testing.T
	e    *env
	seed uint64
	rng  *rand.Rand // the main goroutine's

	fs     *faultServer
	srv    *httptest.Server
	svc    atomic.Pointer[Service]
	direct *whapi.Client // to WHAPI without faults, behind the app's back
	// The current process's WHAPI clients, one connection pool: fast
	// (campTimeout) while faults are on, calm (campCalmTimeout) while
	// they are off. Only the main goroutine switches them, between
	// rounds, when no other goroutine uses the service.
	fast, calm *whapi.Client

	customers []campCustomer

	mu       sync.Mutex
	actions  map[string]*actionStat
	errs     map[string]int
	faults   map[string]int // by kind
	byPoint  map[string]int // by endpoint
	requests int
	hits     int
	breaches map[string]bool

	progress    atomic.Int64 // things finished, for the watchdog
	reconciles  atomic.Int64 // Reconcile runs
	settled     atomic.Int64 // operations settled by Reconcile
	orphans     atomic.Int64 // duplicate WHAPI channels removed by Reconcile
	checks      atomic.Int64 // plan/balance checks made while rounds ran
	restarts    int
	settleRuns  int
	connectDone int
}

type actionStat struct{ tried, ok, failed int }

func newCampaign(t *testing.T, seed uint64) *campaign {
	e := newEnv(t, func(o *envOpts) {
		o.sim.BalanceDays = 1_000_000
		o.sim.StartupDelay = campStartup
	})
	c := &campaign{t: t, e: e, seed: seed, rng: rand.New(rand.NewPCG(seed, 0)),
		actions: map[string]*actionStat{}, errs: map[string]int{}, faults: map[string]int{}, byPoint: map[string]int{},
		breaches: map[string]bool{}}
	c.fs = &faultServer{sim: e.sim}
	c.srv = httptest.NewServer(c.fs)
	t.Cleanup(c.srv.Close)
	c.svc.Store(c.newService())
	c.direct = e.client()

	// Customers: four in auto mode, four in manual, plans of 1 to 4
	// channels, made through the service as the admin pages do.
	svc := c.svc.Load()
	for i := range 8 {
		name := fmt.Sprintf("cust%d", i)
		u, err := svc.CreateUser(e.ctx, admin, models.NewUser{Email: name + "@example.com", Name: name, Password: "long enough pw", Role: models.RoleCustomer})
		if err != nil {
			t.Fatal(err)
		}
		cc := campCustomer{id: u.ID, name: name, max: int64(1 + i%4)}
		for j := range 2 {
			p, err := svc.CreatePlan(e.ctx, admin, models.PlanInput{Name: fmt.Sprintf("%s-%c", name, 'a'+j), MaxChannels: cc.max,
				DaysPerPeriod: int64(10 + 10*j + c.rng.IntN(10)), PeriodDays: 30})
			if err != nil {
				t.Fatal(err)
			}
			cc.plans[j] = p.ID
		}
		if i%2 == 0 {
			if err := e.store.SetAllocationMode(e.ctx, admin, u.ID, models.AllocationAuto); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.ActivatePlan(e.ctx, admin, u.ID, cc.plans[0]); err != nil {
			t.Fatal(err)
		}
		c.customers = append(c.customers, cc)
	}
	return c
}

// newService is what a (re)started process builds: WHAPI clients with
// quick GET retries, pointed at the faulty server. It starts with the calm
// client (faults off); runRound switches to the fast one.
func (c *campaign) newService() *Service {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}
	client := func(timeout time.Duration) *whapi.Client {
		return whapi.New(c.srv.URL, c.srv.URL, c.e.store, whapi.WithHTTPClient(hc), whapi.WithRetries(2, 5*time.Millisecond),
			whapi.WithTimeout(timeout), whapi.WithLogger(slog.New(slog.DiscardHandler)))
	}
	c.fast, c.calm = client(campTimeout), client(campCalmTimeout)
	svc := New(c.e.store, c.calm, slog.New(slog.DiscardHandler))
	svc.SetClock(c.e.clock.Now)
	svc.SettleAfter = campSettleAfter
	svc.WorkTimeout = campWorkTimeout
	svc.Concurrency = 4
	return svc
}

// faultServer serves the simulator, first queuing (through its own
// InjectFault) a fault for a seeded share of the requests, aimed at the
// request's own method and path. It counts the requests in flight, so a
// settle phase can wait until WHAPI has finished everything it was sent.
//
// Only faults the simulator records as having hit a request are counted.
// When an aborting fault closes a reused connection under a GET, Go's
// transport silently sends the GET once more (see whapisim.Fault): that
// retry is one more request here, faulted or not by its own draw.
// Concurrent requests to the same path may take each other's fault; it
// still hits one of them.
type faultServer struct {
	sim      *whapisim.Sim
	inflight atomic.Int64
	on       atomic.Bool
	mu       sync.Mutex
	rng      *rand.Rand
}

func (f *faultServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.inflight.Add(1)
	defer f.inflight.Add(-1)
	if f.on.Load() {
		if fault, ok := f.pick(r.Method, r.URL.Path); ok {
			f.sim.InjectFault(fault)
		}
	}
	f.sim.ServeHTTP(w, r)
}

// faultRates is the share of requests to an endpoint that get a fault:
// lower on the reads every workflow makes, higher on the changes, so the
// faults spread over the endpoints.
var faultRates = map[string]float64{
	"GET /channels/{id}":         0.15,
	"GET /channels/list":         0.35,
	"PUT /channels":              0.5,
	"POST /channels/{id}/extend": 0.45,
	"PATCH /channels/{id}/mode":  0.5,
	"DELETE /channels/{id}":      0.45,
	"GET /health":                0.3,
	"GET /users/login":           0.35,
	"GET /users/login/{phone}":   0.4,
	"GET /projects":              0.4,
}

// campShapes are the error bodies of the 5xx faults; camp2xxShapes those a
// 2xx answer carries when it says it failed.
var (
	campShapes = []whapisim.ErrorShape{whapisim.ShapeWHAPI, whapisim.ShapeFlat, whapisim.ShapeMessage,
		whapisim.ShapeText, whapisim.ShapeHTML, whapisim.ShapeEmpty, whapisim.ShapeSuccessFalse}
	camp2xxShapes = []whapisim.ErrorShape{whapisim.ShapeWHAPI, whapisim.ShapeFlat, whapisim.ShapeSuccessFalse}
)

func (f *faultServer) pick(method, path string) (whapisim.Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rate, ok := faultRates[endpointOf(method, path)]
	if !ok {
		rate = campFaultRate
	}
	if f.rng == nil || f.rng.Float64() >= rate {
		return whapisim.Fault{}, false
	}
	fault := whapisim.Fault{Method: method, Path: path}
	switch n := f.rng.IntN(100); {
	case n < 16: // no answer, nothing applied: the client times out
		fault.Kind, fault.Delay = whapisim.FaultHang, 3*campTimeout
	case n < 32: // applied, then the connection is reset
		fault.Kind = whapisim.FaultLostAfterApply
	case n < 52: // in any error body shape (WHAPI's, flat, text, a proxy's page, …)
		fault.Kind, fault.Status = whapisim.FaultStatus, []int{500, 502, 503, 504}[f.rng.IntN(4)]
		fault.Shape = campShapes[f.rng.IntN(len(campShapes))]
	case n < 62:
		fault.Kind, fault.Status = whapisim.FaultStatus, http.StatusTooManyRequests
	case n < 70:
		fault.Kind = whapisim.FaultMalformed
	case n < 73: // a failure under a 2xx, nothing applied
		fault.Kind, fault.Shape = whapisim.FaultErrorIn2xx, camp2xxShapes[f.rng.IntN(len(camp2xxShapes))]
	case n < 76: // applied, then answered 200 with an error body, or a proxy's 504 page
		fault.Kind, fault.Shape = whapisim.FaultAppliedWithError, camp2xxShapes[f.rng.IntN(len(camp2xxShapes))]
		if f.rng.IntN(3) == 0 {
			fault.Status, fault.Shape = http.StatusGatewayTimeout, whapisim.ShapeHTML
		}
	case n < 84 && path == "/users/login": // a QR without a usable expire
		fault.Kind, fault.Expire = whapisim.FaultQRExpire, []string{"", "0", "-5", "1e12"}[f.rng.IntN(4)]
	case n < 88: // slow but in time
		fault.Kind, fault.Delay = whapisim.FaultLatency, campTimeout/8+time.Duration(f.rng.Int64N(int64(campTimeout/4)))
	default: // slower than the client waits: it times out, nothing applied
		fault.Kind, fault.Delay = whapisim.FaultLatency, 2*campTimeout
	}
	return fault, true
}

// runRound runs the workers, the background jobs, the clock and the
// monitor concurrently, with faults on.
func (c *campaign) runRound(round int) {
	c.fs.mu.Lock()
	c.fs.rng = rand.New(rand.NewPCG(c.seed, uint64(1000+round)))
	c.fs.mu.Unlock()
	c.svc.Load().whapi = c.fast
	c.fs.on.Store(true)

	ctx, cancel := context.WithCancel(c.e.ctx)
	var bg sync.WaitGroup
	bg.Go(func() { // the clock
		tk := time.NewTicker(campTickEvery)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				c.e.clock.Advance(campTick)
			}
		}
	})
	bg.Go(func() { // the background jobs, as main.go runs them
		rng := rand.New(rand.NewPCG(c.seed, uint64(2000+round)))
		for ctx.Err() == nil {
			c.act(ctx, rng, "topup")
			c.act(ctx, rng, "reconcile")
			sleep(ctx, time.Duration(80+rng.IntN(120))*time.Millisecond)
		}
	})
	bg.Go(func() { // plan limit and balances, all the time
		for ctx.Err() == nil {
			c.checkLimits("while running")
			sleep(ctx, 15*time.Millisecond)
		}
	})
	var workers sync.WaitGroup
	for w := range campWorkers {
		workers.Go(func() {
			rng := rand.New(rand.NewPCG(c.seed, uint64(round*100+w+1)))
			for range campActions {
				c.act(ctx, rng, pickAction(rng))
				sleep(ctx, time.Duration(rng.IntN(8))*time.Millisecond)
			}
		})
	}
	workers.Wait()
	cancel()
	bg.Wait()
	c.checkLimits("end of round")
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

var campActionWeights = []struct {
	name   string
	weight int
}{
	{"create", 14}, {"extend", 14}, {"delete", 7}, {"credit", 5}, {"activate", 2}, {"renew", 2}, {"mode", 4},
	{"connect", 12}, {"qr", 5}, {"pairing", 4}, {"phone scans", 3}, {"sync", 8}, {"preview", 2},
	{"topup", 4}, {"reconcile", 4}, {"testconn", 2}, {"duplicate upstream", 1},
}

func pickAction(rng *rand.Rand) string {
	total := 0
	for _, a := range campActionWeights {
		total += a.weight
	}
	n := rng.IntN(total)
	for _, a := range campActionWeights {
		if n < a.weight {
			return a.name
		}
		n -= a.weight
	}
	panic("unreachable")
}

// act does one action the way a handler or a job would, and counts it.
func (c *campaign) act(ctx context.Context, rng *rand.Rand, kind string) {
	svc := c.svc.Load()
	e := c.e
	cu := c.customers[rng.IntN(len(c.customers))]
	var err error
	var target int64 // the channel acted on
	skipped := false
	switch kind {
	case "create":
		phone := ""
		if rng.IntN(3) == 0 {
			phone = fmt.Sprintf("+973 %08d", rng.IntN(100_000_000))
		}
		_, err = svc.CreateChannel(ctx, admin, CreateInput{UserID: cu.id, Name: fmt.Sprintf("line %d", rng.IntN(1000)), Phone: phone})
	case "extend":
		// Mostly customers who start in manual mode (odd indices):
		// extending is their admin's job.
		if rng.IntN(10) < 7 {
			cu = c.customers[2*rng.IntN(len(c.customers)/2)+1]
		}
		ch := c.someChannel(cu.id, rng, models.ChannelTrial, models.ChannelActive, models.ChannelExpired)
		if ch == nil {
			skipped = true
			break
		}
		_, err = svc.Extend(ctx, admin, ExtendInput{ChannelID: ch.ID, Days: int64(1 + rng.IntN(20)), Comment: "campaign extend"})
	case "delete":
		ch := c.someChannel(cu.id, rng)
		if ch == nil {
			skipped = true
			break
		}
		_, err = svc.Delete(ctx, admin, ch.ID)
	case "preview":
		ch := c.someChannel(cu.id, rng)
		if ch == nil {
			skipped = true
			break
		}
		var fresh *models.Channel
		if fresh, err = e.store.ChannelByID(ctx, ch.ID); err == nil {
			_ = svc.View(fresh).UnusedDays
		}
	case "credit":
		err = svc.CreditDays(ctx, admin, cu.id, int64(1+rng.IntN(40)), "campaign credit")
	case "activate":
		sub, serr := e.store.ActiveSubscription(ctx, cu.id)
		if serr != nil {
			err = serr
			break
		}
		next := cu.plans[0]
		if sub.PlanID == next {
			next = cu.plans[1]
		}
		_, err = svc.ActivatePlan(ctx, admin, cu.id, next)
	case "renew":
		_, err = svc.RenewSubscription(ctx, admin, cu.id)
	case "mode":
		u, uerr := e.store.UserByID(ctx, cu.id)
		if uerr != nil {
			err = uerr
			break
		}
		mode := models.AllocationAuto
		if u.AllocationMode == models.AllocationAuto {
			mode = models.AllocationManual
		}
		err = e.store.SetAllocationMode(ctx, admin, cu.id, mode) // as the admin handlers do
	case "connect", "qr", "pairing", "phone scans", "sync":
		ch := c.someChannel(cu.id, rng, models.ChannelTrial, models.ChannelActive, models.ChannelExpired, models.ChannelPending)
		if ch == nil {
			skipped = true
			break
		}
		target = ch.ID
		switch kind {
		case "connect":
			_, err = svc.ConnectState(ctx, ch.ID)
		case "qr":
			_, _, err = svc.QRImage(ctx, ch.ID)
		case "pairing":
			_, err = svc.PairingCode(ctx, models.SystemActor, ch.ID, fmt.Sprintf("+973 %08d", rng.IntN(100_000_000)))
		case "phone scans": // the customer's phone scans the QR (not the app)
			if ch.RemoteID() == "" {
				skipped = true
				break
			}
			err = e.sim.LinkChannel(ch.RemoteID(), fmt.Sprintf("973%08d", rng.IntN(100_000_000)))
		case "sync":
			_, err = svc.Sync(ctx, ch.ID)
		}
	case "topup":
		_, err = svc.AutoTopUp(ctx)
	case "reconcile":
		var rep ReconcileReport
		rep, err = svc.Reconcile(ctx)
		c.reconciles.Add(1)
		c.settled.Add(int64(rep.Settled))
		c.orphans.Add(int64(rep.Orphans))
	case "testconn":
		_, _, err = svc.TestConnection(ctx, admin)
	case "duplicate upstream":
		// A second WHAPI channel named for one of ours, as a create whose
		// answer was lost and was then sent again would leave (made behind
		// the app's back, without faults): Reconcile must remove it, or
		// adopt it for a channel still pending.
		ch := c.someChannel(cu.id, rng)
		if ch == nil {
			skipped = true
			break
		}
		st, serr := e.store.Settings(ctx)
		if serr != nil {
			err = serr
			break
		}
		_, err = c.direct.CreateChannel(ctx, whapi.CreateChannelRequest{Name: remoteName(st.InstallID, ch), ProjectID: st.ProjectID})
	default:
		c.t.Errorf("unknown action %q", kind)
	}
	c.progress.Add(1)
	if skipped {
		return
	}
	label, known := errClass(err)
	if errors.Is(err, whapi.ErrUnauthorized) && (kind == "connect" || kind == "qr" || kind == "pairing") {
		// The gate refuses the token of a channel deleted while its
		// connect page was being read (its delete raced the page); for
		// a channel still there, a 401 is a bug.
		label, known = "gate 401: channel deleted meanwhile", c.gone(target)
	}
	if !known {
		c.t.Errorf("%s: unexpected error: %v", kind, err)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.actions[kind]
	if st == nil {
		st = &actionStat{}
		c.actions[kind] = st
	}
	st.tried++
	if err == nil {
		st.ok++
	} else {
		st.failed++
		c.errs[label]++
	}
}

// watchdog panics, with every goroutine's stack, when the campaign makes
// no progress during a whole campWatchdog period; the function it returns
// stops it.
func (c *campaign) watchdog() (stop func()) {
	done := make(chan struct{})
	go func() {
		tk := time.NewTicker(campWatchdog)
		defer tk.Stop()
		last := c.progress.Load()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
			}
			now := c.progress.Load()
			if now != last {
				last = now
				continue
			}
			buf := make([]byte, 1<<22)
			n := runtime.Stack(buf, true)
			fmt.Fprintf(os.Stderr, "%s\n", buf[:n])
			panic(fmt.Sprintf("fault campaign (seed %d) made no progress for %s: a deadlock? every goroutine's stack is above", c.seed, campWatchdog))
		}
	}()
	return func() { close(done) }
}

// gone reports whether a channel is being deleted or deleted.
func (c *campaign) gone(channelID int64) bool {
	ch, err := c.e.store.ChannelByID(c.e.ctx, channelID)
	return err == nil && (ch.Status == models.ChannelDeleting || ch.Status == models.ChannelDeleted)
}

// someChannel picks one of a customer's channels (not deleted or failed),
// of the given states if any.
func (c *campaign) someChannel(userID int64, rng *rand.Rand, states ...models.ChannelStatus) *models.Channel {
	chs, err := c.e.store.ChannelsByUser(c.e.ctx, userID)
	if err != nil {
		c.t.Errorf("channels of %d: %v", userID, err)
		return nil
	}
	if len(states) > 0 {
		chs = slices.DeleteFunc(chs, func(ch models.Channel) bool { return !slices.Contains(states, ch.Status) })
	}
	if len(chs) == 0 {
		return nil
	}
	return &chs[rng.IntN(len(chs))]
}

// errClass names an error and says whether it is one a user or a job may
// meet when WHAPI misbehaves (anything else fails the test).
func errClass(err error) (string, bool) {
	var rl *RetryLaterError
	var soon *ExtendTooSoonError
	var fe FieldErrors
	var pe *ProjectError
	switch {
	case err == nil:
		return "", true
	case errors.As(err, &fe):
		return "invalid input " + fe.Error(), false
	case errors.As(err, &pe):
		// A "Test connection" that met a fault leaves the project
		// unchecked; a create then asks WHAPI first, and may meet a fault
		// too. WHAPI always lists the campaign's project: "unknown" is a bug.
		return "project not confirmed, nothing changed", pe.Unchecked
	case errors.As(err, &rl):
		return "retry later (429)", true
	case errors.As(err, &soon):
		return "extended too soon (cool-down)", true
	case errors.Is(err, ErrOutcomeUnknown):
		return "outcome unknown", true
	case errors.Is(err, ErrUnavailable):
		return "not read first, nothing changed", true
	case errors.Is(err, ErrPartnerShort):
		return "partner short", true
	case errors.Is(err, ErrRefused):
		return "refused upstream", true
	case errors.Is(err, models.ErrPlanLimit):
		return "plan limit", true
	case errors.Is(err, models.ErrInsufficientBalance):
		return "balance too small", true
	case errors.Is(err, models.ErrChannelBusy):
		return "channel busy", true
	case errors.Is(err, models.ErrAlreadyDeleted):
		return "already deleted", true
	case errors.Is(err, models.ErrAlreadyOnPlan):
		return "already on plan", true
	case errors.As(err, new(*models.PlanTooSmallError)):
		// A plan change that would leave the customer more live channels
		// than the new plan allows is refused, as designed.
		return "plan too small for the live channels", true
	case errors.Is(err, ErrNoQR):
		return "no QR now", true
	case errors.Is(err, ErrAlreadyLinked):
		return "already linked", true
	case errors.Is(err, models.ErrSettled):
		return "settled meanwhile", true
	case errors.Is(err, whapisim.ErrNoQR), errors.Is(err, whapisim.ErrAlreadyLinked), errors.Is(err, whapisim.ErrChannelNotFound):
		return "phone could not scan", true
	case errors.Is(err, whapi.ErrTimeout):
		return "whapi timeout", true
	case errors.Is(err, whapi.ErrUnreachable):
		return "whapi connection lost", true
	case errors.Is(err, whapi.ErrUpstream):
		return "whapi 5xx/malformed", true
	case errors.Is(err, whapi.ErrFailedIn2xx):
		return "whapi failure in a 2xx", true
	case errors.Is(err, whapi.ErrRateLimited):
		return "whapi 429", true
	case errors.Is(err, whapi.ErrRefused), errors.Is(err, whapi.ErrNotFound), errors.Is(err, whapi.ErrConflict):
		return "whapi 4xx", true
	case errors.Is(err, context.DeadlineExceeded):
		// The workflow ran out of its WorkTimeout (after several calls
		// that hung): what it left open, Reconcile settles.
		return "work timeout", true
	case errors.Is(err, context.Canceled):
		return "stopped at the end of a round", true
	}
	return err.Error(), false
}

// running are the states design §2 calls live (invariant 1): the ones
// that run at WHAPI or are about to. (A plan slot, HoldsSlot, is also held
// by a channel being deleted, which may come back.)
var running = []models.ChannelStatus{models.ChannelPending, models.ChannelTrial, models.ChannelActive}

// checkLimits asserts invariant 1 and the first half of 2 at any moment:
// live channels within the plan, balances never negative.
func (c *campaign) checkLimits(where string) {
	ctx := c.e.ctx
	for _, cu := range c.customers {
		chs, err := c.e.store.ChannelsByUser(ctx, cu.id)
		if err != nil {
			c.t.Errorf("%s: channels: %v", where, err)
			return
		}
		n := int64(0)
		for _, ch := range chs {
			if slices.Contains(running, ch.Status) {
				n++
			}
		}
		if n > cu.max && c.firstBreach("plan", cu.id) {
			c.t.Errorf("%s: %s has %d live channels, plan allows %d", where, cu.name, n, cu.max)
		}
		u, err := c.e.store.UserByID(ctx, cu.id)
		if err != nil {
			c.t.Errorf("%s: user: %v", where, err)
			return
		}
		if u.DayBalance < 0 && c.firstBreach("balance", cu.id) {
			c.t.Errorf("%s: %s has a negative balance %d", where, cu.name, u.DayBalance)
		}
	}
	c.checks.Add(1)
}

// firstBreach reports whether a breach of this kind by this customer is
// the first one seen (the monitor reports each once, not every tick).
func (c *campaign) firstBreach(kind string, userID int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := fmt.Sprintf("%s/%d", kind, userID)
	if c.breaches[k] {
		return false
	}
	c.breaches[k] = true
	return true
}

// settle ends a round: faults off once WHAPI has answered everything it
// was sent, then Reconcile (by the same process, or a restarted one) until
// nothing is left open, then the books.
func (c *campaign) settle(where string, restart bool) {
	c.fs.on.Store(false)
	deadline := time.Now().Add(campDrain)
	for c.fs.inflight.Load() > 0 {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: WHAPI still busy with %d requests after %s", where, c.fs.inflight.Load(), campDrain)
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.e.sim.ClearFaults()
	c.collectRequests()

	if restart {
		c.svc.Store(c.newService())
		c.restarts++
	}
	svc := c.svc.Load()
	svc.whapi = c.calm // the round's goroutines have all ended
	for i := 0; ; i++ {
		c.progress.Add(1)
		c.e.clock.Advance(campSettleAfter + time.Second)
		rep, err := svc.Reconcile(c.e.ctx)
		c.reconciles.Add(1)
		c.settled.Add(int64(rep.Settled))
		c.orphans.Add(int64(rep.Orphans))
		c.settleRuns++
		if err != nil {
			c.t.Fatalf("%s: reconcile: %v", where, err)
		}
		open, err := c.e.store.OpenOperations(c.e.ctx, c.e.clock.Now().Add(24*time.Hour))
		if err != nil {
			c.t.Fatal(err)
		}
		if rep.Errors == 0 && len(open) == 0 {
			break
		}
		if i == 5 {
			c.t.Fatalf("%s: not settled after %d reconciles without faults: %+v, open %+v", where, i+1, rep, open)
		}
	}
	c.checkBooks(where)
	c.checkConnect(where)
	c.collectRequests()
}

// collectRequests counts the faults that hit (by kind and endpoint) and
// forgets the requests.
func (c *campaign) collectRequests() {
	reqs := c.e.sim.Requests()
	c.e.sim.ResetRequests()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests += len(reqs)
	for _, r := range reqs {
		if r.Fault == 0 {
			continue
		}
		c.hits++
		c.faults[faultLabel(r)]++
		c.byPoint[endpointOf(r.Method, r.Path)]++
	}
}

func (c *campaign) faultsHit() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits
}

func faultLabel(r whapisim.Request) string {
	switch r.Fault {
	case whapisim.FaultHang:
		return "hang past timeout (not applied)"
	case whapisim.FaultLostAfterApply:
		return "answer lost after apply (reset)"
	case whapisim.FaultMalformed:
		return "malformed JSON"
	case whapisim.FaultLatency:
		if r.Aborted {
			return "slow, past timeout"
		}
		return "slow, within timeout"
	case whapisim.FaultStatus:
		return "status " + strconv.Itoa(r.Status)
	}
	return r.Fault.String()
}

var (
	reChanPath  = regexp.MustCompile(`^/channels/[A-Z0-9-]+`)
	rePhonePath = regexp.MustCompile(`^/users/login/\d+$`)
)

func endpointOf(method, path string) string {
	switch {
	case rePhonePath.MatchString(path):
		path = "/users/login/{phone}"
	case strings.HasPrefix(path, "/channels/list"):
	default:
		path = reChanPath.ReplaceAllString(path, "/channels/{id}")
	}
	return method + " " + path
}

// checkBooks asserts, with everything settled, invariants 1, 2 and 5 and
// that whapidesk and WHAPI agree channel by channel.
func (c *campaign) checkBooks(where string) {
	t, e := c.t, c.e
	ctx := e.ctx
	t.Helper()
	fail := func(format string, args ...any) { t.Errorf("%s: "+format, append([]any{where}, args...)...) }

	if open, err := e.store.OpenOperations(ctx, e.clock.Now().Add(24*time.Hour)); err != nil || len(open) > 0 {
		fail("operations left open: %+v %v", open, err)
	}
	if mm, err := e.store.CheckLedger(ctx); err != nil || len(mm) > 0 {
		fail("balance ≠ ledger: %+v %v", mm, err)
	}
	sims := e.sim.Channels()
	var simDays int
	for _, sc := range sims {
		simDays += sc.ExtendedDays - sc.RefundedDays
	}
	pb, err := e.store.PartnerBalance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int64(simDays) != pb.Extended-pb.Returned {
		fail("WHAPI holds %d days in channels, whapidesk booked %d extended − %d returned", simDays, pb.Extended, pb.Returned)
	}
	if got, want := int64(e.sim.Balance()), int64(1_000_000)-(pb.Extended-pb.Returned); got != want {
		fail("WHAPI's partner balance %d, whapidesk's books say %d", got, want)
	}

	st, err := e.store.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := e.store.ListChannels(ctx, models.ChannelFilter{IncludeGone: true})
	if err != nil {
		t.Fatal(err)
	}
	byRemote := map[string]whapisim.ChannelState{}
	for _, sc := range sims {
		byRemote[sc.ID] = sc
	}
	local := map[string]models.Channel{} // by WHAPI id
	atWhapi := map[int64]int{}           // days each user has at WHAPI
	live := map[int64]int64{}
	for _, r := range rows {
		ch := r.Channel
		if ch.RemoteID() != "" {
			if _, dup := local[ch.RemoteID()]; dup {
				fail("two channels share WHAPI channel %s", ch.RemoteID())
			}
			local[ch.RemoteID()] = ch
			if sc, ok := byRemote[ch.RemoteID()]; ok {
				atWhapi[ch.UserID] += sc.ExtendedDays - sc.RefundedDays
			}
		}
		if slices.Contains(running, ch.Status) {
			live[ch.UserID]++
		}
		sc, ok := byRemote[ch.RemoteID()]
		switch ch.Status {
		case models.ChannelPending, models.ChannelDeleting:
			fail("channel %d left %s", ch.ID, ch.Status)
		case models.ChannelTrial, models.ChannelActive, models.ChannelExpired:
			if !ok || sc.Deleted {
				fail("channel %d (%s) has no channel at WHAPI", ch.ID, ch.Status)
				continue
			}
			if id, mine := markerID(st.InstallID, sc.Name); !mine || id != ch.ID {
				fail("channel %d is WHAPI channel %s named %q", ch.ID, sc.ID, sc.Name)
			}
			if ch.ActiveTill == nil || !ch.ActiveTill.Equal(sc.ActiveTill) {
				fail("channel %d active till %v, WHAPI %v", ch.ID, ch.ActiveTill, sc.ActiveTill)
			}
			if ch.Mode != sc.Mode {
				fail("channel %d mode %q, WHAPI %q", ch.ID, ch.Mode, sc.Mode)
			}
			want := models.ChannelActive
			switch {
			case !sc.ActiveTill.After(e.clock.Now()):
				want = models.ChannelExpired
			case sc.Mode == whapi.ModeTrial:
				want = models.ChannelTrial
			}
			if ch.Status != want {
				fail("channel %d is %s, WHAPI shows it %s", ch.ID, ch.Status, want)
			}
			if ch.DaysAllocated != int64(sc.ExtendedDays) {
				fail("channel %d has %d days allocated, WHAPI extended it by %d", ch.ID, ch.DaysAllocated, sc.ExtendedDays)
				c.logOps(ch.ID)
			}
			if ch.DaysAllocated > 0 && sc.Mode != whapi.ModeLive {
				fail("channel %d has %d paid days but is still in %q mode at WHAPI", ch.ID, ch.DaysAllocated, sc.Mode)
			}
		case models.ChannelDeleted:
			if ok && !sc.Deleted {
				fail("deleted channel %d still exists at WHAPI (%s)", ch.ID, sc.ID)
			}
		case models.ChannelFailed:
			if ch.RemoteID() != "" {
				fail("failed channel %d has WHAPI id %s", ch.ID, ch.RemoteID())
			}
		}
	}
	for _, sc := range sims {
		if sc.Deleted {
			continue
		}
		if _, mine := markerID(st.InstallID, sc.Name); !mine {
			fail("WHAPI channel %s %q is not ours", sc.ID, sc.Name)
			continue
		}
		ch, ok := local[sc.ID]
		if !ok {
			fail("WHAPI channel %s %q has no channel here (duplicate or orphan)", sc.ID, sc.Name)
			continue
		}
		if ch.Status == models.ChannelDeleted || ch.Status == models.ChannelFailed {
			fail("WHAPI channel %s still exists, channel %d is %s", sc.ID, ch.ID, ch.Status)
		}
	}
	for _, cu := range c.customers {
		if live[cu.id] > cu.max {
			fail("%s has %d live channels, plan allows %d", cu.name, live[cu.id], cu.max)
		}
		u, err := e.store.UserByID(ctx, cu.id)
		if err != nil {
			t.Fatal(err)
		}
		if u.DayBalance < 0 {
			fail("%s has a negative balance %d", cu.name, u.DayBalance)
		}
		// Every day credited to the customer is in their balance or in
		// one of their channels at WHAPI ...
		credited, perChannel := c.ledgerOf(cu.id)
		if credited != u.DayBalance+int64(atWhapi[cu.id]) {
			fail("%s: credited %d, balance %d + %d days in their channels at WHAPI", cu.name, credited, u.DayBalance, atWhapi[cu.id])
		}
		// ... and channel by channel, what the customer paid for a channel
		// is what WHAPI holds in it (deleted ones included: what WHAPI
		// refunded came back to the customer).
		for _, r := range rows {
			if r.UserID != cu.id {
				continue
			}
			held := 0
			sc, ok := byRemote[r.RemoteID()]
			if ok {
				held = sc.ExtendedDays - sc.RefundedDays
			}
			if paid := -perChannel[r.ID]; paid != int64(held) {
				fail("channel %d (%s): the customer paid %d days net, WHAPI holds %d (extended %d, refunded %d)",
					r.ID, r.Status, paid, held, sc.ExtendedDays, sc.RefundedDays)
				c.logOps(r.ID)
				t.Logf("  here: till %v, %d days allocated; WHAPI: till %v, trial end %v", r.ActiveTill, r.DaysAllocated, sc.ActiveTill, sc.Trial)
			}
		}
	}
}

// logOps logs the operations journalled for a channel, to explain a
// failure when its seed is replayed.
func (c *campaign) logOps(channelID int64) {
	for id := int64(1); ; id++ {
		op, err := c.e.store.OperationByID(c.e.ctx, id)
		if err != nil {
			return
		}
		if op.ChannelID == channelID {
			c.t.Logf("  op %d %s %d days: %s %q, till before %v, journalled %v, last changed %v",
				op.ID, op.Kind, op.Days, op.State, op.Result, op.TillBefore, op.CreatedAt, op.UpdatedAt)
		}
	}
}

// ledgerOf sums a customer's ledger: their plan and admin credits, and
// the net days moved for each of their channels (allocations, days given
// back after failed extends, refunds).
func (c *campaign) ledgerOf(userID int64) (credited int64, perChannel map[int64]int64) {
	perChannel = map[int64]int64{}
	for off := 0; ; off += 500 {
		es, err := c.e.store.Ledger(c.e.ctx, userID, 500, off)
		if err != nil {
			c.t.Fatal(err)
		}
		for _, le := range es {
			switch {
			case le.Kind == models.LedgerPlanCredit || le.Kind == models.LedgerAdminCredit:
				credited += le.Delta
			case le.ChannelID != nil:
				perChannel[*le.ChannelID] += le.Delta
			default:
				c.t.Errorf("ledger row %d of user %d moves %d days for no channel (%s)", le.ID, userID, le.Delta, le.Kind)
			}
		}
		if len(es) < 500 {
			return credited, perChannel
		}
	}
}

// finalChecks: a last top-up, and a last reconcile leaves the books whole.
func (c *campaign) finalChecks() {
	if _, err := c.svc.Load().AutoTopUp(c.e.ctx); err != nil {
		c.t.Errorf("last top-up: %v", err)
	}
	c.settle("final", true)
}

// checkConnect: with no faults, every running channel reaches the connect
// page's goal within a start-up — a QR to scan, or connected with the
// phone WHAPI shows — whatever it went through (expired and extended
// again, linked, restarted by the switch to live mode).
func (c *campaign) checkConnect(where string) {
	t, e := c.t, c.e
	svc := c.svc.Load()
	chs, _, err := e.store.ListChannels(e.ctx, models.ChannelFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range chs {
		if r.Status != models.ChannelTrial && r.Status != models.ChannelActive {
			continue
		}
		c.progress.Add(1)
		// No faults now, and the service talks to WHAPI with the calm
		// client (settle): a slow answer is waited for, so any error
		// here is one.
		var st *ConnectState
		for polls := 0; polls < 3; {
			st, err = svc.ConnectState(e.ctx, r.ID)
			if err != nil {
				t.Errorf("%s: connect page of channel %d without faults: %v", where, r.ID, err)
				break
			}
			if st.Phase != PhasePreparing {
				break
			}
			e.clock.Advance(campStartup + healthTTL)
			polls++
		}
		if err != nil {
			continue
		}
		sc, _ := e.sim.Channel(r.RemoteID())
		switch {
		case e.clock.Now().After(sc.ActiveTill):
			// ran out while we waited
		case sc.Linked && (st.Phase != PhaseConnected || st.Phone != sc.LinkedPhone):
			t.Errorf("%s: channel %d is linked to %s at WHAPI, the connect page shows %q", where, r.ID, sc.LinkedPhone, st.Phase)
		case !sc.Linked && st.Phase != PhaseWaiting:
			t.Errorf("%s: channel %d waits for a scan at WHAPI, the connect page shows %q", where, r.ID, st.Phase)
		default:
			c.connectDone++
		}
	}
}

// report prints the campaign's figures, to the test log and to stdout.
func (c *campaign) report(rounds int, elapsed time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("fault campaign: seed %d, %d rounds × %d workers × %d actions, %d WHAPI requests, %d faults hit, %s\n",
		c.seed, rounds, campWorkers, campActions, c.requests, c.hits, elapsed.Round(time.Second))
	table(&b, "faults by kind", c.faults)
	table(&b, "faults by endpoint", c.byPoint)
	w("%-34s %7s %7s %7s\n", "actions", "tried", "ok", "failed")
	names := make([]string, 0, len(c.actions))
	for k := range c.actions {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		a := c.actions[k]
		w("  %-32s %7d %7d %7d\n", k, a.tried, a.ok, a.failed)
	}
	table(&b, "failures by cause", c.errs)
	dt, _ := c.e.store.DayTotals(c.e.ctx)
	pb, _ := c.e.store.PartnerBalance(c.e.ctx)
	counts, _ := c.e.store.ChannelCounts(c.e.ctx)
	w("reconcile runs %d (%d in settle phases), operations settled by reconcile %d, orphans removed %d, restarts %d\n",
		c.reconciles.Load(), c.settleRuns, c.settled.Load(), c.orphans.Load(), c.restarts)
	w("days: credited %d, allocated %d, given back after failed extends %d, refunded on delete %d; at WHAPI: extended %d, returned %d\n",
		dt.Credited, dt.Allocated, dt.Corrected, dt.Returned, pb.Extended, pb.Returned)
	w("channels at the end: %v; connect pages checked %d; plan/balance checks while running %d\n", counts, c.connectDone, c.checks.Load())
	c.t.Log("\n" + b.String())
	_, _ = io.WriteString(os.Stdout, b.String())
}

func table(b *strings.Builder, title string, m map[string]int) {
	fmt.Fprintf(b, "%-34s %7s\n", title, "count")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y string) int {
		if m[x] != m[y] {
			return m[y] - m[x]
		}
		return strings.Compare(x, y)
	})
	for _, k := range keys {
		fmt.Fprintf(b, "  %-32s %7d\n", k, m[k])
	}
}
