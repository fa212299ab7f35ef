//go:build long

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"whapidesk/internal/testdb"
	"whapidesk/internal/testenv"
	"whapidesk/jobs"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi/whapisim"
)

// TestLongMultiInstance is issue 15's proof that whapidesk runs as several
// instances on one PostgreSQL: three `whapidesk serve` processes of the real
// binary on one database (a schema of its own on the server of
// WHAPIDESK_TEST_DATABASE_URL, scripts/test-pg.sh) and one WHAPI simulator in
// this test process, which outlives every process as WHAPI would. A
// round-robin client with 50 workers runs the whole lifecycle through the
// JSON API for 60 s: creates up to the plan limit (and past it, refused),
// an admin's extends of manual customers' channels, credits to auto-mode
// customers, deletes, QR codes polled by the channels' owners, and
// channel lists; an admin meanwhile flips one customer between manual and
// auto and widens the automatic top-up window. Midway one instance is killed
// with SIGKILL and started again. Each instance runs the periodic jobs (the
// top-up every 5 s, the reconcile every 10 s, set through
// WHAPIDESK_TOPUP_EVERY and WHAPIDESK_RECONCILE_EVERY as an operator would).
//
// Afterwards, once a reconcile that started after the load's last operation
// was abandoned (models.AbandonedAfter) has run and every process has been
// stopped, the database is opened directly and, with the simulator's
// request log, must show:
//
//   - Plan limits exact: sampled throughout the run, and at the end, no
//     customer has more live channels than their plan allows; creates past
//     the limit were refused (409 plan_limit), so the limit was reached.
//   - Balances: every customer's balance is the sum of their ledger, the
//     partner's estimate the sum of its ledger (running totals recounted),
//     and the days WHAPI holds in channels are the days booked as extended
//     minus returned. No operation is left open.
//   - Every WHAPI call accounted for, from the simulator's log, by endpoint:
//     each create WHAPI served is one WHAPI channel named for one of our
//     channels, which is that channel's (or, its answer lost, was deleted
//     at WHAPI as an orphan); each extend WHAPI applied is exactly one
//     allocation in the customer's ledger (same channel, days and comment)
//     whose operation is done and not given back, and every such allocation
//     is one extend WHAPI applied; each delete WHAPI served is a WHAPI
//     channel deleted here too (or an orphan); each mode switch is for a
//     channel with paid days; the reads (projects, list, get) change
//     nothing, and every gate call (health, QR) carries the token of a
//     channel of ours. No call to any other endpoint, none refused for its
//     token (but a gate call for a channel WHAPI had deleted by then: a QR
//     code fetched while another instance deleted the channel, whose owner
//     is told to try again), none refused by WHAPI's create limit, no 5xx;
//     no process logged an error but for that QR code.
//   - No channel extended twice for one due period: the top-up gives a due
//     channel one period's days (the plans' 30, more than any widening of
//     the window), so a second automatic extend for the same due period
//     finds the channel no longer due at WHAPI. From the simulator's log,
//     each channel's activeTill is replayed extend by extend: every
//     automatic extend ("Auto top-up for channel N": the periodic job, a
//     create's or a credit's allocation, on any instance) must have found
//     the channel due — no paid days yet, or activeTill before the time of
//     the call plus the top-up window then in force.
//   - The create budget never exceeded: no rolling 30 minutes holds more
//     than 20 creates WHAPI served, and WHAPI never had to refuse one (429):
//     the app refused first (429 create_budget), which the load saw.
//   - QR codes shared: a channel's QR code is fetched from WHAPI at most
//     once per QR lifetime between the instances (one more for a fetch
//     lease the killed instance held).
//
// Every answer a client was given is checked against the outcome as in the
// crash test (checkRecovered). -v prints the figures: requests by kind and
// answer, WHAPI calls by endpoint and instance, the kill, the durations.
//
// Run with: scripts/test-pg.sh go test -race -count=1 -v -tags long -run '^TestLongMultiInstance' .
// (make test-long). Without WHAPIDESK_TEST_DATABASE_URL it skips, unless
// CI=true. WHAPIDESK_CRASH_SEED=N repeats a run's choices.
func TestLongMultiInstance(t *testing.T) {
	if !testdb.Postgres() {
		why := "needs PostgreSQL: " + testdb.Variable + " is unset (run it with scripts/test-pg.sh, as make test-long does)"
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	began := time.Now()
	ctx := context.Background()
	seed := crashSeed(t)
	t.Logf("seed %d (WHAPIDESK_CRASH_SEED=%d repeats the choices)", seed, seed)
	rng := mrand.New(mrand.NewPCG(seed, 2))

	dir := t.TempDir()
	bin := whapideskBinary(t)
	built := time.Since(began)

	// WHAPI: one simulator for every process, with WHAPI's create limit (20
	// in 30 minutes) and without its extend cool-down: with it WHAPI would
	// refuse a second extend within five minutes, and a double extend
	// would hide as a refused call instead of showing as days given twice.
	tokBytes := make([]byte, 900)
	if _, err := rand.Read(tokBytes); err != nil {
		t.Fatal(err)
	}
	partnerToken := base64.RawURLEncoding.EncodeToString(tokBytes)
	const simBalance = 1_000_000
	sim := whapisim.New(whapisim.Options{PartnerToken: partnerToken, BalanceDays: simBalance, StartupDelay: -1,
		ExtendCoolDown: -1, QRLifetime: multiQRLifetime, ProjectIDs: []string{models.DefaultProjectID}, MaxRequests: 1 << 21})
	front := newSimFront(sim)
	ws := httptest.NewServer(front)
	t.Cleanup(ws.Close) // after the processes' cleanups, which run first

	database := testdb.New(t)
	key := randomKeyBase64(t, models.KeySize)
	unusedDB := filepath.Join(dir, "unused.db") // serve's --db; the URL wins
	baseEnv := cleanEnv("WHAPIDESK_SECRET_KEY="+key, "WHAPIDESK_DATABASE_URL="+database.URL,
		"WHAPIDESK_TOPUP_EVERY="+multiTopUpEvery.String(), "WHAPIDESK_RECONCILE_EVERY="+multiReconcileEvery.String())
	envOf := func(n int) []string {
		u := fmt.Sprintf("%s/i%d", ws.URL, n)
		return append(slices.Clone(baseEnv), "WHAPI_MANAGER_URL="+u, "WHAPI_GATE_URL="+u)
	}
	command := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = envOf(1)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("whapidesk %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
		}
		return out.String()
	}

	// The database, made as serve makes it; an admin and keys through the
	// binary's commands.
	made, err := openStore(ctx, Config{DatabaseURL: database.URL, DBPath: unusedDB, SecretKey: key}, newLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if err := made.Close(); err != nil {
		t.Fatal(err)
	}
	command("create-admin", "--email", crashAdmin, "--password", adminPassword)
	adminKey := lastLine(command("apikey", "create", "--email", crashAdmin, "--name", "multi test"))
	if !strings.HasPrefix(adminKey, models.APIKeyPrefix) {
		t.Fatalf("apikey create did not end with a key: %q", adminKey)
	}

	// Three instances, started one after the other.
	insts := make([]*multiInstance, multiInstances)
	var logs []*testenv.LogBuffer
	for i := range insts {
		in := &multiInstance{n: i + 1, env: envOf(i + 1)}
		in.tr = &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
		in.hc = &http.Client{Transport: in.tr, Timeout: 90 * time.Second}
		in.child = startCrashChild(t, bin, unusedDB, in.env)
		logs = append(logs, in.child.log)
		in.alive.Store(true)
		insts[i] = in
	}
	started := time.Since(began)
	admin := &crashAPI{base: insts[0].base(), key: adminKey, hc: insts[0].hc}

	// Settings, plans and customers through the first instance.
	var settings struct {
		Configured, Verified bool
		Window               int64 `json:"topup_window_days"`
	}
	admin.must(t, 200, "PUT", "/api/settings/whapi", map[string]any{"partner_token": partnerToken,
		"topup_window_days": multiWindowStart}, &settings)
	if !settings.Configured || !settings.Verified || settings.Window != multiWindowStart {
		t.Fatalf("settings after saving the partner token and the window: %+v", settings)
	}
	var two, three struct{ ID int64 }
	admin.must(t, 201, "POST", "/api/plans", map[string]any{"name": "Multi two", "max_channels": 2, "days_per_period": multiPeriod, "period_days": multiPeriod}, &two)
	admin.must(t, 201, "POST", "/api/plans", map[string]any{"name": "Multi three", "max_channels": 3, "days_per_period": multiPeriod, "period_days": multiPeriod}, &three)
	customers := []*multiCustomer{
		{crashCustomer: &crashCustomer{email: "m1@example.com", maxChannels: 2}, kind: kindManual},
		{crashCustomer: &crashCustomer{email: "m2@example.com", maxChannels: 3}, kind: kindManual},
		{crashCustomer: &crashCustomer{email: "f1@example.com", maxChannels: 3}, kind: kindFlip},
		{crashCustomer: &crashCustomer{email: "a1@example.com", auto: true, maxChannels: 2}, kind: kindAuto},
		{crashCustomer: &crashCustomer{email: "a2@example.com", auto: true, maxChannels: 3}, kind: kindAuto},
		{crashCustomer: &crashCustomer{email: "a3@example.com", auto: true, maxChannels: 2}, kind: kindAuto},
	}
	byID := map[int64]*multiCustomer{}
	var plain []*crashCustomer
	for _, c := range customers {
		var u struct {
			ID             int64
			AllocationMode string `json:"allocation_mode"`
			DayBalance     int64  `json:"day_balance"`
		}
		admin.must(t, 201, "POST", "/api/users", map[string]any{"email": c.email, "name": "Multi " + c.email, "password": crashUserPW, "role": "customer"}, &u)
		c.id = u.ID
		byID[c.id] = c
		plain = append(plain, c.crashCustomer)
		mode := "manual"
		if c.auto {
			mode = "auto"
		}
		admin.must(t, 200, "PATCH", fmt.Sprintf("/api/users/%d", c.id), map[string]any{"allocation_mode": mode}, &u)
		plan := two.ID
		if c.maxChannels == 3 {
			plan = three.ID
		}
		admin.must(t, 201, "POST", fmt.Sprintf("/api/users/%d/subscription", c.id), map[string]any{"plan_id": plan}, nil)
		// Enough days that every automatic extend is a whole period (see
		// the double-extend check) and no extend is refused for the balance.
		admin.must(t, 200, "POST", fmt.Sprintf("/api/users/%d/days", c.id), map[string]any{"days": 20_000, "comment": "multi test credit"}, &u)
		if want := 20_000 + multiPeriod*c.maxChannels; u.DayBalance != want {
			t.Fatalf("%s: balance %d after plan and credit, want %d", c.email, u.DayBalance, want)
		}
		c.key = lastLine(command("apikey", "create", "--email", c.email, "--name", "multi test"))
		if !strings.HasPrefix(c.key, models.APIKeyPrefix) {
			t.Fatalf("apikey create for %s did not end with a key: %q", c.email, c.key)
		}
	}
	setupDone := time.Since(began)

	// The test's own view of the database, for samples during the load.
	observer := openMultiStore(t, database.URL, key)
	defer observer.Close()

	// The load.
	var (
		rr      atomic.Uint64
		stop    atomic.Bool
		stopped = make(chan struct{}) // closed with stop set
		seq     atomic.Int64
		callsMu sync.Mutex
		calls   []*crashCall
		wg      sync.WaitGroup
	)
	// pick is the next live instance, round-robin.
	pick := func() *multiInstance {
		for {
			if in := insts[rr.Add(1)%multiInstances]; in.alive.Load() {
				return in
			}
		}
	}
	as := func(in *multiInstance, key string) *crashAPI { return &crashAPI{base: in.base(), key: key, hc: in.hc} }
	record := func(c *crashCall) {
		if c.answered() {
			var e struct{ Error struct{ Code string } }
			if json.Unmarshal(c.body, &e) == nil {
				c.code = e.Error.Code
			}
		}
		callsMu.Lock()
		calls = append(calls, c)
		callsMu.Unlock()
	}
	book := &channelBook{owner: map[int64]int64{}, gone: map[int64]bool{}}
	ofKind := func(kinds ...string) func(int64) bool {
		return func(owner int64) bool { return slices.Contains(kinds, byID[owner].kind) }
	}
	anyone := func(int64) bool { return true }
	autoish := []*multiCustomer{}
	for _, c := range customers {
		if c.kind == kindAuto || c.kind == kindFlip {
			autoish = append(autoish, c)
		}
	}
	loadStart := time.Now()
	for w := range multiWorkers {
		wrng := mrand.New(mrand.NewPCG(seed, uint64(w+1)))
		wg.Go(func() {
			for !stop.Load() {
				n := seq.Add(1)
				in := pick()
				c := &crashCall{round: in.n}
				r := wrng.IntN(100)
				var resp struct {
					status int
					body   []byte
					err    error
				}
				do := func(api *crashAPI, method, path string, body any) {
					resp.status, resp.body, resp.err = api.call(method, path, body)
				}
				switch {
				case r < 30:
					cust := customers[wrng.IntN(len(customers))]
					c.op, c.user = "create", cust.id
					if wrng.IntN(2) == 0 {
						do(as(in, cust.key), "POST", "/api/channels", map[string]any{"name": fmt.Sprintf("line %d", n)})
					} else {
						do(as(in, adminKey), "POST", "/api/channels", map[string]any{"name": fmt.Sprintf("line %d", n), "user_id": cust.id})
					}
				case r < 50:
					id, owner, ok := book.pick(wrng, ofKind(kindManual))
					if !ok {
						continue
					}
					c.op, c.channel, c.user = "extend", id, owner
					c.days = int64(1 + wrng.IntN(12))
					c.comment = fmt.Sprintf("crash test extend %d", n)
					do(as(in, adminKey), "POST", fmt.Sprintf("/api/channels/%d/extend", id), map[string]any{"days": c.days, "comment": c.comment})
				case r < 55 && book.live() > multiKeepLive:
					id, owner, ok := book.pick(wrng, anyone)
					if !ok {
						continue
					}
					c.op, c.channel, c.user = "delete", id, owner
					key := adminKey
					if wrng.IntN(2) == 0 {
						key = byID[owner].key
					}
					do(as(in, key), "DELETE", fmt.Sprintf("/api/channels/%d", id), nil)
				case r < 80:
					id, owner, ok := book.pick(wrng, anyone)
					if !ok {
						continue
					}
					c.op, c.channel, c.user = "qr", id, owner
					do(as(in, byID[owner].key), "GET", fmt.Sprintf("/api/channels/%d/qr", id), nil)
				case r < 81 && wrng.IntN(4) == 0:
					// Rare: each credit allocates at once, and the periodic
					// top-up should find due channels too.
					cust := autoish[wrng.IntN(len(autoish))]
					c.op, c.user, c.days = "credit", cust.id, int64(20+wrng.IntN(41))
					do(as(in, adminKey), "POST", fmt.Sprintf("/api/users/%d/days", cust.id), map[string]any{"days": c.days, "comment": fmt.Sprintf("multi credit %d", n)})
				default:
					cust := customers[wrng.IntN(len(customers))]
					c.op, c.user = "list", cust.id
					do(as(in, cust.key), "GET", "/api/channels", nil)
				}
				c.status, c.body, c.err = resp.status, resp.body, resp.err
				record(c)
				switch {
				case c.op == "create" && c.status == http.StatusCreated:
					var ch struct{ ID int64 }
					if json.Unmarshal(c.body, &ch) == nil {
						c.channel = ch.ID
						book.add(ch.ID, c.user)
					}
				case c.op == "create" && c.code == "pending":
					if m := pendingChannelID.FindSubmatch(c.body); m != nil {
						c.channel, _ = strconv.ParseInt(string(m[1]), 10, 64)
						book.add(c.channel, c.user)
					}
				case c.op == "delete" && (c.status == http.StatusOK || c.code == "already_deleted"):
					book.drop(c.channel)
				}
			}
		})
	}

	// The admin: flips f1 between manual and auto, and widens the top-up
	// window by one period at a time, so that every auto channel is due
	// again (the days of a real top-up window pass in 60 s no other way).
	// A change counts from the moment it is sent.
	var (
		windowsMu sync.Mutex
		windows   = []multiWindow{{from: time.Time{}, days: multiWindowStart}}
		flips     atomic.Int64
	)
	flip := customers[2]
	wg.Go(func() {
		auto := false
		tick := time.NewTicker(multiFlipEvery)
		defer tick.Stop()
		for {
			select {
			case <-stopped:
				return
			case <-tick.C:
			}
			auto = !auto
			mode := map[bool]string{true: "auto", false: "manual"}[auto]
			for !stop.Load() {
				c := &crashCall{op: "mode", user: flip.id, comment: mode}
				in := pick()
				c.round = in.n
				c.status, c.body, c.err = as(in, adminKey).call("PATCH", fmt.Sprintf("/api/users/%d", flip.id), map[string]any{"allocation_mode": mode})
				record(c)
				if c.status == http.StatusOK {
					flips.Add(1)
					break
				}
			}
		}
	})
	wg.Go(func() {
		days := int64(multiWindowStart)
		tick := time.NewTicker(multiWindowEvery)
		defer tick.Stop()
		for {
			select {
			case <-stopped:
				return
			case <-tick.C:
			}
			if days+multiPeriod > 365 {
				return
			}
			days += multiPeriod
			windowsMu.Lock()
			windows = append(windows, multiWindow{from: time.Now(), days: days})
			windowsMu.Unlock()
			for !stop.Load() {
				c := &crashCall{op: "window", days: days}
				in := pick()
				c.round = in.n
				c.status, c.body, c.err = as(in, adminKey).call("PUT", "/api/settings/whapi", map[string]any{"topup_window_days": days})
				record(c)
				if c.status == http.StatusOK {
					break
				}
			}
		}
	})

	// Plan limits, sampled while the load runs.
	maxSeen := map[int64]int64{}
	var samples int
	sampleDone := make(chan struct{})
	go func() {
		defer close(sampleDone)
		for !stop.Load() {
			for _, c := range customers {
				n, err := observer.CountLiveChannels(ctx, c.id)
				if err != nil {
					t.Errorf("sample: %v", err)
					return
				}
				if n > c.maxChannels {
					t.Errorf("sample %d: %s has %d live channels, the plan allows %d", samples, c.email, n, c.maxChannels)
				}
				maxSeen[c.id] = max(maxSeen[c.id], n)
			}
			samples++
			time.Sleep(200 * time.Millisecond)
		}
	}()

	// Midway, one instance is killed and started again.
	killAt := time.Duration(20_000+rng.IntN(15_000)) * time.Millisecond
	victim := insts[rng.IntN(multiInstances)]
	time.Sleep(killAt)
	var kill multiKill
	kill.at, kill.instance = time.Since(loadStart), victim.n
	victim.alive.Store(false)
	kill.whapiInFlight = front.inflight[victim.n].Load()
	victim.child.kill(t)
	// The simulator's handlers of the dead process's calls end now; wait
	// for them, so that nothing of that process reaches WHAPI after this.
	for deadline := time.Now().Add(crashPatience); front.inflight[victim.n].Load() > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the simulator still serves %d calls of the killed instance after %s", front.inflight[victim.n].Load(), crashPatience)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if mm, err := observer.CheckLedger(ctx); err != nil || len(mm) > 0 {
		t.Errorf("after the kill: balances differ from the ledger: %+v %v", mm, err)
	}
	if open, err := observer.OpenOperations(ctx, time.Now().Add(time.Hour)); err == nil {
		kill.openOps = len(open)
	}
	restartBegan := time.Now()
	restarted := startCrashChild(t, bin, unusedDB, victim.env)
	victim.mu.Lock()
	victim.child = restarted
	victim.mu.Unlock()
	logs = append(logs, restarted.log)
	victim.alive.Store(true)
	kill.downFor, kill.startTook = time.Since(loadStart)-kill.at, time.Since(restartBegan)
	if rest := multiLoad - time.Since(loadStart); rest > 0 {
		time.Sleep(rest)
	}
	stop.Store(true)
	close(stopped)
	wg.Wait()
	<-sampleDone
	loadEnd := time.Now()
	loadTook := loadEnd.Sub(loadStart)

	// The final reconcile: one that started once every operation of the
	// load is older than models.AbandonedAfter (what Reconcile settles).
	rdb, err := sql.Open("pgx", database.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	settleFrom := loadEnd.Add(models.AbandonedAfter + time.Second)
	for deadline := time.Now().Add(crashPatience); ; {
		var n int
		if err := rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = $1 AND state = 'completed' AND attempted_at > $2`,
			jobs.KindReconcile, settleFrom).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reconcile completed within %s of the load's end", crashPatience)
		}
		time.Sleep(200 * time.Millisecond)
	}
	reconciledAfter := time.Since(loadEnd)
	for _, in := range insts {
		in.child.term(t)
		in.tr.CloseIdleConnections()
	}
	// No process logged an error, but for the QR code of a channel another
	// instance deleted while it was fetched (WHAPI refuses the deleted
	// channel's token; the owner is told to try again, and then that the
	// channel is gone): checked below with the answers.
	for i, l := range logs {
		for _, line := range strings.Split(l.String(), "\n") {
			qr := strings.Contains(line, "path=/api/channels/") && strings.Contains(line, "/qr ")
			if strings.Contains(line, "level=ERROR") && !qr {
				t.Errorf("process %d logged an error: %s", i+1, line)
			}
		}
	}
	checksBegan := time.Now()

	store := openMultiStore(t, database.URL, key)
	defer store.Close()
	var checked []*crashCall
	var qrGone int
	for _, c := range calls {
		if c.op == "qr" && c.status == http.StatusBadGateway {
			if ch, err := store.ChannelByID(ctx, c.channel); err == nil && ch.Status == models.ChannelDeleted {
				qrGone++
				continue
			}
		}
		checked = append(checked, c)
	}
	checkRecovered(t, ctx, store, sim, plain, checked)
	if mm, err := store.CheckTotals(ctx); err != nil || len(mm) > 0 {
		t.Errorf("running totals (the partner's estimate among them) differ from their ledgers: %+v %v", mm, err)
	}

	// Plan limits: exact at the end, and reached.
	answers := map[string]int{}
	var planRefused, budgetRefused int
	for _, c := range calls {
		k := c.op + " "
		switch {
		case c.answered():
			k += strconv.Itoa(c.status)
			if c.code != "" {
				k += " " + c.code
			}
		case c.err != nil && strings.Contains(c.err.Error(), "connection refused"):
			k += "refused (instance down)"
		default:
			k += "no answer"
		}
		answers[k]++
		if c.op == "create" && c.code == "plan_limit" {
			planRefused++
		}
		if c.op == "create" && c.status == http.StatusTooManyRequests && c.code == provision.CodeCreateBudget {
			budgetRefused++
		}
	}
	checkPlanLimits(t, ctx, store, plain, "at the end")
	var reached []string
	for _, c := range customers {
		if maxSeen[c.id] == c.maxChannels {
			reached = append(reached, c.email)
		}
	}
	if planRefused == 0 || len(reached) == 0 {
		t.Errorf("the plan limits were never reached: %d creates refused for the plan, full plans seen for %v", planRefused, reached)
	}

	// The simulator's log.
	reqs := sim.Requests()
	if len(reqs) >= 1<<21 {
		t.Fatalf("the simulator's log is full (%d requests): raise MaxRequests", len(reqs))
	}
	windowsMu.Lock()
	acct := accountWHAPI(t, ctx, store, sim, reqs, windows)
	windowsMu.Unlock()
	// QR codes: one gate fetch per channel per QR lifetime between the
	// instances (the shared cache row), and one more for a fetch lease the
	// killed instance held.
	if most := int(loadTook/multiQRLifetime) + 2 + 1; acct.maxQRPerChannel > most {
		t.Errorf("a channel's QR code was fetched from WHAPI %d times in %s: more than once per %s QR lifetime (at most %d)",
			acct.maxQRPerChannel, loadTook.Round(time.Second), multiQRLifetime, most)
	}
	if budgetRefused == 0 {
		t.Errorf("no create was refused for the create budget: the load never reached it (%d creates at WHAPI)", acct.creates)
	}

	// The periodic jobs: once per period across the instances.
	type jobRow struct {
		kind, by string
		n        int
	}
	rows, err := rdb.QueryContext(ctx, `SELECT kind, COALESCE(attempted_by[array_length(attempted_by, 1)], ''), COUNT(*)
		FROM river_job WHERE kind IN ($1, $2) GROUP BY 1, 2 ORDER BY 1, 2`, jobs.KindTopUp, jobs.KindReconcile)
	if err != nil {
		t.Fatal(err)
	}
	var jobRows []jobRow
	perKind := map[string]int{}
	clients := map[string]map[string]bool{}
	for rows.Next() {
		var r jobRow
		if err := rows.Scan(&r.kind, &r.by, &r.n); err != nil {
			t.Fatal(err)
		}
		jobRows = append(jobRows, r)
		perKind[r.kind] += r.n
		if clients[r.kind] == nil {
			clients[r.kind] = map[string]bool{}
		}
		clients[r.kind][r.by] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	_ = rows.Close()
	// The first start till the jobs were counted: at most one top-up per
	// period of it (+1 for the period the first start fell in, +1 for the
	// one running as the count was taken).
	span := time.Since(began) - built
	if most := int(span/multiTopUpEvery) + 2; perKind[jobs.KindTopUp] > most {
		t.Errorf("%d top-up jobs in %s: more than one per %s period (at most %d)", perKind[jobs.KindTopUp], span.Round(time.Second), multiTopUpEvery, most)
	}

	// Figures.
	keys := func(m map[string]int) []string {
		ks := make([]string, 0, len(m))
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	t.Logf("seed %d: %d workers for %s over %d instances; %d requests", seed, multiWorkers, loadTook.Round(time.Millisecond), multiInstances, len(calls))
	for _, k := range keys(answers) {
		t.Logf("  %-44s %6d", k, answers[k])
	}
	t.Logf("QR answers 502 for a channel deleted meanwhile: %d", qrGone)
	t.Logf("kill: instance %d at %s of the load (%d calls of it at WHAPI, %d operations open after), down %s (its start %s); flips of f1 %d, window widened to %d days in %d steps",
		kill.instance, kill.at.Round(time.Millisecond), kill.whapiInFlight, kill.openOps, kill.downFor.Round(time.Millisecond),
		kill.startTook.Round(time.Millisecond), flips.Load(), windows[len(windows)-1].days, len(windows)-1)
	t.Logf("WHAPI calls by endpoint and answer (all instances):")
	for _, k := range keys(acct.byEndpoint) {
		t.Logf("  %-44s %6d", k, acct.byEndpoint[k])
	}
	t.Logf("WHAPI calls by instance: %v", front.byInstance())
	t.Logf("accounted: %d creates (%d orphans removed), %d extends = %d ledger allocations (%d automatic, %d of them by the periodic job's system actor), %d deletes, %d mode switches, %d gate calls for %d channels (QR fetches per channel at most %d)",
		acct.creates, acct.orphans, acct.extends, acct.allocations, acct.autoExtends, acct.systemExtends, acct.deletes, acct.modes, acct.gateCalls, acct.gateChannels, acct.maxQRPerChannel)
	t.Logf("create budget: %d creates at WHAPI, at most %d in a rolling 30 min, %d refused by WHAPI; the app refused %d (429 %s)",
		acct.creates, acct.maxInWindow, acct.createRefusedUpstream, budgetRefused, provision.CodeCreateBudget)
	t.Logf("plan limits: %d creates refused (409 plan_limit); %d samples; full plans seen for %v; most live seen %v", planRefused, samples, reached, maxSeen)
	for _, r := range jobRows {
		t.Logf("  job %-12s by %-40s %4d", r.kind, r.by, r.n)
	}
	t.Logf("jobs: %d top-ups by %d clients, %d reconciles by %d clients", perKind[jobs.KindTopUp], len(clients[jobs.KindTopUp]),
		perKind[jobs.KindReconcile], len(clients[jobs.KindReconcile]))
	t.Logf("elapsed %s (build %s, three starts %s, setup %s, load %s, final reconcile %s after the load, checks %s)",
		time.Since(began).Round(time.Millisecond), built.Round(time.Millisecond), (started - built).Round(time.Millisecond),
		(setupDone - started).Round(time.Millisecond), loadTook.Round(time.Millisecond), reconciledAfter.Round(time.Millisecond),
		time.Since(checksBegan).Round(time.Millisecond))
}

// The load's shape.
const (
	multiInstances      = 3
	multiWorkers        = 50
	multiLoad           = 60 * time.Second
	multiTopUpEvery     = 5 * time.Second
	multiReconcileEvery = 10 * time.Second
	multiFlipEvery      = 3 * time.Second
	multiWindowEvery    = 8 * time.Second
	// multiPeriod is the plans' days per period and period length: what
	// one automatic extend gives, and each widening of the window.
	multiPeriod      = 30
	multiWindowStart = 20
	// multiKeepLive: deletes only while more channels than this are known
	// live, so that with at most 20 creates in 30 minutes the plans stay
	// full enough to be refused.
	multiKeepLive = 10
	// multiQRLifetime is the simulator's QR lifetime (its default).
	multiQRLifetime = 20 * time.Second
)

// Kinds of customers: the admin extends manual customers' channels; auto
// customers' channels get days only automatically; f1 flips between the
// two and is never extended by hand, so every extend of an auto or flipped
// channel is an automatic one.
const (
	kindManual = "manual"
	kindAuto   = "auto"
	kindFlip   = "flip"
)

// multiCustomer is a customer of the test with their own API key.
type multiCustomer struct {
	*crashCustomer
	kind string
	key  string
}

// multiWindow is a top-up window in force from a moment on.
type multiWindow struct {
	from time.Time
	days int64
}

// multiKill is what the kill did.
type multiKill struct {
	instance      int
	at, downFor   time.Duration
	startTook     time.Duration
	whapiInFlight int64
	openOps       int
}

// multiInstance is one of the app's instances; its process is replaced
// when it is killed and started again.
type multiInstance struct {
	n     int
	env   []string
	alive atomic.Bool
	tr    *http.Transport
	hc    *http.Client

	mu    sync.Mutex
	child *crashChild
}

func (in *multiInstance) base() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.child.base
}

// live counts the channels the client does not know deleted.
func (b *channelBook) live() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.owner) - len(b.gone)
}

// openMultiStore opens the PostgreSQL database at url as the app does.
func openMultiStore(t *testing.T, url, key string) *models.Store {
	t.Helper()
	raw, err := models.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := models.NewCipher(raw)
	if err != nil {
		t.Fatal(err)
	}
	store, err := models.Open(context.Background(), models.Database{URL: url}, cipher, provision.States())
	if err != nil {
		t.Fatalf("models.Open: %v", err)
	}
	return store
}

// simFront puts the simulator at /i1/, /i2/, … (one base URL per
// instance), so that its calls are counted per instance and the calls of
// a killed instance still at WHAPI are known.
type simFront struct {
	mux      *http.ServeMux
	inflight [multiInstances + 1]atomic.Int64
	mu       sync.Mutex
	counts   map[string]int
}

func newSimFront(sim http.Handler) *simFront {
	f := &simFront{mux: http.NewServeMux(), counts: map[string]int{}}
	for n := 1; n <= multiInstances; n++ {
		prefix := fmt.Sprintf("/i%d", n)
		inner := http.StripPrefix(prefix, sim)
		f.mux.Handle(prefix+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.inflight[n].Add(1)
			defer f.inflight[n].Add(-1) // also when the simulator aborts the connection (panic)
			f.mu.Lock()
			f.counts[fmt.Sprintf("i%d", n)]++
			f.mu.Unlock()
			inner.ServeHTTP(w, r)
		}))
	}
	return f
}

func (f *simFront) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

func (f *simFront) byInstance() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.counts)
}

// whapiEndpoint names the WHAPI endpoint of a request the simulator got
// (its path without the instance prefix).
func whapiEndpoint(method, path string) string {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case method == http.MethodGet && path == "/projects":
		return "projects"
	case method == http.MethodPut && path == "/channels":
		return "create"
	case method == http.MethodGet && path == "/channels/list":
		return "list"
	case len(seg) == 2 && seg[0] == "channels" && method == http.MethodGet:
		return "get"
	case len(seg) == 2 && seg[0] == "channels" && method == http.MethodDelete:
		return "delete"
	case len(seg) == 3 && seg[0] == "channels" && seg[2] == "extend" && method == http.MethodPost:
		return "extend"
	case len(seg) == 3 && seg[0] == "channels" && seg[2] == "mode" && method == http.MethodPatch:
		return "mode"
	case method == http.MethodGet && path == "/health":
		return "gate health"
	case method == http.MethodGet && path == "/users/login":
		return "gate qr"
	}
	return "unexpected " + method + " " + path
}

// whapiAccount is what accountWHAPI found.
type whapiAccount struct {
	byEndpoint                                      map[string]int
	creates, orphans, extends, allocations, deletes int
	autoExtends, systemExtends, modes               int
	gateCalls, gateChannels, maxQRPerChannel        int
	maxInWindow, createRefusedUpstream              int
}

// accountWHAPI checks every call in the simulator's log against the
// database (see TestLongMultiInstance): the create budget, the calls'
// accounting and the automatic extends' due periods.
func accountWHAPI(t *testing.T, ctx context.Context, store *models.Store, sim *whapisim.Sim, reqs []whapisim.Request, windows []multiWindow) whapiAccount {
	t.Helper()
	acct := whapiAccount{byEndpoint: map[string]int{}}
	simChannels := sim.Channels()
	simByID := map[string]whapisim.ChannelState{}
	byToken := map[string]string{}
	for _, c := range simChannels {
		simByID[c.ID] = c
		byToken[c.Token] = c.ID
	}
	rows, _, err := store.ListChannels(ctx, models.ChannelFilter{IncludeGone: true})
	if err != nil {
		t.Fatal(err)
	}
	local := map[int64]*models.Channel{}
	byRemote := map[string]*models.Channel{}
	for i := range rows {
		ch := &rows[i].Channel
		local[ch.ID] = ch
		if ch.RemoteID() != "" {
			byRemote[ch.RemoteID()] = ch
		}
	}
	st, err := store.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}

	type extend struct {
		at      time.Time
		days    int64
		comment string
	}
	// deleted reports whether WHAPI deleted channel id: its gate refuses
	// the token once it is (a QR code fetched while another instance
	// deleted the channel). The log's times are arrivals, not the order in
	// which the simulator applied the two, so any time counts.
	deleted := func(id string) bool { return simByID[id].Deleted }
	var createdAt []time.Time
	extends := map[string][]extend{} // WHAPI channel → extends it applied, in order
	deletes := map[string]int{}
	modes := map[string][]time.Time{}
	qrPerChannel := map[string]int{}
	gateChannels := map[string]bool{}
	for _, r := range reqs {
		ep := whapiEndpoint(r.Method, r.Path)
		acct.byEndpoint[ep+" "+strconv.Itoa(r.Status)]++
		seg := strings.Split(strings.Trim(r.Path, "/"), "/")
		switch {
		case strings.HasPrefix(ep, "unexpected"):
			t.Errorf("WHAPI got a call no operation of whapidesk makes: %s %s (%d)", r.Method, r.Path, r.Status)
			continue
		case (r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden) &&
			!(strings.HasPrefix(ep, "gate ") && deleted(byToken[strings.TrimPrefix(r.Authorization, "Bearer ")])):
			t.Errorf("WHAPI refused %s %s for its token (%d)", r.Method, r.Path, r.Status)
		case r.Status >= 500:
			t.Errorf("WHAPI answered %s %s with %d", r.Method, r.Path, r.Status)
		}
		switch ep {
		case "create":
			switch r.Status {
			case http.StatusOK:
				createdAt = append(createdAt, r.Time)
			case http.StatusTooManyRequests:
				acct.createRefusedUpstream++
			}
		case "extend":
			if r.Status != http.StatusOK {
				continue
			}
			var b struct {
				Days    int64
				Comment string
			}
			if err := json.Unmarshal(r.Body, &b); err != nil {
				t.Errorf("extend %s: body %q: %v", r.Path, r.Body, err)
				continue
			}
			extends[seg[1]] = append(extends[seg[1]], extend{at: r.Time, days: b.Days, comment: b.Comment})
		case "delete":
			if r.Status == http.StatusOK {
				deletes[seg[1]]++
			}
		case "mode":
			if r.Status == http.StatusOK {
				modes[seg[1]] = append(modes[seg[1]], r.Time)
			}
		case "gate health", "gate qr":
			acct.gateCalls++
			id, ok := byToken[strings.TrimPrefix(r.Authorization, "Bearer ")]
			if !ok {
				t.Errorf("gate call %s %s with the token of no channel of WHAPI", r.Method, r.Path)
				continue
			}
			gateChannels[id] = true
			if ep == "gate qr" && r.Status == http.StatusOK {
				qrPerChannel[id]++
			}
		}
	}
	acct.gateChannels = len(gateChannels)
	for _, n := range qrPerChannel {
		acct.maxQRPerChannel = max(acct.maxQRPerChannel, n)
	}

	// The create budget: at most 20 in any rolling 30 minutes, none
	// refused by WHAPI.
	acct.creates = len(createdAt)
	slices.SortFunc(createdAt, func(a, b time.Time) int { return a.Compare(b) })
	for i := range createdAt {
		n := 0
		for j := i; j >= 0 && createdAt[i].Sub(createdAt[j]) < 30*time.Minute; j-- {
			n++
		}
		acct.maxInWindow = max(acct.maxInWindow, n)
	}
	if acct.maxInWindow > 20 {
		t.Errorf("WHAPI created %d channels within 30 minutes: the create budget is 20", acct.maxInWindow)
	}
	if acct.createRefusedUpstream > 0 {
		t.Errorf("WHAPI refused %d creates for its limit (429): the app's budget should have refused them first", acct.createRefusedUpstream)
	}
	if acct.creates != len(simChannels) {
		t.Errorf("WHAPI served %d creates and has %d channels", acct.creates, len(simChannels))
	}

	// Each WHAPI channel is one of ours, or an orphan of a lost answer that
	// was deleted at WHAPI; each delete WHAPI served is a channel deleted
	// here too (or that orphan).
	for _, sc := range simChannels {
		m := crashMarker.FindStringSubmatch(sc.Name)
		if m == nil || m[1] != st.InstallID {
			continue // checkRecovered names it
		}
		id, _ := strconv.ParseInt(m[2], 10, 64)
		ch := byRemote[sc.ID]
		switch {
		case ch == nil:
			acct.orphans++
			if !sc.Deleted {
				continue // checkRecovered names it
			}
			if own := local[id]; own == nil || own.RemoteID() != "" {
				t.Errorf("WHAPI channel %s, deleted as an orphan, is named for channel %d, which is %+v", sc.ID, id, own)
			}
		case sc.Deleted && ch.Status != models.ChannelDeleted:
			t.Errorf("WHAPI deleted %s, but channel %d is %s here", sc.ID, ch.ID, ch.Status)
		}
		if sc.Deleted != (deletes[sc.ID] == 1) {
			t.Errorf("WHAPI channel %s: deleted %v, %d deletes served", sc.ID, sc.Deleted, deletes[sc.ID])
		}
		acct.deletes += deletes[sc.ID]
	}

	// Each extend WHAPI applied is one allocation here, not given back,
	// and the other way round: per channel, the same days and comments.
	users := map[int64]bool{}
	for _, ch := range local {
		users[ch.UserID] = true
	}
	booked := map[string][]string{}
	system := map[string]int{}
	for uid := range users {
		entries, err := store.Ledger(ctx, uid, 1_000_000, 0)
		if err != nil {
			t.Fatal(err)
		}
		corrected := map[int64]bool{}
		for _, e := range entries {
			if e.Kind == models.LedgerCorrection && e.OpID != nil {
				corrected[*e.OpID] = true
			}
		}
		for _, e := range entries {
			if e.Kind != models.LedgerAllocation || e.ChannelID == nil || e.OpID == nil || corrected[*e.OpID] {
				continue
			}
			ch := local[*e.ChannelID]
			if ch == nil || ch.RemoteID() == "" {
				t.Errorf("allocation %+v is for a channel without a WHAPI channel", e)
				continue
			}
			booked[ch.RemoteID()] = append(booked[ch.RemoteID()], fmt.Sprintf("%d days: %s", -e.Delta, e.Comment))
			acct.allocations++
			if e.Actor == models.SystemActor.Email && strings.HasPrefix(e.Comment, "Auto top-up for channel ") {
				system[ch.RemoteID()]++
			}
		}
	}
	for _, n := range system {
		acct.systemExtends += n
	}
	remotes := map[string]bool{}
	for id := range extends {
		remotes[id] = true
	}
	for id := range booked {
		remotes[id] = true
	}
	for id := range remotes {
		var applied []string
		for _, x := range extends[id] {
			applied = append(applied, fmt.Sprintf("%d days: %s", x.days, x.comment))
		}
		slices.Sort(applied)
		b := slices.Clone(booked[id])
		slices.Sort(b)
		if !slices.Equal(applied, b) {
			t.Errorf("WHAPI channel %s: extends WHAPI applied %q; allocations booked here and not given back %q", id, applied, b)
		}
		acct.extends += len(applied)
	}

	// No channel extended twice for one due period: replay each channel's
	// activeTill at WHAPI (from the trial's end: WHAPI's example, trial +
	// 1 day; each extend adds its days, the channel never having expired),
	// and check that each automatic extend found it due.
	window := func(at time.Time) int64 {
		w := windows[0].days
		for _, x := range windows {
			if x.from.Before(at) {
				w = max(w, x.days)
			}
		}
		return w
	}
	for _, sc := range simChannels {
		till := sc.CreationTS
		if !sc.Trial.IsZero() {
			till = sc.Trial.Add(24 * time.Hour)
		}
		var paid int64
		for _, x := range extends[sc.ID] {
			if strings.HasPrefix(x.comment, "Auto top-up for channel ") {
				acct.autoExtends++
				due := till.Before(x.at.Add(time.Duration(window(x.at)) * 24 * time.Hour))
				if paid > 0 && !due {
					t.Errorf("WHAPI channel %s (%s) was extended automatically by %d days at %s while not due: activeTill %s, window %d days (a second extend for one due period)",
						sc.ID, sc.Name, x.days, x.at.Format(time.RFC3339Nano), till.Format(time.RFC3339), window(x.at))
				}
			}
			till = later(till, x.at).Add(time.Duration(x.days) * 24 * time.Hour)
			paid += x.days
		}
		if !sc.Deleted && till.Sub(sc.ActiveTill).Abs() > time.Second {
			t.Errorf("WHAPI channel %s: activeTill replayed from its extends %s, WHAPI has %s", sc.ID, till, sc.ActiveTill)
		}
		// A mode switch is for a channel with paid days.
		for _, at := range modes[sc.ID] {
			first := time.Time{}
			if len(extends[sc.ID]) > 0 {
				first = extends[sc.ID][0].at
			}
			if first.IsZero() || at.Before(first) {
				t.Errorf("WHAPI channel %s was switched to live at %s before any paid extend", sc.ID, at)
			}
			acct.modes++
		}
	}
	return acct
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
