package whapisim

import (
	"slices"
	"strings"
)

// The bounds of the request log: a simulator that runs for long (the demo)
// or is sent large bodies keeps only so much of what it received.
const (
	// DefaultMaxRequests is how many requests the log keeps (the latest).
	DefaultMaxRequests = 10000
	// DefaultMaxRecordedBody is how much of each request body the log keeps.
	DefaultMaxRecordedBody = 64 << 10
	// MaxBody is the largest request body the simulator reads: a larger
	// one is answered 413 and the connection is closed, as a server in
	// front of WHAPI would.
	MaxBody = 1 << 20
	// maxCountKeys bounds the distinct methods and paths CountRequests
	// counts by (about a megabyte): a flood of made-up paths cannot grow
	// the counts for good either.
	maxCountKeys = 10000
)

// reqKey is what CountRequests counts by.
type reqKey struct{ method, path string }

// record adds a request to the log, dropping the oldest one beyond the
// bound, and counts it (for at most maxCountKeys distinct methods and
// paths). s.mu must be held.
func (s *Sim) record(rec *Request) {
	s.requests = appendBounded(s.requests, rec, s.maxRequests)
	k := reqKey{rec.Method, rec.Path}
	if _, ok := s.counts[k]; ok || len(s.counts) < maxCountKeys {
		s.counts[k]++
	}
}

// appendBounded appends v to log, first dropping the oldest entries so that
// at most max remain (max ≥ 1); the dropped ones are cleared for the
// collector.
func appendBounded[T any](log []T, v T, max int) []T {
	if len(log) >= max {
		n := copy(log, log[len(log)-max+1:])
		clear(log[n:])
		log = log[:n]
	}
	return append(log, v)
}

// recordedBody is the part of body the log keeps.
func (s *Sim) recordedBody(body []byte) ([]byte, bool) {
	if len(body) > s.maxRecorded {
		return slices.Clone(body[:s.maxRecorded]), true
	}
	return slices.Clone(body), false
}

// Requests returns a copy of the requests received, in arrival order: the
// latest Options.MaxRequests of them, each body cut to
// Options.MaxRecordedBody.
func (s *Sim) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = *r
		out[i].Body = slices.Clone(r.Body)
	}
	return out
}

// ResetRequests forgets the recorded requests and their counts.
func (s *Sim) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.counts = map[reqKey]int{}
}

// CountRequests counts the requests received since the last ResetRequests
// with the given method ("" = any) whose path starts with pathPrefix. It
// counts beyond the bounded log (Requests): it is exact as long as fewer
// than 10,000 distinct methods and paths were received since the reset.
func (s *Sim) CountRequests(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, c := range s.counts {
		if matchFault(method, pathPrefix, k.method, k.path) {
			n += c
		}
	}
	return n
}

// isControl reports whether a path is one of the simulator's own control
// routes (control.go), not WHAPI's.
func isControl(path string) bool { return strings.HasPrefix(path, controlPrefix) }
