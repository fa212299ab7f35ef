package models

import (
	"context"
	"sync"
	"testing"
	"time"
)

// atMost refuses a claim once the key's window holds n attempts.
func atMost(n int) func([][]time.Time) bool {
	return func(recent [][]time.Time) bool { return len(recent[0]) >= n }
}

// Two stores on one database (two instances) claiming one key at once,
// from many goroutines, never let more than the limit through: each claim
// counts and records under the key's lock.
func TestLoginAttemptClaimsAcrossInstancesNeverPassTheLimit(t *testing.T) {
	a, db := newTestStore(t)
	b, err := Open(context.Background(), db, a.Cipher(), testStates)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	key := []AttemptKey{{Kind: AttemptAccount, Key: "k", Window: time.Hour, Keep: 5}}
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	const tries = 40
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		passed   int
		failures []error
		start    = make(chan struct{})
	)
	for i := range tries {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			<-start
			ids, err := s.ClaimLoginAttempt(context.Background(), key, at, atMost(5))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err)
			} else if ids != nil {
				passed++
			}
		})
	}
	close(start)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d claims failed, the first: %v", len(failures), failures[0])
	}
	if passed != 5 {
		t.Fatalf("%d of %d concurrent claims passed across two instances, want exactly the limit, 5", passed, tries)
	}
	var rows int64
	if err := a.db.Table("login_attempts").Count(&rows).Error; err != nil || rows != 5 {
		t.Fatalf("%d attempts recorded (%v), want 5: a refused claim records nothing", rows, err)
	}
}

// A claim sees only its key's attempts in the window, oldest first, and
// prunes the key's older ones; the session cleanup prunes every attempt
// past the longest window, whatever its key.
func TestLoginAttemptsWindowAndPruning(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)
	dev := AttemptKey{Kind: AttemptDevice, Key: "n1", Window: 15 * time.Minute, Keep: 5}
	other := AttemptKey{Kind: AttemptDevice, Key: "n2", Window: 15 * time.Minute, Keep: 5}
	claim := func(k AttemptKey, at time.Time) []time.Time {
		t.Helper()
		var seen []time.Time
		if _, err := s.ClaimLoginAttempt(ctx, []AttemptKey{k}, at, func(r [][]time.Time) bool { seen = r[0]; return false }); err != nil {
			t.Fatal(err)
		}
		return seen
	}
	count := func() (n int64) {
		t.Helper()
		if err := s.db.Table("login_attempts").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	claim(dev, t0)
	claim(dev, t0.Add(5*time.Minute))
	claim(other, t0)
	if seen := claim(dev, t0.Add(15*time.Minute)); len(seen) != 2 || !seen[0].Equal(t0) || !seen[1].Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("at the window's end the claim saw %v, want both earlier attempts, oldest first", seen)
	}
	if seen := claim(dev, t0.Add(15*time.Minute+time.Second)); len(seen) != 2 || !seen[0].Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("past the first attempt's window the claim saw %v", seen)
	}
	if n := count(); n != 4 {
		t.Fatalf("%d rows, want 4: the claim did not prune its key's expired attempt (or pruned another key's)", n)
	}
	// The cleanup: every attempt here is older than a day but the one now.
	claim(other, time.Now())
	if _, err := s.DeleteExpiredSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d rows after the cleanup, want only the recent one", n)
	}
}

// Releasing takes back the given attempts and clears the given keys, and
// nothing else.
func TestReleaseLoginAttempts(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	acct := AttemptKey{Kind: AttemptAccount, Key: "h", Window: 24 * time.Hour, Keep: 13}
	addr := AttemptKey{Kind: AttemptAddress, Key: "ip:192.0.2.1", Window: 15 * time.Minute, Keep: 20}
	var last []int64
	for range 3 {
		ids, err := s.ClaimLoginAttempt(ctx, []AttemptKey{acct, addr}, at, func([][]time.Time) bool { return false })
		if err != nil || len(ids) != 2 {
			t.Fatalf("claim: %v %v", ids, err)
		}
		last = ids
	}
	seen := func() (n []int) {
		if _, err := s.ClaimLoginAttempt(ctx, []AttemptKey{acct, addr}, at, func(r [][]time.Time) bool {
			n = []int{len(r[0]), len(r[1])}
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := s.ReleaseLoginAttempts(ctx, last, nil); err != nil {
		t.Fatal(err)
	}
	if n := seen(); n[0] != 2 || n[1] != 2 {
		t.Fatalf("after taking one attempt back: %v, want 2 on each key", n)
	}
	if err := s.ReleaseLoginAttempts(ctx, nil, []AttemptKey{acct}); err != nil {
		t.Fatal(err)
	}
	if n := seen(); n[0] != 0 || n[1] != 2 {
		t.Fatalf("after clearing the account: %v, want 0 on it and the address untouched", n)
	}
}
