package whapisim

import (
	"context"
	"encoding/json"
	"strings"
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

// A fault answers in the error shape asked for.
func TestFaultShapes(t *testing.T) {
	const nginx502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	tests := []struct {
		name       string
		fault      Fault
		wantStatus int
		wantType   string
		wantBody   string
	}{
		{"whapi", Fault{Kind: FaultStatus, Status: 400}, 400, "application/json", `{"error":{"code":400,"message":"Bad Request"}}`},
		{"whapi, own code", Fault{Kind: FaultStatus, Status: 400, Code: 1002, Message: "m", Details: "d"}, 400, "application/json", `{"error":{"code":1002,"message":"m","details":"d"}}`},
		{"flat", Fault{Kind: FaultStatus, Status: 402, Shape: ShapeFlat, Message: "Not enough days"}, 402, "application/json", `{"code":402,"error":"Not enough days"}`},
		{"message", Fault{Kind: FaultStatus, Status: 503, Shape: ShapeMessage}, 503, "application/json", `{"message":"All servers are currently busy. Please try again later"}`},
		{"text", Fault{Kind: FaultStatus, Status: 502, Shape: ShapeText, Message: "upstream reset"}, 502, "text/plain; charset=utf-8", "upstream reset\n"},
		{"html 502", Fault{Kind: FaultStatus, Status: 502, Shape: ShapeHTML}, 502, "text/html", nginx502},
		{"html 504", Fault{Kind: FaultStatus, Status: 504, Shape: ShapeHTML}, 504, "text/html", strings.ReplaceAll(nginx502, "502 Bad Gateway", "504 Gateway Timeout")},
		{"empty", Fault{Kind: FaultStatus, Status: 502, Shape: ShapeEmpty}, 502, "", ""},
		{"500 by default", Fault{Kind: FaultStatus, Shape: ShapeSuccessFalse}, 500, "application/json", `{"success":false}`},
		{"2xx error", Fault{Kind: FaultErrorIn2xx}, 200, "application/json", `{"error":{"code":500,"message":"Request failed"}}`},
		{"2xx flat", Fault{Kind: FaultErrorIn2xx, Shape: ShapeFlat, Code: 402, Message: "Not enough days"}, 200, "application/json", `{"code":402,"error":"Not enough days"}`},
		{"2xx success false", Fault{Kind: FaultErrorIn2xx, Status: 202, Shape: ShapeSuccessFalse}, 202, "application/json", `{"success":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{BalanceDays: 50})
			ch := e.create("shapes")
			f := tt.fault
			f.Method, f.Path = "POST", "/channels/"+ch.ID+"/extend"
			e.sim.InjectFault(f)
			r := e.manager("POST", "/channels/"+ch.ID+"/extend", map[string]any{"days": 10, "comment": "c"})
			if r.status != tt.wantStatus || r.header.Get("Content-Type") != tt.wantType || string(r.body) != tt.wantBody {
				t.Fatalf("got %d %q %q, want %d %q %q", r.status, r.header.Get("Content-Type"), r.body, tt.wantStatus, tt.wantType, tt.wantBody)
			}
			if st, _ := e.sim.Channel(ch.ID); st.ExtendedDays != 0 || e.sim.Balance() != 50 {
				t.Fatalf("the fault changed something: extended %d, balance %d", st.ExtendedDays, e.sim.Balance())
			}
			if rec := lastRequest(e.sim); rec.Fault != tt.fault.Kind || rec.Status != tt.wantStatus || rec.Aborted {
				t.Fatalf("recorded %+v", rec)
			}
		})
	}
}

// FaultAppliedWithError makes the change and answers an error body instead.
func TestFaultAppliedWithError(t *testing.T) {
	e := newEnv(t, Options{BalanceDays: 50})
	ch := e.create("applied")
	e.sim.InjectFault(Fault{Method: "POST", Path: "/channels/", Kind: FaultAppliedWithError, Shape: ShapeFlat, Message: "timeout"})
	r := e.manager("POST", "/channels/"+ch.ID+"/extend", map[string]any{"days": 10, "comment": "c"})
	if r.status != 200 || string(r.body) != `{"code":500,"error":"timeout"}` {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if st, _ := e.sim.Channel(ch.ID); st.ExtendedDays != 10 || e.sim.Balance() != 40 {
		t.Fatalf("extended %d, balance %d: the extend did not happen", st.ExtendedDays, e.sim.Balance())
	}

	e.sim.InjectFault(Fault{Method: "PATCH", Kind: FaultAppliedWithError, Shape: ShapeSuccessFalse})
	r = e.manager("PATCH", "/channels/"+ch.ID+"/mode", map[string]any{"mode": "live"})
	if r.status != 200 || string(r.body) != `{"success":false}` {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if st, _ := e.sim.Channel(ch.ID); st.Mode != "live" {
		t.Fatalf("mode %q: the switch did not happen", st.Mode)
	}

	e.sim.InjectFault(Fault{Method: "DELETE", Kind: FaultAppliedWithError, Status: 504, Shape: ShapeHTML})
	r = e.manager("DELETE", "/channels/"+ch.ID, nil)
	if r.status != 504 || !strings.Contains(string(r.body), "<title>504 Gateway Timeout</title>") {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if st, _ := e.sim.Channel(ch.ID); !st.Deleted || e.sim.Balance() != 50 {
		t.Fatalf("deleted %v, balance %d: the delete did not happen", st.Deleted, e.sim.Balance())
	}
	if rec := lastRequest(e.sim); rec.Fault != FaultAppliedWithError || rec.Status != 504 || rec.Aborted {
		t.Fatalf("recorded %+v", rec)
	}
}

func TestInjectFaultRefusesWhatCannotAct(t *testing.T) {
	for _, f := range []Fault{
		{Kind: FaultKind(99)},
		{Kind: FaultStatus, Shape: ErrorShape(99)},
		{Kind: FaultErrorIn2xx, Status: 500},
		{Kind: FaultQRExpire, Expire: "twenty"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("InjectFault(%+v) did not panic", f)
				}
			}()
			New(Options{}).InjectFault(f)
		}()
	}
}

// FaultQRExpire drops or replaces the "expire" of one QR answer.
func TestFaultQRExpire(t *testing.T) {
	for _, tt := range []struct {
		expire string
		want   any // the decoded "expire", or nil when absent
	}{
		{"", nil},
		{"0", 0.0},
		{"-5", -5.0},
		{"1e12", 1e12},
		{"100000", 100000.0},
	} {
		t.Run("expire "+tt.expire, func(t *testing.T) {
			e := newEnv(t, Options{})
			ch := e.create("qr")
			e.clock.Advance(3 * time.Second)
			e.sim.InjectFault(Fault{Method: "GET", Path: "/users/login", Kind: FaultQRExpire, Expire: tt.expire})
			r := e.gate(ch.Token, "GET", "/users/login")
			var m map[string]any
			decode(t, r, &m)
			got, present := m["expire"]
			if r.status != 200 || m["status"] != "OK" || m["base64"] == "" || present != (tt.want != nil) || present && got != tt.want {
				t.Fatalf("got %d %v (expire %v present %v), want expire %v", r.status, m, got, present, tt.want)
			}
			if rec := lastRequest(e.sim); rec.Fault != FaultQRExpire || rec.Status != 200 {
				t.Fatalf("recorded %+v", rec)
			}
			// The next answer is the simulator's own.
			if q, _ := e.login(ch.Token, ""); q.Expire == nil || *q.Expire != 20 {
				t.Fatalf("next answer: %+v", q)
			}
		})
	}
	// An answer without "expire" passes unchanged.
	e := newEnv(t, Options{})
	ch := e.create("waiting")
	e.sim.InjectFault(Fault{Method: "GET", Path: "/users/login", Kind: FaultQRExpire, Expire: "0"})
	if r := e.gate(ch.Token, "GET", "/users/login"); string(r.body) != `{"status":"WAITING"}` {
		t.Fatalf("got %s", r.body)
	}
}
