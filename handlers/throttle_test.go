package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/testdb"
	"whapidesk/internal/testenv"
	"whapidesk/models"
	"whapidesk/provision"
)

// testThrottle is a throttle on a manual clock, on a fresh database of its
// own (testdb: SQLite, or PostgreSQL under make test-pg).
type testThrottle struct {
	t  testing.TB
	th *loginThrottle
}

// throttleAt is a throttle on a manual clock.
func throttleAt(t testing.TB, start time.Time) (*testThrottle, *time.Time) {
	t.Helper()
	_, c := testenv.NewKey(t)
	store := testenv.OpenStore(t, models.Database(testdb.New(t)), c, provision.States())
	now := start
	th := newLoginThrottle(store)
	th.now = func() time.Time { return now }
	return &testThrottle{t: t, th: th}, &now
}

// begin is loginThrottle.begin, failing the test on a database error.
func (tt *testThrottle) begin(keys ...throttleKey) (*loginAttempt, *throttled) {
	tt.t.Helper()
	a, r, err := tt.th.begin(context.Background(), keys...)
	if err != nil {
		tt.t.Fatal(err)
	}
	return a, r
}

// succeed is a.succeeded, failing the test on a database error.
func (tt *testThrottle) succeed(a *loginAttempt) {
	tt.t.Helper()
	if err := a.succeeded(); err != nil {
		tt.t.Fatal(err)
	}
}

// Past 5 failures, unknown browsers wait before each try on the account: 1
// minute after the latest, then 2, 4, 8, then 15 at most — a slow-down, not
// a 15-minute lock. The owner's trusted browser is never held back by it.
func TestUnknownBrowsersAreSlowedWithAGrowingDelay(t *testing.T) {
	th, now := throttleAt(t, time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	acct := accountKey("admin@example.com")
	for i := range maxFailuresAccount {
		if a, r := th.begin(acct); a == nil {
			t.Fatalf("try %d refused (%v)", i+1, r.wait)
		}
	}
	for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		a, r := th.begin(acct)
		if a != nil || r.wait != want || r.key.scope != scopeAccount {
			t.Fatalf("want a wait of %v, got attempt %v refusal %+v", want, a != nil, r)
		}
		*now = now.Add(want - time.Second)
		if a, _ := th.begin(acct); a != nil {
			t.Fatalf("allowed a second before the %v wait is over", want)
		}
		if a, _ := th.begin(deviceKey("owner's browser")); a == nil {
			t.Fatal("the owner's trusted browser was held back by the account's slow-down")
		}
		*now = now.Add(time.Second)
		if a, _ := th.begin(acct); a == nil {
			t.Fatalf("refused after the %v wait", want)
		}
	}
}

// A sustained attack on one account from ever new addresses, trying
// whenever allowed for a day, gets fewer guesses than the old rule allowed
// (5 per 15 minutes: 480 a day); neither the owner's good sign-in in
// between nor a good one from an unknown browser resets what it tried.
func TestSustainedGuessingIsSlowedForADay(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th, now := throttleAt(t, start)
	acct := accountKey("admin@example.com")
	guesses := 0
	for now.Before(start.Add(24 * time.Hour)) {
		a, r := th.begin(acct, addressKey("203.0.113."+string(rune('0'+guesses%10))))
		if a == nil {
			*now = now.Add(r.wait)
			continue
		}
		guesses++
		if guesses%10 == 0 { // the owner signs in from their own browser meanwhile
			if d, _ := th.begin(deviceKey("owner")); d == nil {
				t.Fatal("the owner was held back")
			} else {
				th.succeed(d)
			}
		}
	}
	t.Logf("%d guesses in 24 hours (the old rule: 480)", guesses)
	if guesses > 120 {
		t.Fatalf("%d guesses in a day: the slow-down does not hold", guesses)
	}
	// An unknown browser's good sign-in takes back only its own attempt.
	a, r := th.begin(acct)
	for a == nil {
		*now = now.Add(r.wait)
		a, r = th.begin(acct)
	}
	th.succeed(a)
	if a, _ := th.begin(acct); a == nil {
		t.Fatal("refused right after a good sign-in whose wait was served")
	}
	if _, r := th.begin(acct); r == nil || r.wait != slowMax {
		t.Fatalf("after a good sign-in from an unknown browser the next failure waits %+v, want %v: the failures before it were wiped out", r, slowMax)
	}
}

// A trusted browser's own limit is a lock of its own: 5 failures in 15
// minutes; a good sign-in forgets them.
func TestTrustedBrowserLimit(t *testing.T) {
	th, now := throttleAt(t, time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	dev := deviceKey("n1")
	for range maxFailuresDevice - 1 {
		th.begin(dev)
	}
	a, _ := th.begin(dev)
	th.succeed(a)
	for range maxFailuresDevice {
		if a, _ := th.begin(dev); a == nil {
			t.Fatal("a good sign-in did not forget the browser's failures")
		}
	}
	_, r := th.begin(dev)
	if r == nil || r.wait != throttleWindow || r.key.scope != scopeDevice {
		t.Fatalf("refusal %+v, want the browser locked for %v", r, throttleWindow)
	}
	if a, _ := th.begin(deviceKey("n2")); a == nil {
		t.Fatal("another trusted browser was locked with it")
	}
	*now = now.Add(throttleWindow)
	if a, _ := th.begin(dev); a == nil {
		t.Fatal("still locked after the window")
	}
}

// secondInstance is another instance of the app on a's database, as a
// second process behind a load balancer: its own store (and pool),
// provision service, handlers (so its own throttle) and HTTP server; only
// the database, the simulator and the log are shared.
func (a *testApp) secondInstance() *testApp {
	a.t.Helper()
	b := *a
	b.store = testenv.OpenStore(a.t, a.env.DB, a.env.Cipher, provision.States())
	b.svc = provision.New(b.store, a.env.Client(), a.env.Log)
	b.e = echo.New()
	b.h = New(b.store, b.svc, a.env.Log, a.h.cfg)
	b.h.Routes(b.e)
	b.srv = httptest.NewServer(b.e)
	a.t.Cleanup(b.srv.Close)
	return &b
}

// Failures through one instance count on the other: after 5 wrong
// passwords through A, the 6th try through B — even with the right
// password — is slowed, and B's log says which limit held.
func TestThrottleCountsAcrossInstances(t *testing.T) {
	a := newTestApp(t)
	admin := a.newUser(models.RoleAdmin, "admin@example.com")
	b := a.secondInstance()
	a.stopThrottleClock()
	b.stopThrottleClock()
	for i := range maxFailuresAccount {
		if r := a.client().signIn(admin.Email, "wrong password"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d through A: %d", i+1, r.StatusCode)
		}
	}
	before := len(a.logs.String())
	r := b.client().signIn(admin.Email, testPassword)
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(r.body, "Try again in 1 minute") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("the 6th try through B: %d, want it slowed by A's 5 failures", r.StatusCode)
	}
	if logs := a.logs.String()[before:]; !strings.Contains(logs, "login throttled") || !strings.Contains(logs, "limit=account") {
		t.Fatalf("B's log does not say which limit held:\n%s", logs)
	}
	var keys []string
	if err := a.store.DB().Raw(`SELECT key FROM login_attempts`).Scan(&keys).Error; err != nil || len(keys) == 0 {
		t.Fatalf("no attempts recorded (%v)", err)
	}
	for _, k := range keys {
		if strings.Contains(k, "admin") {
			t.Fatalf("an attempt's key %q names the account in the clear", k)
		}
	}
}

// Concurrent wrong passwords for one account from many browsers, half
// through each of two instances, never get more than the limit checked:
// every other one is refused before its password is looked at.
func TestConcurrentFailuresAcrossInstancesNeverPassTheLimit(t *testing.T) {
	a := newTestApp(t)
	admin := a.newUser(models.RoleAdmin, "admin@example.com")
	b := a.secondInstance()
	a.stopThrottleClock()
	b.stopThrottleClock()
	const tries = 24
	type browser struct {
		c    *testClient
		csrf string
	}
	browsers := make([]browser, tries)
	for i := range browsers {
		app := a
		if i%2 == 1 {
			app = b
		}
		c := app.client()
		browsers[i] = browser{c: c, csrf: c.csrf("/login")}
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
		start = make(chan struct{})
	)
	for _, br := range browsers {
		wg.Go(func() {
			<-start
			r := br.c.postForm("/login", url.Values{"_csrf": {br.csrf}, "email": {admin.Email}, "password": {"wrong password"}})
			mu.Lock()
			codes[r.StatusCode]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if codes[http.StatusUnauthorized] != maxFailuresAccount || codes[http.StatusTooManyRequests] != tries-maxFailuresAccount {
		t.Fatalf("answers %v: want %d checked (401) and the other %d refused (429)", codes, maxFailuresAccount, tries-maxFailuresAccount)
	}
}

// Whatever text stands for the client's address, its key fits the table:
// the attempt is counted, and the limit holds for it.
func TestAddressKeyOfAnyTextIsCounted(t *testing.T) {
	th, _ := throttleAt(t, time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	odd := addressKey(strings.Repeat("not an address ", 40))
	for range maxFailuresIP {
		if a, r := th.begin(odd); a == nil {
			t.Fatalf("refused early: %+v", r)
		}
	}
	if _, r := th.begin(odd); r == nil || r.key.scope != scopeAddress {
		t.Fatalf("the %dth failure was not refused: %+v", maxFailuresIP+1, r)
	}
}
