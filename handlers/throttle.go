package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"sync"
	"time"
)

// Login throttling, after OWASP's "Slow Down Online Guessing Attacks with
// Device Cookies":
//
//   - A sign-in from a browser holding a valid device cookie for the account
//     it names (device_cookie.go) counts against that device only: 5 failures
//     in 15 minutes lock that browser out for the rest of the 15 minutes. It
//     never counts against the account or the client's address, and no
//     failure elsewhere holds it back: a burst of guesses from anywhere
//     cannot lock the owner out.
//   - Any other sign-in counts against the account it names (for unknown
//     browsers only) and against the client's address. Past 5 failures in 24
//     hours, unknown browsers must wait before each further try on that
//     account: 1 minute after the latest, then 2, 4, 8, and 15 at most — a
//     slow-down, not a lock: about 100 guesses a day at most, where the
//     former 15-minute lock for everyone let through 480. A good sign-in
//     does not reset it (it may be the owner's while an attack goes on). A
//     client address is locked out after 20 failures in 15 minutes (one
//     client spraying many accounts).
//
// The client address is the connection's peer (or, behind a configured
// trusted proxy, what that proxy says); an IPv6 client counts as its /64,
// which one subscriber usually has whole. The counters live in this
// process's memory; moving them to the database (several instances) means
// another store behind begin, succeeded and undo, the seam the handlers use.
const (
	throttleWindow     = 15 * time.Minute
	maxFailuresAccount = 5
	accountWindow      = 24 * time.Hour
	slowFirst          = time.Minute
	slowMax            = 15 * time.Minute
	maxFailuresIP      = 20
	maxFailuresDevice  = 5
	throttleMaxKeys    = 100_000
)

// throttleScope says what a counter counts, for the message and the log.
type throttleScope string

const (
	scopeAccount  throttleScope = "account"  // an account, from unknown browsers
	scopeAddress  throttleScope = "address"  // a client address
	scopeDevice   throttleScope = "device"   // a browser with a device cookie
	scopePassword throttleScope = "password" // wrong current passwords on the change form
)

// throttleKey is a counter and its rule.
type throttleKey struct {
	scope throttleScope
	key   string
	max   int
	// window is how long an attempt counts.
	window time.Duration
	// slow: past max, each try waits a growing delay after the latest
	// one (slowFirst, doubling, slowMax at most) rather than until the
	// window frees a place.
	slow bool
	// clear: a success forgets the key's attempts (the account's owner
	// proved who they are); otherwise it takes back only its own.
	clear bool
}

// accountKey counts an account's sign-ins from unknown browsers. A long
// "email" (any text can be posted) is hashed, so a key stays small.
func accountKey(email string) throttleKey {
	k := email
	if len(k) > 320 {
		sum := sha256.Sum256([]byte(k))
		k = "#" + hex.EncodeToString(sum[:])
	}
	return throttleKey{scope: scopeAccount, key: "account:" + k, max: maxFailuresAccount, window: accountWindow, slow: true}
}

// addressKey counts a client address's sign-ins.
func addressKey(ip string) throttleKey {
	return throttleKey{scope: scopeAddress, key: ipKey(ip), max: maxFailuresIP, window: throttleWindow}
}

// deviceKey counts the sign-ins of one trusted browser (its cookie's nonce).
func deviceKey(nonce string) throttleKey {
	return throttleKey{scope: scopeDevice, key: "device:" + nonce, max: maxFailuresDevice, window: throttleWindow, clear: true}
}

// throttled is a refused attempt: the counter that refused it and how long
// to wait.
type throttled struct {
	key  throttleKey
	wait time.Duration
}

// counter is one key's recent attempts, oldest first.
type counter struct {
	window time.Duration
	at     []time.Time
}

// loginThrottle counts recent attempts per key in a sliding window.
type loginThrottle struct {
	mu       sync.Mutex
	counters map[string]*counter
	now      func() time.Time
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{counters: map[string]*counter{}, now: time.Now}
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

// begin checks every key's rule and, if none refuses, counts the attempt
// against all of them in the same step. A nil attempt means "refused": the
// counter that asks for the longest wait, and the wait.
func (t *loginThrottle) begin(keys ...throttleKey) (*loginAttempt, *throttled) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var refused *throttled
	for _, k := range keys {
		if w := k.wait(t.recent(k.key, now), now); w > 0 && (refused == nil || w > refused.wait) {
			refused = &throttled{key: k, wait: w}
		}
	}
	if refused != nil {
		return nil, refused
	}
	if len(t.counters) > throttleMaxKeys {
		for k := range t.counters {
			t.recent(k, now)
		}
	}
	for _, k := range keys {
		c := t.counters[k.key]
		if c == nil {
			c = &counter{window: k.window}
			t.counters[k.key] = c
		}
		c.at = append(c.at, now)
	}
	return &loginAttempt{t: t, keys: keys, at: now}, nil
}

// wait is how long an attempt must wait under k's rule, given the key's
// recent attempts.
func (k throttleKey) wait(at []time.Time, now time.Time) time.Duration {
	n := len(at)
	if n < k.max {
		return 0
	}
	if !k.slow {
		return at[n-k.max].Add(k.window).Sub(now)
	}
	delay := slowMax
	if extra := n - k.max; extra < 8 {
		delay = min(slowMax, slowFirst<<extra)
	}
	return at[n-1].Add(delay).Sub(now)
}

// succeeded forgets the attempts of the keys that clear on success and
// takes this attempt back from the others (a colleague's good sign-in does
// not count against an office that shares one address, and the owner's
// good sign-in does not wipe out what unknown browsers tried).
func (a *loginAttempt) succeeded() {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	for _, k := range a.keys {
		if k.clear {
			delete(a.t.counters, k.key)
		} else {
			a.t.remove(k.key, a.at)
		}
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
	c := t.counters[key]
	if c == nil {
		return
	}
	for i := len(c.at) - 1; i >= 0; i-- {
		if c.at[i].Equal(at) {
			c.at = append(c.at[:i:i], c.at[i+1:]...)
			break
		}
	}
	if len(c.at) == 0 {
		delete(t.counters, key)
	}
}

// recent drops a key's attempts older than its window and returns the rest.
func (t *loginThrottle) recent(key string, now time.Time) []time.Time {
	c := t.counters[key]
	if c == nil {
		return nil
	}
	cut := now.Add(-c.window)
	i := 0
	for i < len(c.at) && c.at[i].Before(cut) {
		i++
	}
	c.at = c.at[i:]
	if len(c.at) == 0 {
		delete(t.counters, key)
		return nil
	}
	return c.at
}
