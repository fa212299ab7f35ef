package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
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
// which one subscriber usually has whole. The counts live in the database
// (models/login_attempts.go, one row per attempt), so that every instance
// on one database counts together: begin claims the attempt against every
// key in one transaction, under a lock per key, and succeeded and undo
// take it back there. An account is counted under the SHA-256 of its
// normalised e-mail, never the address itself.
const (
	throttleWindow     = 15 * time.Minute
	maxFailuresAccount = 5
	accountWindow      = 24 * time.Hour
	slowFirst          = time.Minute
	slowMax            = 15 * time.Minute
	maxFailuresIP      = 20
	maxFailuresDevice  = 5
	// slowSteps is how many failures past max the slow-down's delay keeps
	// doubling for before it holds at slowMax: the most a slow rule needs
	// to see of a key's attempts is max + slowSteps.
	slowSteps = 8
	// releaseTimeout bounds taking an attempt back, which must not be
	// cancelled with the request that made it.
	releaseTimeout = 10 * time.Second
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

// accountKey counts an account's sign-ins from unknown browsers, under the
// SHA-256 of the normalised e-mail (parseLoginForm): the database keeps no
// address someone tried, and any text that can be posted makes a small key.
func accountKey(email string) throttleKey {
	sum := sha256.Sum256([]byte(email))
	return throttleKey{scope: scopeAccount, key: hex.EncodeToString(sum[:]), max: maxFailuresAccount, window: accountWindow, slow: true}
}

// addressKey counts a client address's sign-ins.
func addressKey(ip string) throttleKey {
	return throttleKey{scope: scopeAddress, key: ipKey(ip), max: maxFailuresIP, window: throttleWindow}
}

// deviceKey counts the sign-ins of one trusted browser (its cookie's nonce).
func deviceKey(nonce string) throttleKey {
	return throttleKey{scope: scopeDevice, key: nonce, max: maxFailuresDevice, window: throttleWindow, clear: true}
}

// throttledText says, in the reader's language, why an attempt is refused
// and when to try again (in whole minutes), and sets the Retry-After
// header (whole seconds): the words of every sign-in refusal, and of wrong
// current passwords on the change form.
func throttledText(c echo.Context, t *throttled) string {
	l, wait := loc(c), retryAfter(c, t.wait)
	switch t.key.scope {
	case scopeAccount:
		return l.T("errors.throttle.account", "Wait", wait)
	case scopeDevice:
		return l.T("errors.throttle.device", "Wait", wait)
	case scopePassword:
		return l.T("errors.throttle.password", "Wait", wait)
	}
	return l.T("errors.throttle.address", "Wait", wait)
}

// throttled is a refused attempt: the counter that refused it and how long
// to wait.
type throttled struct {
	key  throttleKey
	wait time.Duration
}

// loginThrottle counts recent attempts per key in a sliding window, in
// the database.
type loginThrottle struct {
	store *models.Store
	mu    sync.Mutex // guards now (tests stop the clock)
	now   func() time.Time
}

func newLoginThrottle(store *models.Store) *loginThrottle {
	return &loginThrottle{store: store, now: time.Now}
}

func (t *loginThrottle) clock() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.now()
}

// loginAttempt is an attempt counted by begin: its rows, one per key.
type loginAttempt struct {
	t    *loginThrottle
	ctx  context.Context
	keys []throttleKey
	ids  []int64
}

// ipKey is the throttle key of a client address. Anything that is not an
// address and longer than one (what a misconfigured proxy may forward) is
// hashed, so a key always fits the table's column.
func ipKey(ip string) string {
	parsed := net.ParseIP(ip)
	if parsed != nil && parsed.To4() == nil {
		return "ip:" + parsed.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	if len(ip) > 64 {
		sum := sha256.Sum256([]byte(ip))
		return "ip:#" + hex.EncodeToString(sum[:])
	}
	return "ip:" + ip
}

// begin checks every key's rule and, if none refuses, counts the attempt
// against all of them in the same transaction (models.ClaimLoginAttempt),
// so a burst of parallel guesses, on any instance, cannot slip past a
// limit. A nil attempt and a nil error mean "refused": the counter that
// asks for the longest wait, and the wait. An error (the database) counts
// nothing and lets nothing through.
func (t *loginThrottle) begin(ctx context.Context, keys ...throttleKey) (*loginAttempt, *throttled, error) {
	now := t.clock()
	claim := make([]models.AttemptKey, len(keys))
	for i, k := range keys {
		claim[i] = k.attemptKey()
	}
	var refused *throttled
	ids, err := t.store.ClaimLoginAttempt(ctx, claim, now, func(recent [][]time.Time) bool {
		refused = nil // each call decides afresh
		for i, k := range keys {
			if w := k.wait(recent[i], now); w > 0 && (refused == nil || w > refused.wait) {
				refused = &throttled{key: k, wait: w}
			}
		}
		return refused != nil
	})
	if err != nil {
		return nil, nil, err
	}
	if refused != nil {
		return nil, refused, nil
	}
	return &loginAttempt{t: t, ctx: context.WithoutCancel(ctx), keys: keys, ids: ids}, nil, nil
}

// attemptKey is k as the store counts it: the most recent attempts its
// rule looks at.
func (k throttleKey) attemptKey() models.AttemptKey {
	keep := k.max
	if k.slow {
		keep += slowSteps
	}
	return models.AttemptKey{Kind: string(k.scope), Key: k.key, Window: k.window, Keep: keep}
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
	if extra := n - k.max; extra < slowSteps {
		delay = min(slowMax, slowFirst<<extra)
	}
	return at[n-1].Add(delay).Sub(now)
}

// succeeded forgets the attempts of the keys that clear on success and
// takes this attempt back from the others (a colleague's good sign-in does
// not count against an office that shares one address, and the owner's
// good sign-in does not wipe out what unknown browsers tried). An error is
// the caller's to log: the sign-in itself was good.
func (a *loginAttempt) succeeded() error {
	var clear []models.AttemptKey
	for _, k := range a.keys {
		if k.clear {
			clear = append(clear, k.attemptKey())
		}
	}
	return a.release(clear)
}

// undo takes the attempt back (the check itself failed, e.g. a DB error).
func (a *loginAttempt) undo() error { return a.release(nil) }

func (a *loginAttempt) release(clear []models.AttemptKey) error {
	ctx, cancel := context.WithTimeout(a.ctx, releaseTimeout)
	defer cancel()
	return a.t.store.ReleaseLoginAttempts(ctx, a.ids, clear)
}
