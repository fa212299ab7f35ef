package whapisim

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// The request log keeps the latest MaxRequests requests, each body cut to
// MaxRecordedBody (marked truncated), while CountRequests still counts
// every request since the last reset.
func TestRequestLogIsBounded(t *testing.T) {
	e := newEnv(t, Options{MaxRequests: 5, MaxRecordedBody: 10})
	for i := range 8 {
		e.request("POST", fmt.Sprintf("/nowhere/%d", i), "", strings.Repeat("x", 100))
	}
	e.manager("GET", "/projects", nil)
	reqs := e.sim.Requests()
	if len(reqs) != 5 {
		t.Fatalf("the log holds %d requests, want 5", len(reqs))
	}
	for i, r := range reqs[:4] {
		if want := fmt.Sprintf("/nowhere/%d", i+4); r.Path != want || len(r.Body) != 10 || !r.BodyTruncated {
			t.Errorf("request %d: %s with %d body bytes (truncated %v), want %s with 10, truncated", i, r.Path, len(r.Body), r.BodyTruncated, want)
		}
	}
	if last := reqs[4]; last.Path != "/projects" || last.BodyTruncated {
		t.Errorf("last request %s (truncated %v), want /projects", last.Path, last.BodyTruncated)
	}
	if n := e.sim.CountRequests("POST", "/nowhere/"); n != 8 {
		t.Errorf("CountRequests = %d, want 8: counting goes beyond the log", n)
	}
	if n := e.sim.CountRequests("", ""); n != 9 {
		t.Errorf("CountRequests of everything = %d, want 9", n)
	}
	e.sim.ResetRequests()
	if n := e.sim.CountRequests("", ""); n != 0 || len(e.sim.Requests()) != 0 {
		t.Errorf("after ResetRequests: count %d, log %d", n, len(e.sim.Requests()))
	}
}

// A body over MaxBody is answered 413, as a real server answers, and only
// MaxRecordedBody of it is kept: a flood of large posts leaves the log as
// small as its bounds.
func TestLargeBodiesAreRefusedAndNotKept(t *testing.T) {
	e := newEnv(t, Options{MaxRequests: 10, MaxRecordedBody: 1 << 10})
	big := strings.Repeat("x", MaxBody+1)
	for range 20 {
		r, err := e.rawRequest("POST", "/channels", "", big)
		if err != nil {
			continue // the server may close the connection before the client sent it all
		}
		if r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("a body of MaxBody+1 bytes: %d %s, want 413", r.status, r.body)
		}
	}
	reqs := e.sim.Requests()
	if len(reqs) != 10 {
		t.Fatalf("the log holds %d requests, want 10", len(reqs))
	}
	total := 0
	for _, r := range reqs {
		total += len(r.Body)
		if !r.BodyTruncated || r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("a large request logged with truncated %v and status %d", r.BodyTruncated, r.Status)
		}
	}
	if total > 10<<10 {
		t.Errorf("the log keeps %d body bytes, want at most 10 KiB", total)
	}
	// A body of exactly MaxBody is read (and then judged as WHAPI would).
	r := e.request("PUT", "/channels", "Bearer "+testPartnerToken, strings.Repeat(" ", MaxBody))
	if r.status == http.StatusRequestEntityTooLarge {
		t.Errorf("a body of MaxBody bytes was refused as too large")
	}
}
