package handlers

import (
	"sync"
	"time"
)

// Login throttling: a wrong password counts against both the account and
// the client IP (the connection's address: forwarded headers are ignored).
const (
	throttleWindow     = 15 * time.Minute
	maxFailuresAccount = 5
	maxFailuresIP      = 20
	throttleMaxKeys    = 100_000
)

// loginThrottle counts recent failed logins per key in a sliding window.
type loginThrottle struct {
	mu       sync.Mutex
	failures map[string][]time.Time
	now      func() time.Time
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{failures: map[string][]time.Time{}, now: time.Now}
}

// blocked reports whether key has used up its failures, and for how long.
func (t *loginThrottle) blocked(key string, max int) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fs := t.recent(key)
	if len(fs) < max {
		return false, 0
	}
	return true, fs[len(fs)-max].Add(throttleWindow).Sub(t.now())
}

// fail records a failure for each key.
func (t *loginThrottle) fail(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.failures) > throttleMaxKeys {
		t.sweep()
	}
	for _, k := range keys {
		t.failures[k] = append(t.recent(k), t.now())
	}
}

// reset forgets a key's failures (after a successful login).
func (t *loginThrottle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, key)
}

func (t *loginThrottle) recent(key string) []time.Time {
	fs := t.failures[key]
	cut := t.now().Add(-throttleWindow)
	i := 0
	for i < len(fs) && fs[i].Before(cut) {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(t.failures, key)
		return nil
	}
	t.failures[key] = fs
	return fs
}

func (t *loginThrottle) sweep() {
	for k := range t.failures {
		t.recent(k)
	}
}
