package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"whapidesk/models"
)

// apiRaced is one answer of a request sent among many at once.
type apiRaced struct {
	status int
	code   string
	body   string
	err    error
}

// apiRace sends n requests at the same instant (all wait on one gate) and
// returns their answers. It uses a plain client: t.Fatal may not be called
// from these goroutines.
func apiRace(f *apiFix, who apiWho, n int, method, path, body string) []apiRaced {
	client := &http.Client{Timeout: 2 * time.Minute}
	out := make([]apiRaced, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, err := http.NewRequest(method, f.a.srv.URL+path, strings.NewReader(body))
			if err != nil {
				out[i].err = err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+who.key)
			<-gate
			res, err := client.Do(req)
			if err != nil {
				out[i].err = err
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			out[i] = apiRaced{status: res.StatusCode, body: string(b), err: err}
			var e apiErrorBody
			if json.Unmarshal(b, &e) == nil {
				out[i].code = e.Error.Code
			}
			if who.customer {
				f.record(result{Response: res, body: string(b)})
			}
		})
	}
	close(gate)
	wg.Wait()
	return out
}

// apiTally counts answers by "status code" (e.g. "409 plan_limit").
func apiTally(t *testing.T, rs []apiRaced) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, r := range rs {
		if r.err != nil {
			t.Fatalf("request failed: %v", r.err)
		}
		m[strings.TrimSpace(fmt.Sprintf("%d %s", r.status, r.code))]++
	}
	return m
}

// Issue 3: 20 parallel POST /api/channels for a customer whose plan allows
// 3 → exactly 3 channels, locally and upstream.
func TestAPIParallelCreatesRespectThePlanLimit(t *testing.T) {
	f := newAPIFix(t)
	ctx := context.Background()
	f.subscribe(f.alice.id, f.createPlan("Three", 3, 30, 30))

	rs := apiRace(f, f.alice, 20, "POST", "/api/channels", `{"name":"Rush"}`)
	tally := apiTally(t, rs)
	if tally["201"] != 3 || tally["409 plan_limit"] != 17 || len(tally) != 2 {
		t.Fatalf("answers %v, want 3 × 201 and 17 × 409 plan_limit", tally)
	}

	live, err := f.a.store.CountLiveChannels(ctx, f.alice.id)
	if err != nil || live != 3 {
		t.Fatalf("%d live channels locally (%v), want 3", live, err)
	}
	rows, total, err := f.a.store.ListChannels(ctx, models.ChannelFilter{UserID: f.alice.id, IncludeGone: true})
	if err != nil || total != 3 {
		t.Fatalf("%d channels locally in any state (%v), want 3", total, err)
	}
	remoteIDs := map[string]bool{}
	for _, r := range rows {
		if r.RemoteID() == "" {
			t.Fatalf("channel %d has no upstream channel: %+v", r.ID, r.Channel)
		}
		remoteIDs[r.RemoteID()] = true
	}
	upstream := 0
	for _, st := range f.a.sim.Channels() {
		if st.Deleted {
			continue
		}
		upstream++
		if !remoteIDs[st.ID] {
			t.Errorf("upstream channel %s is not one of ours", st.Name)
		}
	}
	if upstream != 3 || len(remoteIDs) != 3 {
		t.Fatalf("%d channels upstream, %d distinct locally; want 3 and 3", upstream, len(remoteIDs))
	}
	if n := f.a.sim.CountRequests("PUT", "/channels"); n != 3 {
		t.Fatalf("%d creates sent upstream, want 3", n)
	}
}

// Issue 3: 50 parallel extends of 3 days against a balance of 100 →
// exactly 33 succeed, the balance is 1, the ledger sums to the balance and
// the simulator received exactly 33 extends.
func TestAPIParallelExtendsRespectTheBalance(t *testing.T) {
	// The balance under 50 extends at once, not WHAPI's cool-down (which
	// would refuse all but the first; it has tests of its own): a WHAPI
	// without it.
	f := newAPIFix(t, func(o *appOptions) { o.sim.ExtendCoolDown = -1 })
	ctx := context.Background()
	// A plan whose activation credits 1 day, then 99 days by hand: 100.
	f.subscribe(f.alice.id, f.createPlan("Tiny", 1, 1, 30))
	r := f.call(f.admin, "POST", fmt.Sprintf("/api/users/%d/days", f.alice.id), `{"days":99,"comment":"top up to 100"}`)
	apiWant(t, r, http.StatusOK, "")
	if b := f.balance(f.alice.id); b != 100 {
		t.Fatalf("balance %d, want 100", b)
	}
	ch := f.createChannel(f.alice, "Busy")
	f.a.sim.ResetRequests()

	rs := apiRace(f, f.admin, 50, "POST", fmt.Sprintf("/api/channels/%d/extend", ch.ID), `{"days":3,"comment":"race"}`)
	tally := apiTally(t, rs)
	if tally["200"] != 33 || tally["409 insufficient_balance"] != 17 || len(tally) != 2 {
		t.Fatalf("answers %v, want 33 × 200 and 17 × 409 insufficient_balance", tally)
	}

	if b := f.balance(f.alice.id); b != 1 {
		t.Fatalf("balance %d, want 1", b)
	}
	f.checkLedger()
	rows, err := f.a.store.Ledger(ctx, f.alice.id, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	allocations := 0
	for _, row := range rows {
		sum += row.Delta
		if row.Kind == models.LedgerAllocation {
			allocations++
		}
	}
	if sum != 1 || allocations != 33 {
		t.Fatalf("ledger sums to %d with %d allocations, want 1 and 33", sum, allocations)
	}

	extends := 0
	for _, req := range f.a.sim.Requests() {
		if req.Method == http.MethodPost && strings.HasSuffix(req.Path, "/extend") {
			extends++
		}
	}
	if extends != 33 {
		t.Fatalf("the simulator received %d extends, want 33", extends)
	}
	local, err := f.a.store.ChannelByID(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.a.sim.Channel(local.RemoteID())
	if local.DaysAllocated != 99 || st.ExtendedDays != 99 {
		t.Fatalf("days allocated %d locally, %d upstream; want 99", local.DaysAllocated, st.ExtendedDays)
	}
}
