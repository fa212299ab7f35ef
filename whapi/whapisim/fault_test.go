package whapisim

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// waitFor polls cond until it holds or a minute passes: the bound is only
// there to fail a wait that never ends, not to time a busy machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func lastRequest(s *Sim) Request {
	reqs := s.Requests()
	if len(reqs) == 0 {
		return Request{}
	}
	return reqs[len(reqs)-1]
}

func createBody() map[string]string {
	return map[string]string{"name": "n", "projectId": DefaultProjectID}
}

func TestFaultStatus(t *testing.T) {
	for _, status := range []int{500, 502, 503, 429} {
		e := newEnv(t, Options{})
		e.sim.InjectFault(Fault{Method: "PUT", Path: "/channels", Kind: FaultStatus, Status: status})
		wantError(t, e.manager("PUT", "/channels", createBody()), status)
		if n := len(e.sim.Channels()); n != 0 {
			t.Fatalf("%d: a channel was created", status)
		}
		if r := lastRequest(e.sim); r.Status != status || r.Fault != FaultStatus || r.Aborted {
			t.Fatalf("recorded %+v", r)
		}
		e.create("after the fault")
	}
}

// A fault may carry WHAPI error texts of the test's choosing.
func TestFaultStatusWithOwnMessage(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.InjectFault(Fault{Method: "PUT", Path: "/channels", Kind: FaultStatus, Status: 400, Message: "<b>bold</b>", Details: "more"})
	got := wantError(t, e.manager("PUT", "/channels", createBody()), 400)
	if got.Error.Message != "<b>bold</b>" || got.Error.Details != "more" {
		t.Fatalf("error body %+v", got.Error)
	}
	e.sim.InjectFault(Fault{Method: "PUT", Path: "/channels", Kind: FaultStatus, Status: 500})
	if got := wantError(t, e.manager("PUT", "/channels", createBody()), 500); got.Error.Message != "Internal Error" {
		t.Fatalf("default message %q", got.Error.Message)
	}
}

func TestFaultMatching(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.InjectFault(Fault{Method: "GET", Path: "/projects", Times: 2, Kind: FaultStatus, Status: 503})
	e.sim.InjectFault(Fault{Path: "/users/login", Kind: FaultStatus}) // any method, status 500
	ch := e.create("unaffected")                                      // PUT: no match
	wantError(t, e.manager("GET", "/projects", nil), 503)
	e.create("still unaffected")
	wantError(t, e.manager("GET", "/projects", nil), 503)
	if r := e.manager("GET", "/projects", nil); r.status != 200 {
		t.Fatalf("third GET: %d", r.status)
	}
	e.health(ch.Token) // no match
	wantError(t, e.gate(ch.Token, "GET", "/users/login/image"), 500)
	if r := e.gate(ch.Token, "GET", "/users/login/rowdata"); r.status != 200 {
		t.Fatalf("after the fault was used up: %d %s", r.status, r.body)
	}
	// Faults come before authorization.
	e.sim.InjectFault(Fault{Kind: FaultStatus, Status: 502})
	wantError(t, e.request("GET", "/projects", "", nil), 502)

	e.sim.InjectFault(Fault{Kind: FaultStatus, Status: 503, Times: 5})
	e.sim.ClearFaults()
	if r := e.manager("GET", "/projects", nil); r.status != 200 {
		t.Fatalf("after ClearFaults: %d", r.status)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("InjectFault accepted a fault without a kind")
		}
	}()
	e.sim.InjectFault(Fault{Path: "/projects"})
}

func TestFaultLatency(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.InjectFault(Fault{Method: "GET", Path: "/projects", Kind: FaultLatency, Delay: 150 * time.Millisecond})
	start := time.Now()
	if r := e.manager("GET", "/projects", nil); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("answered after %v", d)
	}
	if r := lastRequest(e.sim); r.Fault != FaultLatency || r.Status != 200 || r.Aborted {
		t.Fatalf("recorded %+v", r)
	}

	// A client that gives up first changes nothing.
	e.sim.InjectFault(Fault{Method: "PUT", Kind: FaultLatency, Delay: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := e.rawRequestCtx(ctx, "PUT", "/channels", "Bearer "+testPartnerToken, createBody()); err == nil {
		t.Fatal("no error")
	}
	waitFor(t, "the abandoned request", func() bool { return lastRequest(e.sim).Aborted })
	if n := len(e.sim.Channels()); n != 0 {
		t.Fatalf("%d channels", n)
	}
}

func TestFaultHang(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.InjectFault(Fault{Method: "PUT", Path: "/channels", Kind: FaultHang})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := e.rawRequestCtx(ctx, "PUT", "/channels", "Bearer "+testPartnerToken, createBody()); err == nil {
		t.Fatal("no error")
	}
	waitFor(t, "the hung request to end", func() bool { return lastRequest(e.sim).Aborted })

	// With a Delay the connection is closed without an answer.
	e.sim.InjectFault(Fault{Method: "PUT", Path: "/channels", Kind: FaultHang, Delay: 50 * time.Millisecond})
	if r, err := e.rawRequest("PUT", "/channels", "Bearer "+testPartnerToken, createBody()); err == nil {
		t.Fatalf("got an answer: %d %s", r.status, r.body)
	}
	if r := lastRequest(e.sim); !r.Aborted || r.Status != 0 || r.Fault != FaultHang {
		t.Fatalf("recorded %+v", r)
	}
	if n := len(e.sim.Channels()); n != 0 {
		t.Fatalf("%d channels", n)
	}
}

func TestFaultLostAfterApply(t *testing.T) {
	e := newEnv(t, Options{BalanceDays: 50})

	// Create: the client sees an error, but the channel exists.
	e.sim.InjectFault(Fault{Method: "PUT", Path: "/channels", Kind: FaultLostAfterApply})
	if r, err := e.rawRequest("PUT", "/channels", "Bearer "+testPartnerToken, createBody()); err == nil {
		t.Fatalf("got an answer: %d %s", r.status, r.body)
	}
	chans := e.sim.Channels()
	if len(chans) != 1 {
		t.Fatalf("%d channels, want 1", len(chans))
	}
	if r := lastRequest(e.sim); !r.Aborted || r.Status != 200 || r.Fault != FaultLostAfterApply {
		t.Fatalf("recorded %+v", r)
	}
	var l struct {
		Channels []wireChannel `json:"channels"`
	}
	decode(t, e.manager("GET", "/channels/list", nil), &l)
	if len(l.Channels) != 1 || l.Channels[0].ID != chans[0].ID {
		t.Fatalf("list = %+v", l)
	}

	// Extend: the days moved.
	id := chans[0].ID
	e.sim.InjectFault(Fault{Method: "POST", Path: "/channels/", Kind: FaultLostAfterApply})
	if _, err := e.rawRequest("POST", "/channels/"+id+"/extend", "Bearer "+testPartnerToken, map[string]any{"days": 10, "comment": "c"}); err == nil {
		t.Fatal("got an answer")
	}
	if st, _ := e.sim.Channel(id); st.ExtendedDays != 10 || e.sim.Balance() != 40 {
		t.Fatalf("extended %d, balance %d", st.ExtendedDays, e.sim.Balance())
	}

	// Delete: the channel is gone and the days came back.
	e.sim.InjectFault(Fault{Method: "DELETE", Kind: FaultLostAfterApply})
	if _, err := e.rawRequest("DELETE", "/channels/"+id, "Bearer "+testPartnerToken, nil); err == nil {
		t.Fatal("got an answer")
	}
	if st, _ := e.sim.Channel(id); !st.Deleted || e.sim.Balance() != 50 {
		t.Fatalf("deleted %v, balance %d", st.Deleted, e.sim.Balance())
	}
}

func TestFaultMalformed(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.InjectFault(Fault{Kind: FaultMalformed, Times: 2})
	for _, r := range []resp{e.manager("GET", "/projects", nil), e.manager("PUT", "/channels", createBody())} {
		var v any
		if r.status != 200 || json.Unmarshal(r.body, &v) == nil {
			t.Fatalf("got %d %s, want 200 with malformed JSON", r.status, r.body)
		}
	}
	if n := len(e.sim.Channels()); n != 0 {
		t.Fatalf("%d channels", n)
	}
	e.create("after")
}

func TestRequestsRecord(t *testing.T) {
	e := newEnv(t, Options{})
	ch := e.create("rec")
	e.clock.Advance(time.Second)
	e.request("GET", "/health?wakeup=false", "Bearer "+ch.Token, nil)
	e.request("GET", "/channels/list?count=5", "", nil)
	reqs := e.sim.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	var body map[string]string
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil || body["projectId"] != "default" {
		t.Fatalf("body %s", reqs[0].Body)
	}
	want := []Request{
		{Time: t0(), Method: "PUT", Path: "/channels", Authorization: "Bearer " + testPartnerToken, Status: 200},
		{Time: t0().Add(time.Second), Method: "GET", Path: "/health", RawQuery: "wakeup=false", Authorization: "Bearer " + ch.Token, Status: 200},
		{Time: t0().Add(time.Second), Method: "GET", Path: "/channels/list", RawQuery: "count=5", Status: 401},
	}
	for i, w := range want {
		g := reqs[i]
		g.Body = nil
		if !g.Time.Equal(w.Time) || g.Method != w.Method || g.Path != w.Path || g.RawQuery != w.RawQuery || g.Authorization != w.Authorization || g.Status != w.Status {
			t.Fatalf("request %d = %+v, want %+v", i, g, w)
		}
	}
	reqs[0].Body[0] = 'X' // a copy
	if e.sim.Requests()[0].Body[0] == 'X' {
		t.Fatal("Requests shares the body")
	}
	if n := e.sim.CountRequests("GET", "/"); n != 2 {
		t.Fatalf("CountRequests = %d", n)
	}
	if n := e.sim.CountRequests("", "/channels"); n != 2 {
		t.Fatalf("CountRequests = %d", n)
	}
	e.sim.ResetRequests()
	if n := len(e.sim.Requests()); n != 0 {
		t.Fatalf("%d after reset", n)
	}
}
