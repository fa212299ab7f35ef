//go:build long

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"whapidesk/internal/testenv"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi/whapisim"
)

// The crash test of the real binary (issue 5, item 4): `whapidesk serve` is
// built, set up through its own commands and JSON API, put under concurrent
// load (creates, extends, deletes) against the WHAPI simulator running in
// this test process, and killed with SIGKILL at a random moment, several
// times. The simulator outlives every kill, as WHAPI would. A last process
// is started on the same database and, once its startup Reconcile has run,
// stopped; then the database is opened directly and compared with the
// simulator: nothing lost or doubled, nothing left half-done, and every
// answer a client was given still true.
//
// Run with: go test -race -count=1 -tags long -run '^TestLong' -v .
// -v prints the figures. WHAPIDESK_CRASH_SEED=N repeats a run's choices
// (the load's interleaving and the kills' exact moments still vary);
// WHAPIDESK_CRASH_KEEP=DIR keeps, when the test fails, the database, each
// process's log, the simulator's channels and every call in DIR.

const (
	crashKills   = 3
	crashWorkers = 16
	crashAdmin   = "admin@example.com"
	crashUserPW  = "crash-test-password"
)

// crashPatience bounds the waits for a condition (the simulator done with
// a dead process's calls, the startup reconcile's log line, the load
// having done each kind of change): generous, so that a busy machine only
// makes them slower. None is a pause: each ends as soon as its condition
// holds.
const crashPatience = 3 * time.Minute

// crashCustomer is a customer of the test and their plan.
type crashCustomer struct {
	id          int64
	email       string
	auto        bool
	maxChannels int64
}

// crashCall is one request of the load and what the client saw.
type crashCall struct {
	round   int
	op      string // create, extend, delete
	user    int64
	channel int64
	days    int64
	comment string
	status  int // 0: no answer
	code    string
	body    []byte
	err     error
}

// answered reports whether the client got an HTTP answer.
func (c *crashCall) answered() bool { return c.status != 0 }

// crashRound is what happened around one kill.
type crashRound struct {
	killAfter         time.Duration
	sent              int
	appInFlight       int64 // requests sent to the app and not answered at the kill
	whapiInFlight     int64 // requests the app had at the simulator at the kill
	whapiAborted      int   // of those, cut off by the kill (the simulator never applied them)
	refusedAfterKill  int   // requests started as the kill landed (connection refused)
	bootReconcileRan  bool
	bootReconcile     string
	openOps           []models.Operation
	pending, deleting int64
	byStatus          map[string]int
}

// crashRecon is one parsed "reconcile" log line.
type crashRecon struct {
	settled, synced, gone, orphans, errors int
}

var crashReconcileLine = regexp.MustCompile(`msg=reconcile settled=(\d+) synced=(\d+) gone=(\d+) orphans=(\d+) errors=(\d+)`)

func parseReconcile(log string) (crashRecon, bool) {
	m := crashReconcileLine.FindStringSubmatch(log)
	if m == nil {
		return crashRecon{}, false
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	return crashRecon{settled: n(1), synced: n(2), gone: n(3), orphans: n(4), errors: n(5)}, true
}

// crashSeed is WHAPIDESK_CRASH_SEED or a fresh random seed.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("WHAPIDESK_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("WHAPIDESK_CRASH_SEED=%q: %v", s, err)
		}
		return v
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	v := uint64(0)
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v >> 1
}

// inFlight counts the requests the simulator is serving.
type inFlight struct {
	h http.Handler
	n atomic.Int64
}

func (f *inFlight) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.n.Add(1)
	defer f.n.Add(-1) // also when the simulator aborts the connection (panic)
	f.h.ServeHTTP(w, r)
}

// crashChild is one running `whapidesk serve` process.
type crashChild struct {
	cmd     *exec.Cmd
	base    string
	log     *testenv.LogBuffer
	exited  chan struct{}
	waitErr error
	started time.Time
}

func startCrashChild(t *testing.T, bin, db string, env []string) *crashChild {
	t.Helper()
	addr := freeAddr(t)
	c := &crashChild{base: "http://" + addr, log: &testenv.LogBuffer{}, exited: make(chan struct{})}
	c.cmd = exec.Command(bin, "serve", "--addr", addr, "--db", db)
	c.cmd.Env = env
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	c.started = time.Now()
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	})
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-c.exited:
			t.Fatalf("serve exited before answering /healthz: %v\n%s", c.waitErr, c.log)
		default:
		}
		resp, err := hc.Get(c.base + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 200 on /healthz within 60 s (last error %v)\n%s", err, c.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the process with SIGKILL: no shutdown, no deferred code.
func (c *crashChild) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	<-c.exited
}

// term stops the process gracefully and checks it exits 0.
func (c *crashChild) term(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30 s of SIGTERM\n%s", c.log)
	}
	if c.waitErr != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", c.waitErr, c.log)
	}
}

// waitReconcile waits for the process's first reconcile log line.
func (c *crashChild) waitReconcile(t *testing.T, within time.Duration) crashRecon {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if r, ok := parseReconcile(c.log.String()); ok {
			return r
		}
		if strings.Contains(c.log.String(), "reconcile failed") {
			t.Fatalf("the startup reconcile failed:\n%s", c.log)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reconcile log line within %s of start\n%s", within, c.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crashAPI is a JSON API client with the admin's API key.
type crashAPI struct {
	base, key string
	hc        *http.Client
}

func newCrashAPI(base, key string) *crashAPI {
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	return &crashAPI{base: base, key: key, hc: &http.Client{Transport: tr, Timeout: 90 * time.Second}}
}

func (a *crashAPI) call(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err // the answer was cut off: the client does not know it
	}
	return resp.StatusCode, b, nil
}

// must calls and decodes an answer that must have status want.
func (a *crashAPI) must(t *testing.T, want int, method, path string, body, out any) {
	t.Helper()
	status, b, err := a.call(method, path, body)
	if err != nil || status != want {
		t.Fatalf("%s %s = %d %v, want %d\n%s", method, path, status, err, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
}

func (a *crashAPI) close() { a.hc.CloseIdleConnections() }

// channelBook is what the client knows of channels: id → owner, and which
// are not known to be deleted.
type channelBook struct {
	mu    sync.Mutex
	owner map[int64]int64
	gone  map[int64]bool
}

func (b *channelBook) add(id, owner int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.owner[id] = owner
}

func (b *channelBook) drop(id int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gone[id] = true
}

// pick returns a random channel not known deleted whose owner passes ok.
func (b *channelBook) pick(rng *mrand.Rand, ok func(owner int64) bool) (int64, int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ids []int64
	for id, o := range b.owner {
		if !b.gone[id] && ok(o) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return 0, 0, false
	}
	slices.Sort(ids) // map order is random; the seed should decide
	id := ids[rng.IntN(len(ids))]
	return id, b.owner[id], true
}

var pendingChannelID = regexp.MustCompile(`channel (\d+) is not confirmed`)

// openCrashStore opens the database as the app does, with the same key.
func openCrashStore(t *testing.T, db, key string) *models.Store {
	t.Helper()
	raw, err := models.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := models.NewCipher(raw)
	if err != nil {
		t.Fatal(err)
	}
	store, err := models.Open(context.Background(), models.Database{Path: db}, cipher, provision.States())
	if err != nil {
		t.Fatalf("models.Open: %v", err)
	}
	return store
}

func TestLongCrashRecovery(t *testing.T) {
	began := time.Now()
	ctx := context.Background()
	seed := crashSeed(t)
	t.Logf("seed %d (WHAPIDESK_CRASH_SEED=%d repeats the choices)", seed, seed)
	rng := mrand.New(mrand.NewPCG(seed, 1))

	dir := t.TempDir()
	bin := whapideskBinary(t)
	built := time.Since(began)

	// WHAPI: the simulator, in this process, so it survives every kill.
	tokBytes := make([]byte, 900)
	if _, err := rand.Read(tokBytes); err != nil {
		t.Fatal(err)
	}
	partnerToken := base64.RawURLEncoding.EncodeToString(tokBytes)
	const simBalance = 1_000_000
	// The partner knows whapidesk's default project, so channels can be
	// created without picking one (the simulator's own default is another).
	sim := whapisim.New(whapisim.Options{PartnerToken: partnerToken, BalanceDays: simBalance,
		CreateLimit: 1_000_000, StartupDelay: -1, ProjectIDs: []string{models.DefaultProjectID}})
	counter := &inFlight{h: sim}
	ws := httptest.NewServer(counter)
	t.Cleanup(ws.Close) // after the cleanups of the processes, which run first

	key := randomKeyBase64(t, models.KeySize)
	db := filepath.Join(dir, "w.db")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WHAPIDESK_") && !strings.HasPrefix(kv, "WHAPI_") {
			env = append(env, kv)
		}
	}
	env = append(env, "WHAPIDESK_SECRET_KEY="+key, "WHAPI_MANAGER_URL="+ws.URL, "WHAPI_GATE_URL="+ws.URL)
	command := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("whapidesk %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
		}
		return out.String()
	}

	// Setup through the binary's commands and JSON API, on a database
	// made as serve makes it (the commands never make one).
	made, err := openStore(ctx, Config{DBPath: db, SecretKey: key}, newLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if err := made.Close(); err != nil {
		t.Fatal(err)
	}
	command("create-admin", "--db", db, "--email", crashAdmin, "--password", adminPassword)
	apiKey := lastLine(command("apikey", "create", "--db", db, "--email", crashAdmin, "--name", "crash test"))
	if !strings.HasPrefix(apiKey, models.APIKeyPrefix) {
		t.Fatalf("apikey create did not end with a key: %q", apiKey)
	}

	child := startCrashChild(t, bin, db, env)
	api := newCrashAPI(child.base, apiKey)
	var settings struct {
		Configured, Verified bool
	}
	api.must(t, 200, "PUT", "/api/settings/whapi", map[string]any{"partner_token": partnerToken}, &settings)
	if !settings.Configured || !settings.Verified {
		t.Fatalf("settings after saving the partner token: %+v", settings)
	}
	var small, large struct{ ID int64 }
	api.must(t, 201, "POST", "/api/plans", map[string]any{"name": "Crash small", "max_channels": 3, "days_per_period": 30, "period_days": 30}, &small)
	api.must(t, 201, "POST", "/api/plans", map[string]any{"name": "Crash large", "max_channels": 6, "days_per_period": 30, "period_days": 30}, &large)
	customers := []*crashCustomer{
		{email: "m1@example.com", maxChannels: 6}, {email: "m2@example.com", maxChannels: 6},
		{email: "m3@example.com", maxChannels: 6}, {email: "m4@example.com", maxChannels: 6},
		{email: "a1@example.com", auto: true, maxChannels: 3}, {email: "a2@example.com", auto: true, maxChannels: 6},
	}
	byID := map[int64]*crashCustomer{}
	for _, c := range customers {
		var u struct {
			ID             int64
			AllocationMode string `json:"allocation_mode"`
			DayBalance     int64  `json:"day_balance"`
		}
		api.must(t, 201, "POST", "/api/users", map[string]any{"email": c.email, "name": "Crash " + c.email, "password": crashUserPW, "role": "customer"}, &u)
		c.id = u.ID
		byID[c.id] = c
		mode := "manual"
		if c.auto {
			mode = "auto"
		}
		api.must(t, 200, "PATCH", fmt.Sprintf("/api/users/%d", c.id), map[string]any{"allocation_mode": mode}, &u)
		if u.AllocationMode != mode {
			t.Fatalf("PATCH allocation_mode %s: user is %s", mode, u.AllocationMode)
		}
		plan := large.ID
		if c.maxChannels == 3 {
			plan = small.ID
		}
		api.must(t, 201, "POST", fmt.Sprintf("/api/users/%d/subscription", c.id), map[string]any{"plan_id": plan}, nil)
		credit := int64(5000)
		if c.auto {
			credit = 60
		}
		api.must(t, 200, "POST", fmt.Sprintf("/api/users/%d/days", c.id), map[string]any{"days": credit, "comment": "crash test credit"}, &u)
		if want := credit + 30*c.maxChannels; u.DayBalance != want {
			t.Fatalf("%s: balance %d after plan and credit, want %d", c.email, u.DayBalance, want)
		}
	}
	manual := func(owner int64) bool { return !byID[owner].auto }
	anyone := func(int64) bool { return true }
	setupDone := time.Since(began)

	// Load and kills.
	book := &channelBook{owner: map[int64]int64{}, gone: map[int64]bool{}}
	var logs []*testenv.LogBuffer // each process's log, in order
	var (
		callsMu sync.Mutex
		calls   []*crashCall
		seq     atomic.Int64
	)
	rounds := make([]crashRound, 0, crashKills)
	faultPaths := []struct{ method, path string }{
		{"PUT", "/channels"}, {"POST", "/channels/"}, {"POST", "/channels/"}, {"DELETE", "/channels/"}, {"PATCH", "/channels/"},
	}
	for round := 1; round <= crashKills; round++ {
		if round > 1 {
			logs = append(logs, child.log)
			child = startCrashChild(t, bin, db, env)
			api = newCrashAPI(child.base, apiKey)
			// A client that lost its answers looks again: every channel
			// not deleted is a target again, whatever it was left as.
			for _, c := range customers {
				var list struct {
					Items []struct {
						ID     int64
						Status string
					}
				}
				api.must(t, 200, "GET", fmt.Sprintf("/api/channels?user_id=%d&limit=200", c.id), nil, &list)
				for _, ch := range list.Items {
					book.add(ch.ID, c.id)
				}
			}
		}
		// Slow WHAPI down on some changes, so that some are in flight at
		// WHAPI when the kill lands.
		for range 60 {
			fp := faultPaths[rng.IntN(len(faultPaths))]
			sim.InjectFault(whapisim.Fault{Method: fp.method, Path: fp.path, Kind: whapisim.FaultLatency,
				Delay: time.Duration(200+rng.IntN(1800)) * time.Millisecond})
		}
		simBefore := len(sim.Requests())
		var stop atomic.Bool
		var inflight atomic.Int64
		var wg sync.WaitGroup
		rapi := api
		for w := range crashWorkers {
			wrng := mrand.New(mrand.NewPCG(seed, uint64(round*1000+w)))
			wg.Go(func() {
				for !stop.Load() {
					n := seq.Add(1)
					c := &crashCall{round: round}
					var method, path string
					var body any
					r := wrng.IntN(100)
					id, owner, ok := book.pick(wrng, manual)
					switch {
					case r >= 35 && r < 85 && ok:
						c.op, c.channel, c.user = "extend", id, owner
						c.days = int64(1 + wrng.IntN(12))
						c.comment = fmt.Sprintf("crash test extend %d", n)
						method, path, body = "POST", fmt.Sprintf("/api/channels/%d/extend", id), map[string]any{"days": c.days, "comment": c.comment}
					case r >= 85:
						if id, owner, ok = book.pick(wrng, anyone); ok {
							c.op, c.channel, c.user = "delete", id, owner
							method, path = "DELETE", fmt.Sprintf("/api/channels/%d", id)
							break
						}
						fallthrough
					default:
						cust := customers[wrng.IntN(len(customers))]
						c.op, c.user = "create", cust.id
						method, path, body = "POST", "/api/channels", map[string]any{"name": fmt.Sprintf("line %d", n), "user_id": cust.id}
					}
					inflight.Add(1)
					c.status, c.body, c.err = rapi.call(method, path, body)
					inflight.Add(-1)
					if c.answered() {
						var e struct{ Error struct{ Code string } }
						if json.Unmarshal(c.body, &e) == nil {
							c.code = e.Error.Code
						}
					}
					switch {
					case c.op == "create" && c.status == 201:
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
					case c.op == "delete" && (c.status == 200 || c.code == "already_deleted"):
						book.drop(c.channel)
					}
					callsMu.Lock()
					calls = append(calls, c)
					callsMu.Unlock()
				}
			})
		}
		rd := crashRound{killAfter: time.Duration(1500+rng.IntN(5500)) * time.Millisecond, byStatus: map[string]int{}}
		loadStart := time.Now()
		time.Sleep(rd.killAfter)
		if round == crashKills {
			// The checks need answered creates, extends and deletes
			// (checkRecovered); on a busy machine the random moments can
			// come before the load got that far, so the last kill also
			// waits for one of each.
			answered := func() bool {
				callsMu.Lock()
				defer callsMu.Unlock()
				return answeredEachKind(calls)
			}
			for deadline := time.Now().Add(crashPatience); !answered(); {
				if time.Now().After(deadline) {
					stop.Store(true)
					t.Fatalf("no answered create, extend and delete after %s of load in the last round", time.Since(loadStart).Round(time.Second))
				}
				time.Sleep(20 * time.Millisecond)
			}
			rd.killAfter = time.Since(loadStart)
		}
		stop.Store(true)
		rd.appInFlight, rd.whapiInFlight = inflight.Load(), counter.n.Load()
		child.kill(t)
		wg.Wait()
		api.close()
		// The simulator's handlers of the dead process's calls end now
		// (a slowed one sees its connection closed); wait for them, so
		// that nothing of that process changes WHAPI after this point.
		for deadline := time.Now().Add(crashPatience); counter.n.Load() > 0; {
			if time.Now().After(deadline) {
				t.Fatalf("the simulator still serves %d calls of the killed process after %s", counter.n.Load(), crashPatience)
			}
			time.Sleep(10 * time.Millisecond)
		}
		for _, r := range sim.Requests()[simBefore:] {
			if r.Aborted {
				rd.whapiAborted++
			}
		}
		if rec, ok := parseReconcile(child.log.String()); ok {
			rd.bootReconcileRan = true
			rd.bootReconcile = fmt.Sprintf("%+v", rec)
		}
		callsMu.Lock()
		for _, c := range calls {
			if c.round != round {
				continue
			}
			rd.sent++
			switch {
			case c.answered():
				k := strconv.Itoa(c.status)
				if c.code != "" {
					k += " " + c.code
				}
				rd.byStatus[c.op+" "+k]++
			case c.err != nil && strings.Contains(c.err.Error(), "connection refused"):
				rd.refusedAfterKill++
				rd.sent--
			default:
				rd.byStatus[c.op+" no answer"]++
			}
		}
		callsMu.Unlock()

		// What the kill left: open operations and half-done channels. The
		// books must balance at every commit, crash or not.
		store := openCrashStore(t, db, key)
		var err error
		if rd.openOps, err = store.OpenOperations(ctx, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		counts, err := store.ChannelCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rd.pending, rd.deleting = counts[models.ChannelPending], counts[models.ChannelDeleting]
		if mm, err := store.CheckLedger(ctx); err != nil || len(mm) > 0 {
			t.Errorf("after kill %d: balances differ from the ledger: %+v %v", round, mm, err)
		}
		checkPlanLimits(t, ctx, store, customers, fmt.Sprintf("after kill %d", round))
		_ = store.Close()

		rounds = append(rounds, rd)
		kinds := map[string]int{}
		for _, op := range rd.openOps {
			kinds[string(op.Kind)+"/"+string(op.State)]++
		}
		t.Logf("kill %d after %s of load: %d requests sent; in flight at the kill: %d at the app, %d at WHAPI (%d cut off there); "+
			"%d refused after; startup reconcile before the kill: %v %s", round, rd.killAfter.Round(time.Millisecond), rd.sent,
			rd.appInFlight, rd.whapiInFlight, rd.whapiAborted, rd.refusedAfterKill, rd.bootReconcileRan, rd.bootReconcile)
		t.Logf("  left open: %d operations %v; channels pending %d, deleting %d", len(rd.openOps), kinds, rd.pending, rd.deleting)
		t.Logf("  answers: %v", rd.byStatus)
	}

	// Restart on the same database; its startup reconcile settles what the
	// last kill left. Then stop it gracefully and look.
	sim.ClearFaults()
	openAtRestart := rounds[len(rounds)-1].openOps
	logs = append(logs, child.log)
	final := startCrashChild(t, bin, db, env)
	logs = append(logs, final.log)
	rec := final.waitReconcile(t, reconcileAfterBoot+crashPatience)
	reconciledAfter := time.Since(final.started)
	final.term(t)
	if rec.errors != 0 {
		t.Errorf("startup reconcile reported %d errors:\n%s", rec.errors, final.log)
	}
	if rec.settled != len(openAtRestart) {
		t.Errorf("startup reconcile settled %d operations, %d were open at restart", rec.settled, len(openAtRestart))
	}
	t.Logf("restart: startup reconcile after %s: settled %d of %d open, synced %d, gone %d, orphans removed %d, errors %d",
		reconciledAfter.Round(time.Millisecond), rec.settled, len(openAtRestart), rec.synced, rec.gone, rec.orphans, rec.errors)
	if strings.Contains(final.log.String(), "level=ERROR") {
		t.Errorf("the last process logged errors:\n%s", final.log)
	}

	store := openCrashStore(t, db, key)
	defer store.Close()
	checkRecovered(t, ctx, store, sim, customers, calls)
	if keep := os.Getenv("WHAPIDESK_CRASH_KEEP"); keep != "" && t.Failed() {
		keepEvidence(t, keep, dir, sim, calls, logs)
	}

	// Figures.
	pb, err := store.PartnerBalance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	totals, err := store.DayTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := store.ChannelCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var simLive, simDeleted int
	for _, c := range sim.Channels() {
		if c.Deleted {
			simDeleted++
		} else {
			simLive++
		}
	}
	var appInFlight, whapiInFlight []int64
	for _, r := range rounds {
		appInFlight = append(appInFlight, r.appInFlight)
		whapiInFlight = append(whapiInFlight, r.whapiInFlight)
	}
	t.Logf("seed %d: %d kills; %d requests; in flight at the kills: app %v, WHAPI %v; open operations at the last restart %d, settled by its startup reconcile %d",
		seed, len(rounds), len(calls), appInFlight, whapiInFlight, len(openAtRestart), rec.settled)
	t.Logf("channels here %v; at WHAPI %d live, %d deleted; days: credited %d, allocated %d, returned %d, given back %d; "+
		"partner extended %d, returned %d; WHAPI balance %d → %d",
		counts, simLive, simDeleted, totals.Credited, totals.Allocated, totals.Returned, totals.Corrected,
		pb.Extended, pb.Returned, simBalance, sim.Balance())
	t.Logf("elapsed %s (build %s, setup %s)", time.Since(began).Round(time.Millisecond), built.Round(time.Millisecond),
		(setupDone - built).Round(time.Millisecond))
}

// keepEvidence copies the database, every process's log, the simulator's
// channels and the client's calls to dir (WHAPIDESK_CRASH_KEEP), for a
// failure to be looked into.
func keepEvidence(t *testing.T, dir, dataDir string, sim *whapisim.Sim, calls []*crashCall, logs []*testenv.LogBuffer) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "w.db") {
			b, err := os.ReadFile(filepath.Join(dataDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, l := range logs {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("process-%d.log", i+1)), []byte(l.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	for _, c := range sim.Channels() {
		c.Token = ""
		line, _ := json.Marshal(c)
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, "whapi-channels.jsonl"), b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	for _, c := range calls {
		e := ""
		if c.err != nil {
			e = c.err.Error()
		}
		fmt.Fprintf(&b, "round=%d op=%s user=%d channel=%d days=%d comment=%q status=%d code=%s err=%q body=%s\n",
			c.round, c.op, c.user, c.channel, c.days, c.comment, c.status, c.code, e, bytes.TrimSpace(c.body))
	}
	if err := os.WriteFile(filepath.Join(dir, "calls.txt"), b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("evidence kept in %s", dir)
}

// answeredEachKind reports whether calls hold at least one answered
// create (201), extend (200) and delete (200): what checkRecovered needs.
func answeredEachKind(calls []*crashCall) bool {
	var created, extended, deleted bool
	for _, c := range calls {
		switch {
		case c.op == "create" && c.status == http.StatusCreated:
			created = true
		case c.op == "extend" && c.status == http.StatusOK:
			extended = true
		case c.op == "delete" && c.status == http.StatusOK:
			deleted = true
		}
	}
	return created && extended && deleted
}

// checkPlanLimits asserts invariant 1: no customer has more live channels
// than their plan allows.
func checkPlanLimits(t *testing.T, ctx context.Context, store *models.Store, customers []*crashCustomer, when string) {
	t.Helper()
	for _, c := range customers {
		n, err := store.CountLiveChannels(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if n > c.maxChannels {
			t.Errorf("%s: %s has %d live channels, the plan allows %d", when, c.email, n, c.maxChannels)
		}
	}
}

var crashMarker = regexp.MustCompile(`\[wd-([0-9a-f]+)-(\d+)\]$`)

// checkRecovered compares the recovered database with the simulator and
// with every answer the clients were given.
func checkRecovered(t *testing.T, ctx context.Context, store *models.Store, sim *whapisim.Sim, customers []*crashCustomer, calls []*crashCall) {
	t.Helper()
	// Invariant 2: every balance is the sum of its ledger.
	if mm, err := store.CheckLedger(ctx); err != nil || len(mm) > 0 {
		t.Errorf("balances differ from the ledger: %+v %v", mm, err)
	}
	// Invariant 5: the days WHAPI holds in channels are the days booked as
	// extended minus returned.
	simChannels := sim.Channels()
	var simDays int64
	for _, c := range simChannels {
		simDays += int64(c.ExtendedDays - c.RefundedDays)
	}
	pb, err := store.PartnerBalance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if simDays != pb.Extended-pb.Returned {
		t.Errorf("WHAPI holds %d days in channels; whapidesk booked %d extended − %d returned = %d",
			simDays, pb.Extended, pb.Returned, pb.Extended-pb.Returned)
	}
	// Nothing half-done.
	if open, err := store.OpenOperations(ctx, time.Now().Add(time.Hour)); err != nil || len(open) > 0 {
		t.Errorf("operations still open after recovery: %+v %v", open, err)
	}
	checkPlanLimits(t, ctx, store, customers, "after recovery")

	st, err := store.Settings(ctx)
	if err != nil {
		t.Fatal(err)
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
			if other := byRemote[ch.RemoteID()]; other != nil {
				t.Errorf("channels %d and %d share one WHAPI channel", other.ID, ch.ID)
			}
			byRemote[ch.RemoteID()] = ch
		}
	}
	simByID := map[string]whapisim.ChannelState{}
	for _, c := range simChannels {
		simByID[c.ID] = c
	}

	// The ledgers, per customer: allocations by their (unique) comment,
	// corrections by operation, refunds by channel.
	alloc := map[string]models.LedgerEntry{}
	corrected := map[int64]bool{}
	refunds := map[int64]int64{}
	for _, c := range customers {
		entries, err := store.Ledger(ctx, c.id, 1_000_000, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			switch e.Kind {
			case models.LedgerAllocation:
				if strings.HasPrefix(e.Comment, "crash test extend ") {
					if _, dup := alloc[e.Comment]; dup {
						t.Errorf("two allocations for %q", e.Comment)
					}
					alloc[e.Comment] = e
				}
			case models.LedgerCorrection:
				if e.OpID != nil {
					corrected[*e.OpID] = true
				}
			case models.LedgerRefund:
				if e.ChannelID != nil {
					refunds[*e.ChannelID] += e.Delta
				}
			}
		}
	}

	// Every local channel against WHAPI.
	live := 0
	for _, ch := range local {
		switch ch.Status {
		case models.ChannelPending, models.ChannelDeleting:
			t.Errorf("channel %d is still %s after recovery", ch.ID, ch.Status)
			continue
		case models.ChannelFailed:
			if ch.RemoteID() != "" {
				t.Errorf("failed channel %d has a WHAPI channel %s", ch.ID, ch.RemoteID())
			}
			continue
		}
		if ch.RemoteID() == "" {
			if ch.Status != models.ChannelDeleted {
				t.Errorf("channel %d is %s without a WHAPI channel", ch.ID, ch.Status)
			}
			continue // a failed channel deleted here
		}
		sc, ok := simByID[ch.RemoteID()]
		if !ok {
			t.Errorf("channel %d (%s) points to WHAPI channel %s, which WHAPI never had", ch.ID, ch.Status, ch.RemoteID())
			continue
		}
		if ch.Status == models.ChannelDeleted {
			if !sc.Deleted {
				t.Errorf("channel %d is deleted here but live at WHAPI (%s)", ch.ID, sc.ID)
			}
			if got, want := ch.DaysAllocated-refunds[ch.ID], int64(sc.ExtendedDays-sc.RefundedDays); got != want {
				t.Errorf("deleted channel %d: here %d allocated − %d refunded = %d; WHAPI %d extended − %d refunded = %d",
					ch.ID, ch.DaysAllocated, refunds[ch.ID], got, sc.ExtendedDays, sc.RefundedDays, want)
			}
			continue
		}
		live++
		if sc.Deleted {
			t.Errorf("channel %d is %s here but deleted at WHAPI", ch.ID, ch.Status)
			continue
		}
		if ch.ActiveTill == nil || !ch.ActiveTill.Equal(sc.ActiveTill.UTC()) {
			t.Errorf("channel %d: active till here %v, at WHAPI %v", ch.ID, ch.ActiveTill, sc.ActiveTill.UTC())
		}
		if ch.DaysAllocated != int64(sc.ExtendedDays) || sc.RefundedDays != 0 {
			t.Errorf("channel %d: %d days allocated here, WHAPI extended it by %d (refunded %d)", ch.ID, ch.DaysAllocated, sc.ExtendedDays, sc.RefundedDays)
		}
		if ch.Mode != sc.Mode {
			t.Errorf("channel %d: mode %q here, %q at WHAPI", ch.ID, ch.Mode, sc.Mode)
		}
		if sc.ExtendedDays > 0 && sc.Mode != "live" {
			t.Errorf("channel %d has %d paid days but is in %q mode at WHAPI (design §2: the first paid extend puts it in live mode)",
				ch.ID, sc.ExtendedDays, sc.Mode)
		}
	}

	// Every WHAPI channel against ours: no duplicates, no orphans.
	liveByMarker := map[int64][]string{}
	simLive := 0
	for _, sc := range simChannels {
		m := crashMarker.FindStringSubmatch(sc.Name)
		if m == nil || m[1] != st.InstallID {
			t.Errorf("WHAPI channel %s (%q) is not named by this installation", sc.ID, sc.Name)
			continue
		}
		if sc.Deleted {
			continue
		}
		simLive++
		id, _ := strconv.ParseInt(m[2], 10, 64)
		liveByMarker[id] = append(liveByMarker[id], sc.ID)
		ch := byRemote[sc.ID]
		switch {
		case ch == nil:
			t.Errorf("orphan at WHAPI: %s (%q) belongs to no channel here", sc.ID, sc.Name)
		case ch.ID != id:
			t.Errorf("WHAPI channel %s is named for channel %d but belongs to channel %d", sc.ID, id, ch.ID)
		}
	}
	for id, ids := range liveByMarker {
		if len(ids) > 1 {
			t.Errorf("channel %d has %d live WHAPI channels: %v", id, len(ids), ids)
		}
	}
	if simLive != live {
		t.Errorf("%d live channels here, %d at WHAPI", live, simLive)
	}

	// Every answer the clients were given.
	deleteTried := map[int64]bool{}
	for _, c := range calls {
		if c.op == "delete" {
			deleteTried[c.channel] = true
		}
	}
	var created, extended, deleted, refused int
	for _, c := range calls {
		if c.status >= 500 && c.code != "pending" {
			t.Errorf("%s (round %d, channel %d) answered %d %s: %s", c.op, c.round, c.channel, c.status, c.code, c.body)
		}
		switch {
		case c.op == "create" && c.status == 201:
			created++
			var a struct {
				ID     int64
				Status string
			}
			_ = json.Unmarshal(c.body, &a)
			if a.Status != string(models.ChannelTrial) && a.Status != string(models.ChannelActive) {
				t.Errorf("create answered 201 with status %q: %s", a.Status, c.body)
			}
			ch := local[a.ID]
			switch {
			case ch == nil:
				t.Errorf("channel %d, created (201) in round %d, does not exist", a.ID, c.round)
			case ch.RemoteID() == "" || ch.Status == models.ChannelFailed:
				t.Errorf("channel %d, created (201), is %s without a WHAPI channel", a.ID, ch.Status)
			case ch.UserID != c.user:
				t.Errorf("channel %d, created for user %d, belongs to %d", a.ID, c.user, ch.UserID)
			case ch.Status == models.ChannelDeleted && !deleteTried[a.ID]:
				t.Errorf("channel %d, created (201), is deleted though nobody asked", a.ID)
			default:
				if sc, ok := simByID[ch.RemoteID()]; !ok {
					t.Errorf("channel %d, created (201), is unknown at WHAPI", a.ID)
				} else if sc.Deleted != (ch.Status == models.ChannelDeleted) {
					t.Errorf("channel %d, created (201): deleted here %v, at WHAPI %v", a.ID, ch.Status == models.ChannelDeleted, sc.Deleted)
				}
			}
		case c.op == "extend" && c.status == 200:
			extended++
			e, ok := alloc[c.comment]
			if !ok {
				t.Errorf("extend %q of channel %d by %d days answered 200, but the ledger has no allocation for it", c.comment, c.channel, c.days)
				continue
			}
			if e.Delta != -c.days || e.ChannelID == nil || *e.ChannelID != c.channel || e.OpID == nil {
				t.Errorf("extend %q (channel %d, %d days) answered 200; its ledger row is %+v", c.comment, c.channel, c.days, e)
				continue
			}
			op, err := store.OperationByID(ctx, *e.OpID)
			if err != nil || op.State != models.OpDone || corrected[op.ID] {
				t.Errorf("extend %q answered 200, but its operation is %+v (given back: %v) %v", c.comment, op, corrected[*e.OpID], err)
			}
			var a struct {
				DaysAllocated int64 `json:"days_allocated"`
			}
			if json.Unmarshal(c.body, &a) != nil || a.DaysAllocated < c.days {
				t.Errorf("extend %q answered 200 with %s", c.comment, c.body)
			}
		case c.op == "extend" && c.status >= 400 && c.status < 500:
			refused++
			// WHAPI's cool-down refuses an extend after its days were
			// reserved: they must have been given back.
			if e, ok := alloc[c.comment]; ok && (c.code != "extend_too_soon" || e.OpID == nil || !corrected[*e.OpID]) {
				t.Errorf("extend %q was refused (%d %s) but the ledger has %+v", c.comment, c.status, c.code, e)
			}
		case c.op == "delete" && c.status == 200:
			deleted++
			var a struct {
				DaysReturned int64 `json:"days_returned"`
			}
			_ = json.Unmarshal(c.body, &a)
			ch := local[c.channel]
			if ch == nil || ch.Status != models.ChannelDeleted {
				t.Errorf("channel %d: delete answered 200, but it is %+v", c.channel, ch)
				continue
			}
			if refunds[c.channel] != a.DaysReturned {
				t.Errorf("channel %d: delete answered %d days returned, the ledger refunded %d", c.channel, a.DaysReturned, refunds[c.channel])
			}
			if sc, ok := simByID[ch.RemoteID()]; ch.RemoteID() != "" && (!ok || !sc.Deleted) {
				t.Errorf("channel %d: delete answered 200, but WHAPI still has %s", c.channel, ch.RemoteID())
			}
		}
	}
	t.Logf("checked: %d channels here (%d live), %d WHAPI channels (%d live); answers held: %d creates, %d extends, %d deletes, %d refused extends",
		len(local), live, len(simChannels), simLive, created, extended, deleted, refused)
	if created == 0 || extended == 0 || deleted == 0 {
		t.Errorf("the load did too little to prove anything: %d creates, %d extends, %d deletes answered", created, extended, deleted)
	}
}
