package handlers

import (
	"net"
	"sync"
	"time"
)

// Login throttling: every sign-in attempt counts against both the account
// and the client's network until it succeeds. The client IP is the
// connection's peer (or, behind a configured trusted proxy, what that proxy
// says); an IPv6 client counts as its /64, which one subscriber usually has
// whole.
const (
	throttleWindow     = 15 * time.Minute
	maxFailuresAccount = 5
	maxFailuresIP      = 20
	throttleMaxKeys    = 100_000
)

// loginThrottle counts recent attempts per key in a sliding window.
type loginThrottle struct {
	mu       sync.Mutex
	failures map[string][]time.Time
	now      func() time.Time
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{failures: map[string][]time.Time{}, now: time.Now}
}

// throttleKey is a counter and its limit.
type throttleKey struct {
	key string
	max int
}

// loginAttempt is an attempt counted by begin.
type loginAttempt struct {
	t    *loginThrottle
	keys []throttleKey
	at   time.Time
}

// ipKey is the throttle key of a client address.
func ipKey(ip string) string {
	parsed := net.ParseIP(ip)
	if parsed != nil && parsed.To4() == nil {
		return "ip:" + parsed.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return "ip:" + ip
}

// begin checks every key's limit and, if none is reached, counts the
// attempt against all of them in the same step. A nil attempt means
// "blocked", with how long to wait.
func (t *loginThrottle) begin(keys ...throttleKey) (*loginAttempt, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var wait time.Duration
	for _, k := range keys {
		fs := t.recent(k.key, now)
		if len(fs) >= k.max {
			wait = max(wait, fs[len(fs)-k.max].Add(throttleWindow).Sub(now))
		}
	}
	if wait > 0 {
		return nil, wait
	}
	if len(t.failures) > throttleMaxKeys {
		for k := range t.failures {
			t.recent(k, now)
		}
	}
	for _, k := range keys {
		t.failures[k.key] = append(t.failures[k.key], now)
	}
	return &loginAttempt{t: t, keys: keys, at: now}, 0
}

// succeeded clears the account's failures and takes this attempt back from
// the other counters (a colleague's good sign-in does not count against an
// office that shares one address).
func (a *loginAttempt) succeeded() {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	delete(a.t.failures, a.keys[0].key)
	for _, k := range a.keys[1:] {
		a.t.remove(k.key, a.at)
	}
}

// undo takes the attempt back (the check itself failed, e.g. a DB error).
func (a *loginAttempt) undo() {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	for _, k := range a.keys {
		a.t.remove(k.key, a.at)
	}
}

func (t *loginThrottle) remove(key string, at time.Time) {
	fs := t.failures[key]
	for i := len(fs) - 1; i >= 0; i-- {
		if fs[i].Equal(at) {
			t.failures[key] = append(fs[:i:i], fs[i+1:]...)
			break
		}
	}
	if len(t.failures[key]) == 0 {
		delete(t.failures, key)
	}
}

// recent drops a key's attempts older than the window and returns the rest.
func (t *loginThrottle) recent(key string, now time.Time) []time.Time {
	fs := t.failures[key]
	cut := now.Add(-throttleWindow)
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
