package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/handlers"
	"whapidesk/internal/testdb"
	"whapidesk/internal/testenv"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi"
	"whapidesk/whapi/whapisim"
)

// ---------------------------------------------------------------- 6

// benchPG is the PostgreSQL server section 6 measures on (`make bench`
// runs under scripts/test-pg.sh when PostgreSQL is installed), taken from
// testdb's variable before any section runs and cleared there, so that
// sections 1–5 stay on SQLite; section 6 makes its own schemas on it.
var benchPG = os.Getenv(testdb.Variable)

func init() { _ = os.Unsetenv(testdb.Variable) }

// pgConnBudget is the connections of every instance together on
// PostgreSQL (each of n instances gets a ceiling of pgConnBudget/n): three
// per CPU of this 2-CPU machine, where the server, the instances and the
// clients all run. One instance on the default pool of 16 did less than
// on 6 here (687 against 1,615 credits a second at 50 clients, one run),
// and three on 16 each (48 backends) less again: more busy backends than
// cores only take turns. So the setups compare instances at one
// database budget, as an operator would run them.
const pgConnBudget = 6

// writeLevels are the concurrent clients of section 6.
var writeLevels = []int{1, 10, 50}

// writeStack is whapidesk over one database: one or more instances, each
// with its own store (its own pool), provision service and handlers behind
// an httptest server, sharing the simulator (zero latency).
type writeStack struct {
	urls     []string
	admin    string   // an admin's API key
	users    []int64  // customers to credit, one per client
	creators []string // a customer's API key per client, on a plan with room to spare
	hc       *http.Client
}

// newWriteStack builds the stack on a new database: SQLite (a temp file)
// when pg is empty, else a schema of its own on the server pg.
func newWriteStack(b *testing.B, pg string, instances, clients int) *writeStack {
	b.Helper()
	if pg != "" {
		b.Setenv(testdb.Variable, pg) // testdb.New: a fresh schema on it
	}
	// The simulator as newApp has it: days and creates enough for every run.
	env := testenv.New(b, testenv.Options{States: provision.States(), Timeout: 15 * time.Second,
		Sim: whapisim.Options{BalanceDays: 10_000_000, CreateLimit: 1 << 30}})
	log := slog.New(slog.DiscardHandler)
	ws := &writeStack{hc: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * clients}}}
	b.Cleanup(ws.hc.CloseIdleConnections)
	for i := range instances {
		store := env.Store
		if pg != "" {
			// The instances share one budget of connections, as
			// docs/deploy.md tells an operator (WHAPIDESK_DATABASE_MAX_CONNS):
			// each its share. env.Store, on the default pool, only seeds.
			db := env.DB
			db.MaxConns = (pgConnBudget + instances - 1) / instances
			s, err := models.Open(context.Background(), db, env.Cipher, provision.States(), models.WithLogger(log))
			must(b, err)
			b.Cleanup(func() { _ = s.Close() })
			store = s
		} else if i > 0 {
			s, err := models.Open(context.Background(), env.DB, env.Cipher, provision.States(), models.WithLogger(log))
			must(b, err)
			b.Cleanup(func() { _ = s.Close() })
			store = s
		}
		svc := provision.New(store, env.Client(whapi.WithLogger(log)), log)
		svc.CreateBudget = models.CreateBudget{Limit: 1 << 30, Window: provision.CreateWindow}
		e := echo.New()
		handlers.New(store, svc, log, handlers.Config{}).Routes(e)
		srv := httptest.NewServer(e)
		b.Cleanup(srv.Close)
		ws.urls = append(ws.urls, srv.URL)
	}
	st := env.Store
	tok, err := provision.NormalizePartnerToken("Bearer " + env.PartnerToken)
	must(b, err)
	_, _, err = st.UpdateSettings(bg, models.SystemActor, models.SettingsChange{PartnerToken: &tok, Hint: provision.TokenHint(tok)})
	must(b, err)
	must(b, st.RecordPartnerPurchase(bg, models.SystemActor, 10_000_000, "bench"))
	admin := env.User(models.RoleAdmin, "admin@example.com")
	ws.admin = env.APIKey(admin)
	// Room for every create of the run: the plan's limit is also the
	// customer's share of WHAPI's create budget.
	p, err := st.CreatePlan(bg, models.SystemActor, models.PlanInput{Name: "Writes", MaxChannels: 1000, DaysPerPeriod: 30, PeriodDays: 30})
	must(b, err)
	for i := range clients {
		u := env.User(models.RoleCustomer, fmt.Sprintf("w%d@example.com", i))
		_, err := st.ActivatePlan(bg, models.SystemActor, u.ID, p.ID)
		must(b, err)
		ws.users = append(ws.users, u.ID)
		ws.creators = append(ws.creators, env.APIKey(u))
	}
	return ws
}

// do sends one API request and returns its time, or an error naming the
// status and the body for any answer but want.
func (ws *writeStack) do(base, key string, want int, method, path, body string) (string, time.Duration, error) {
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	res, err := ws.hc.Do(req)
	if err != nil {
		return "", 0, err
	}
	raw, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	d := time.Since(start)
	if err != nil {
		return "", d, err
	}
	if res.StatusCode != want {
		return string(raw), d, fmt.Errorf("%s %s: status %d: %.200s", method, path, res.StatusCode, raw)
	}
	return string(raw), d, nil
}

// writeRun is what one level of one workload measured.
type writeRun struct {
	clients      int
	st           stats
	ops, errs    int
	locked       int // errors that say the database was locked (SQLITE_BUSY)
	throughput   float64
	firstErr     string
	measuredOver time.Duration
	samples      []time.Duration
}

// writeWork is one write of a workload by client c, the i-th of its run,
// on instance base; it returns the request times it made.
type writeWork func(ws *writeStack, base string, c, i int) ([]time.Duration, error)

// creditDays: an admin credits one day to client c's customer — a
// conditional update of the balance, its ledger row and the audit event in
// one transaction, no WHAPI call.
func creditDays(ws *writeStack, base string, c, i int) ([]time.Duration, error) {
	_, d, err := ws.do(base, ws.admin, http.StatusOK, "POST", fmt.Sprintf("/api/users/%d/days", ws.users[c]), fmt.Sprintf(`{"days":1,"comment":"bench %d"}`, i))
	return []time.Duration{d}, err
}

// createDelete: client c's customer creates a channel and deletes it — the
// create budget's claim, the plan's slot, the journal, WHAPI's create, its
// confirmation; then the delete's journal, WHAPI's delete and the refund.
// Each request is one sample.
func createDelete(ws *writeStack, base string, c, i int) ([]time.Duration, error) {
	body, d1, err := ws.do(base, ws.creators[c], http.StatusCreated, "POST", "/api/channels", fmt.Sprintf(`{"name":"W %d"}`, i))
	if err != nil {
		return []time.Duration{d1}, err
	}
	m := idRE.FindStringSubmatch(body)
	if m == nil {
		return []time.Duration{d1}, fmt.Errorf("no id in %.200s", body)
	}
	_, d2, err := ws.do(base, ws.creators[c], http.StatusOK, "DELETE", "/api/channels/"+m[1], "")
	return []time.Duration{d1, d2}, err
}

// runWrites runs work with clients concurrent clients, each doing perClient
// writes after warm unmeasured ones, the clients spread round-robin over
// the stack's instances. With every zero, each client sends its next
// write as soon as the last is answered (saturation); otherwise every
// every apart, the clients' schedules staggered evenly (a steady offered
// load of clients/every, whatever the number of clients).
func runWrites(ws *writeStack, work writeWork, clients, warm, perClient int, every time.Duration) writeRun {
	r := writeRun{clients: clients}
	var mu sync.Mutex
	var all []time.Duration
	var errs, locked atomic.Int64
	note := func(err error) {
		errs.Add(1)
		msg := err.Error()
		if strings.Contains(msg, "locked") || strings.Contains(msg, "SQLITE_BUSY") {
			locked.Add(1)
		}
		mu.Lock()
		if r.firstErr == "" {
			r.firstErr = msg
		}
		mu.Unlock()
	}
	var ready, wg sync.WaitGroup
	start := make(chan struct{})
	var began time.Time
	for c := range clients {
		base := ws.urls[c%len(ws.urls)]
		ready.Add(1)
		wg.Go(func() {
			for i := range warm {
				if _, err := work(ws, base, c, -1-i); err != nil {
					note(err)
				}
			}
			ready.Done()
			<-start
			ds := make([]time.Duration, 0, 2*perClient)
			for i := range perClient {
				if every > 0 { // the load generator's pace, not a wait for a condition
					time.Sleep(time.Until(began.Add(every*time.Duration(i) + every*time.Duration(c)/time.Duration(clients))))
				}
				got, err := work(ws, base, c, i)
				if err != nil {
					note(err)
					continue
				}
				ds = append(ds, got...)
			}
			mu.Lock()
			all = append(all, ds...)
			mu.Unlock()
		})
	}
	ready.Wait()
	began = time.Now()
	close(start)
	wg.Wait()
	r.measuredOver = time.Since(began)
	r.samples = all
	r.st = percentiles(all)
	r.ops = len(all)
	r.errs, r.locked = int(errs.Load()), int(locked.Load())
	r.throughput = float64(r.ops) / r.measuredOver.Seconds()
	return r
}

// benchWrites: write latency and throughput at 1, 10 and 50 concurrent
// clients over real HTTP with API keys, without the race detector, for a
// write that moves days without WHAPI and one that creates and deletes a
// channel at WHAPI (the simulator, zero latency): SQLite with one
// instance, PostgreSQL with one and with three.
//
// Each level runs saturated (each client sends its next write when the
// last is answered: the throughput) and paced (the same offered load at
// every level, a quarter of the one-client saturated rate, spread over the
// clients: what concurrency itself costs a write, the latency goal). The
// stacks and levels take turns in short rounds, the first of each round
// rotating, so that all see the same load on a shared machine.
func benchWrites(b *testing.B) {
	type workload struct {
		name string
		work writeWork
		reqs int // requests per write
		// ops is how many writes a saturated level runs in all.
		ops int
	}
	works := []workload{
		{"credit days (POST /api/users/:id/days; no WHAPI call)", creditDays, 1, 600},
		{"create + delete a channel (POST /api/channels, DELETE /api/channels/:id; 2 WHAPI calls)", createDelete, 2, 200},
	}
	type setup struct {
		name      string
		pg        bool
		instances int
	}
	setups := []setup{{"SQLite, 1 instance", false, 1}, {"PostgreSQL, 1 instance", true, 1}, {"PostgreSQL, 3 instances", true, 3}}
	const satRounds, pacedRounds, round = 4, 4, time.Second
	most := writeLevels[len(writeLevels)-1]
	// pool merges what a round measured into the level's total.
	pool := func(into *writeRun, got writeRun) {
		into.clients = got.clients
		into.samples = append(into.samples, got.samples...)
		into.errs += got.errs
		into.locked += got.locked
		into.measuredOver += got.measuredOver
		if into.firstErr == "" {
			into.firstErr = got.firstErr
		}
	}
	finish := func(r *writeRun) {
		r.st, r.ops = percentiles(r.samples), len(r.samples)
		r.throughput = float64(r.ops) / r.measuredOver.Seconds()
	}
	for range b.N {
		for _, w := range works {
			type measured struct {
				setup
				ws         *writeStack
				sat, paced map[int]*writeRun
				every1     time.Duration
			}
			var stacks []*measured
			for _, s := range setups {
				if s.pg && benchPG == "" {
					continue
				}
				pg := ""
				if s.pg {
					pg = benchPG
				}
				m := &measured{setup: s, ws: newWriteStack(b, pg, s.instances, most), sat: map[int]*writeRun{}, paced: map[int]*writeRun{}}
				for _, c := range writeLevels {
					m.sat[c], m.paced[c] = &writeRun{}, &writeRun{}
				}
				stacks = append(stacks, m)
			}
			for r := range satRounds {
				for _, c := range writeLevels {
					for j := range stacks {
						m := stacks[(r+j)%len(stacks)]
						pool(m.sat[c], runWrites(m.ws, w.work, c, 2, max(2, w.ops/c/satRounds), 0))
					}
				}
			}
			for _, m := range stacks {
				for _, c := range writeLevels {
					finish(m.sat[c])
				}
				// A quarter of the one client's saturated rate, in writes.
				m.every1 = time.Duration(4 * float64(time.Second) * float64(w.reqs) / m.sat[1].throughput)
			}
			for r := range pacedRounds {
				for j := range len(stacks) * len(writeLevels) {
					k := (r + j) % (len(stacks) * len(writeLevels))
					m, c := stacks[k%len(stacks)], writeLevels[k/len(stacks)]
					every := m.every1 * time.Duration(c)
					pool(m.paced[c], runWrites(m.ws, w.work, c, 0, max(1, int(round/every)), every))
				}
			}
			// PostgreSQL with one instance: the baseline of three.
			var pgOne *measured
			for _, m := range stacks {
				for _, c := range writeLevels {
					finish(m.paced[c])
				}
				if m.pg && m.instances == 1 {
					pgOne = m
				}
			}
			rowsOf := map[string]*measured{}
			for _, m := range stacks {
				rowsOf[m.name] = m
			}
			for _, s := range setups {
				m := rowsOf[s.name]
				if m == nil {
					add(row{"6", fmt.Sprintf("write: %s, %s", w.name, s.name), "not measured: no PostgreSQL", "–", "–", "–", "–"})
					continue
				}
				pacedOne := m.paced[1]
				for _, clients := range writeLevels {
					sat, paced := m.sat[clients], m.paced[clients]
					errs, locked := sat.errs+paced.errs, sat.locked+paced.locked
					value := fmt.Sprintf("paced %.0f req/s: %s (%s); saturated: %s (%s), %.0f req/s; %d errors",
						paced.throughput, ms(paced.st.p50), ms(paced.st.p99), ms(sat.st.p50), ms(sat.st.p99), sat.throughput, errs)
					if locked > 0 {
						value += fmt.Sprintf(", %d \"database is locked\"", locked)
					}
					for _, r := range []*writeRun{sat, paced} {
						if r.firstErr != "" {
							b.Logf("section 6, %s, %s, %d clients: first error: %s", w.name, s.name, clients, r.firstErr)
						}
					}
					what := fmt.Sprintf("write: %s, %s, %d client(s): paced p50 (p99); saturated p50 (p99), throughput; errors (%d + %d requests)",
						w.name, s.name, clients, paced.ops, sat.ops)
					base := "paced 1 client p50 " + ms(pacedOne.st.p50)
					rat := fmt.Sprintf("paced p99 %.1f× 1-client p50", float64(paced.st.p99)/float64(pacedOne.st.p50))
					target, met := "–", "–"
					switch {
					case !s.pg && clients == most:
						ok := errs == 0 && float64(paced.st.p99) <= 10*float64(pacedOne.st.p50)
						target, met = "paced p99 ≤ 10× 1-client p50; no errors, none \"locked\"", yes(ok)
					case s.pg && s.instances > 1 && clients > 1 && pgOne != nil:
						one := pgOne.sat[clients].throughput
						base = fmt.Sprintf("1 instance, saturated: %.0f req/s", one)
						rat = fmt.Sprintf("%.2f× the throughput of 1 instance", sat.throughput/one)
						target, met = "≥ 1× one instance's throughput; no errors", yes(errs == 0 && sat.throughput >= one)
					}
					if errs > 0 && met == "–" {
						target, met = "no errors", yes(false)
					}
					add(row{"6", what, value, base, rat, target, met})
				}
			}
		}
	}
}
