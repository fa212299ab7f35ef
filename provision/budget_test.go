package provision

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"whapidesk/models"
	"whapidesk/whapi"
	"whapidesk/whapi/whapisim"
)

// countCreates counts the PUT /channels that reach the simulator (every
// one, whatever it answers), in front of it.
func countCreates(n *atomic.Int32) func(*envOpts) {
	return func(o *envOpts) {
		o.front = func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPut && r.URL.Path == "/channels" {
					n.Add(1)
				}
				h.ServeHTTP(w, r)
			})
		}
	}
}

// budgetRefusal asserts that err is the create budget's refusal and
// returns it.
func budgetRefusal(t *testing.T, err error) *RetryLaterError {
	t.Helper()
	var rl *RetryLaterError
	if !errors.As(err, &rl) || rl.Code != CodeCreateBudget {
		t.Fatalf("want the create budget's refusal, got %v", err)
	}
	if strings.Contains(strings.ToLower(rl.Error()), "whapi") {
		t.Fatalf("the refusal names WHAPI: %q", rl.Error())
	}
	return rl
}

// refusalEvents are the audit events of action.
func (e *env) refusalEvents(action string) []models.AuditEvent {
	e.t.Helper()
	evs, err := e.store.ListAudit(e.ctx, 1000, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []models.AuditEvent
	for _, ev := range evs {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

// A customer who creates and deletes in a loop spends their own share of
// WHAPI's create budget (their plan's 3 channels + 2), not everyone's:
// another customer can still create, WHAPI sees no create past the share,
// the refusal says when to try again, and the window reopens 30 minutes
// after the first attempt.
func TestCreateBudgetShareKeepsOthersAbleToCreate(t *testing.T) {
	var puts atomic.Int32
	e := newEnv(t, countCreates(&puts))
	mallory := e.customer("mallory", 3, 30, 90)
	alice := e.customer("alice", 3, 30, 90)
	start := e.clock.Now()
	created, refused := 0, 0
	var first *RetryLaterError
	for i := range 30 {
		ch, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: mallory.ID, Name: fmt.Sprintf("churn %d", i)})
		if err == nil {
			created++
			if _, err := e.svc.Delete(e.ctx, admin, ch.ID); err != nil {
				t.Fatal(err)
			}
		} else {
			rl := budgetRefusal(t, err)
			refused++
			if first == nil {
				first = rl
				if want := start.Add(CreateWindow).Sub(e.clock.Now()); rl.After != want {
					t.Fatalf("the first refusal says %v, want %v (when the first attempt leaves the window)", rl.After, want)
				}
				if rl.Error() != "you can add a channel again in 30 minutes" {
					t.Fatalf("words %q", rl.Error())
				}
			}
		}
		e.clock.Advance(10 * time.Second)
	}
	if created != 5 || refused != 25 {
		t.Fatalf("created %d, refused %d; want 5 (3 + 2) and 25", created, refused)
	}
	if n := puts.Load(); n != 5 {
		t.Fatalf("WHAPI saw %d creates, want 5", n)
	}
	// Another customer is not locked out.
	e.create(alice.ID, "shop")
	if n := puts.Load(); n != 6 {
		t.Fatalf("WHAPI saw %d creates, want 6", n)
	}
	// The refused attempts left no channel; their refusals one audit event.
	rows, total, err := e.store.ListChannels(e.ctx, models.ChannelFilter{UserID: mallory.ID, IncludeGone: true, Limit: 100})
	if err != nil || total != 5 {
		t.Fatalf("mallory has %d channel rows, want the 5 made: %v", total, err)
	}
	for _, r := range rows {
		if r.Status != models.ChannelDeleted {
			t.Fatalf("a channel %s", r.Status)
		}
	}
	evs := e.refusalEvents("channel.create_refused")
	if len(evs) != 1 || evs[0].Repeats != 25 || evs[0].Target != fmt.Sprintf("user %d", mallory.ID) ||
		!strings.Contains(evs[0].Detail, "refused 25 times") {
		t.Fatalf("refusal events: %+v", evs)
	}
	// The window reopens 30 minutes after the first attempt, not before.
	e.clock.Set(start.Add(CreateWindow - time.Second))
	budgetRefusal(t, e.createErr(mallory.ID, "too soon"))
	e.clock.Set(start.Add(CreateWindow))
	e.create(mallory.ID, "again")
	if n := puts.Load(); n != 7 {
		t.Fatalf("WHAPI saw %d creates, want 7", n)
	}
}

func (e *env) createErr(userID int64, name string) error {
	_, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: userID, Name: name})
	return err
}

// Twenty-five customers creating at the same moment: exactly WHAPI's 20
// reach it (none refused by WHAPI), the others are told when a channel can
// be added again, and one can once the first attempt leaves the window.
func TestCreateBudgetPartnerWideUnderConcurrency(t *testing.T) {
	var puts atomic.Int32
	e := newEnv(t, countCreates(&puts))
	users := make([]*models.User, 25)
	for i := range users {
		users[i] = e.customer(fmt.Sprintf("c%02d", i), 1, 30, 30)
	}
	start := e.clock.Now()
	var ok, refused atomic.Int32
	var mu sync.Mutex
	var losers []int64
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			_, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: u.ID, Name: "line"})
			var rl *RetryLaterError
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &rl) && rl.Code == CodeCreateBudget && rl.After == CreateWindow &&
				strings.Contains(rl.Detail, "20 new channels"):
				refused.Add(1)
				mu.Lock()
				losers = append(losers, u.ID)
				mu.Unlock()
			default:
				t.Errorf("create: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 20 || refused.Load() != 5 || puts.Load() != 20 || e.simLive() != 20 {
		t.Fatalf("created %d, refused %d, WHAPI saw %d creates and holds %d channels; want 20, 5, 20, 20",
			ok.Load(), refused.Load(), puts.Load(), e.simLive())
	}
	e.clock.Set(start.Add(CreateWindow))
	e.create(losers[0], "line")
	if puts.Load() != 21 {
		t.Fatalf("WHAPI saw %d creates", puts.Load())
	}
}

// Twenty creates at once by a customer who has used 3 of their share of 5
// (plan of 3, churned): exactly the 2 left reach WHAPI, though the plan
// has 3 free slots.
func TestCreateBudgetShareUnderConcurrency(t *testing.T) {
	var puts atomic.Int32
	e := newEnv(t, countCreates(&puts))
	u := e.customer("amal", 3, 30, 90)
	for i := range 3 {
		ch := e.create(u.ID, fmt.Sprintf("churn %d", i))
		if _, err := e.svc.Delete(e.ctx, admin, ch.ID); err != nil {
			t.Fatal(err)
		}
	}
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			err := e.createErr(u.ID, fmt.Sprintf("line %d", i))
			var rl *RetryLaterError
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &rl) && rl.Code == CodeCreateBudget:
				refused.Add(1)
			default:
				t.Errorf("create: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 2 || refused.Load() != 18 || puts.Load() != 5 {
		t.Fatalf("created %d, refused %d, WHAPI saw %d creates; want 2, 18, 5", ok.Load(), refused.Load(), puts.Load())
	}
	// The share is an admin setting: plan limit + 4 lets 2 more through.
	extra := int64(4)
	if _, err := e.svc.SaveWHAPISettings(e.ctx, admin, SettingsInput{CreateShareExtra: &extra}); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.store.CountLiveChannels(e.ctx, u.ID); n != 2 {
		t.Fatalf("%d live", n)
	}
	e.create(u.ID, "third")
	if err := e.createErr(u.ID, "fourth"); !errors.Is(err, models.ErrPlanLimit) {
		t.Fatalf("past the plan: %v", err)
	}
	if puts.Load() != 6 {
		t.Fatalf("WHAPI saw %d creates, want 6", puts.Load())
	}
}

// 1,000 refused creates write nothing but one audit event, counted: every
// table's row count stays as it was (that event's included), and so does
// the database file, checkpointed, within two pages.
func TestRefusedCreatesLeaveTheDatabaseFlat(t *testing.T) {
	var puts atomic.Int32
	e := newEnv(t, countCreates(&puts))
	u := e.customer("mallory", 1, 30, 30)
	for i := range 3 { // the share: 1 + 2
		ch := e.create(u.ID, fmt.Sprintf("churn %d", i))
		if _, err := e.svc.Delete(e.ctx, admin, ch.ID); err != nil {
			t.Fatal(err)
		}
	}
	budgetRefusal(t, e.createErr(u.ID, "refused"))
	// On PostgreSQL the rows are counted through the store; the size of
	// the database is a file's only on SQLite.
	db, pg := e.te.Store.DB(), e.te.Store.Postgres()
	if !pg {
		db = openRaw(t, e.te.DBPath)
	}
	size := func() int64 {
		if pg {
			return 0
		}
		return checkpointedSize(t, db, e.te.DBPath)
	}
	counts0, size0 := tableCounts(t, db), size()
	for i := range 999 {
		budgetRefusal(t, e.createErr(u.ID, fmt.Sprintf("refused %d", i)))
		if i%100 == 0 {
			e.clock.Advance(time.Second)
		}
	}
	counts1, size1 := tableCounts(t, db), size()
	for table, n := range counts0 {
		if counts1[table] != n {
			t.Errorf("table %s: %d rows before, %d after 999 more refused creates", table, n, counts1[table])
		}
	}
	const page = 4096
	if size1 > size0+2*page {
		t.Errorf("the database grew from %d to %d bytes", size0, size1)
	}
	if puts.Load() != 3 {
		t.Fatalf("WHAPI saw %d creates, want 3", puts.Load())
	}
	if evs := e.refusalEvents("channel.create_refused"); len(evs) != 1 || evs[0].Repeats != 1000 {
		t.Fatalf("refusal events %+v", evs)
	}
}

// openRaw is a second connection to the test's database, to count and
// checkpoint what the store wrote.
func openRaw(t *testing.T, path string) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open("file:"+path+"?_busy_timeout=10000"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	return db
}

// tableCounts is the row count of every table.
func tableCounts(t *testing.T, db *gorm.DB) map[string]int64 {
	t.Helper()
	var tables []string
	list := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if db.Name() == "postgres" {
		list = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	if err := db.Raw(list).Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, name := range tables {
		var n int64
		if err := db.Raw(`SELECT COUNT(*) FROM "` + name + `"`).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	if len(out) < 10 {
		t.Fatalf("only %d tables: %v", len(out), out)
	}
	return out
}

// checkpointedSize moves the WAL into the database file and returns the
// file's size. The store's own background checkpoint may hold SQLite's
// checkpoint lock at that moment (busy, without a wait): then it tries
// again.
func checkpointedSize(t *testing.T, db *gorm.DB, path string) int64 {
	t.Helper()
	var res struct{ Busy, Log, Checkpointed int }
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err := db.Raw(`PRAGMA wal_checkpoint(TRUNCATE)`).Row().Scan(&res.Busy, &res.Log, &res.Checkpointed); err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
		if res.Busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint: still busy after 30 s: %+v", res)
		}
		time.Sleep(5 * time.Millisecond) // polling for the condition
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// When WHAPI itself answers a create with 429 (its budget spent by
// something else on the partner account), no further create is sent
// until its Retry-After, for any customer; then creates go through again.
func TestWHAPIs429HoldsTheBudgetSpent(t *testing.T) {
	var puts atomic.Int32
	e := newEnv(t, countCreates(&puts))
	// Another tool spends WHAPI's budget behind whapidesk's back.
	other := e.client()
	start := e.clock.Now()
	for i := range whapisim.DefaultCreateLimit {
		if _, err := other.CreateChannel(e.ctx, whapi.CreateChannelRequest{Name: fmt.Sprintf("other %d", i), ProjectID: models.DefaultProjectID}); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(10 * time.Minute)
	puts.Store(0)
	amal, bruno := e.customer("amal", 1, 30, 30), e.customer("bruno", 1, 30, 30)
	rl := budgetRefusal(t, e.createErr(amal.ID, "shop"))
	if rl.After != 20*time.Minute || !strings.Contains(rl.Detail, "429") {
		t.Fatalf("after WHAPI's 429: %v (%q), want 20 minutes (its Retry-After)", rl.After, rl.Detail)
	}
	if puts.Load() != 1 {
		t.Fatalf("WHAPI saw %d creates", puts.Load())
	}
	e.clock.Advance(5 * time.Minute)
	rl = budgetRefusal(t, e.createErr(bruno.ID, "shop"))
	if rl.After != 15*time.Minute || puts.Load() != 1 {
		t.Fatalf("another customer meanwhile: told %v, WHAPI saw %d creates", rl.After, puts.Load())
	}
	if evs := e.refusalEvents("channel.create_refused_whapi"); len(evs) != 2 {
		t.Fatalf("refusal events %+v", evs)
	}
	e.clock.Set(start.Add(CreateWindow))
	e.create(bruno.ID, "shop")
	if puts.Load() != 2 {
		t.Fatalf("WHAPI saw %d creates", puts.Load())
	}
}

// A 429 without a Retry-After holds the budget spent for the whole window
// (WHAPI's docs: "until the 30-minute window resets").
func TestWHAPIs429WithoutRetryAfterWaitsTheWindow(t *testing.T) {
	var puts atomic.Int32
	e := newEnv(t, countCreates(&puts))
	u := e.customer("amal", 1, 30, 30)
	e.sim.InjectFault(whapisim.Fault{Method: http.MethodPut, Path: "/channels", Kind: whapisim.FaultStatus, Status: http.StatusTooManyRequests})
	if rl := budgetRefusal(t, e.createErr(u.ID, "shop")); rl.After != CreateWindow {
		t.Fatalf("told %v", rl.After)
	}
	e.clock.Advance(CreateWindow - time.Second)
	budgetRefusal(t, e.createErr(u.ID, "shop"))
	e.clock.Advance(time.Second)
	e.create(u.ID, "shop")
	if puts.Load() != 2 {
		t.Fatalf("WHAPI saw %d creates, want 2", puts.Load())
	}
}
