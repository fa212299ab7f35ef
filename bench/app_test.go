package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/handlers"
	"whapidesk/internal/testenv"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi"
	"whapidesk/whapi/whapisim"
)

// app is the whole app on a SQLite file in a temp dir, served over real
// HTTP, with the WHAPI simulator (zero latency) standing in for WHAPI —
// on the test harness (internal/testenv), assembled as
// handlers/testhelpers_test.go does.
type app struct {
	b           testing.TB
	dbPath      string
	key         []byte
	store       *models.Store
	sim         *whapisim.Sim
	simSrv, srv *httptest.Server
	svc         *provision.Service
	// newInstance is another service on the same database and simulator:
	// a second instance of whapidesk.
	newInstance  func() *provision.Service
	clock        *whapisim.Clock
	partnerToken string
}

const password = testenv.Password

var bg = context.Background()

func newApp(b testing.TB, manualClock bool) *app {
	b.Helper()
	a := &app{b: b, partnerToken: testenv.FakeJWT(1300)}
	opts := whapisim.Options{
		PartnerToken: a.partnerToken,
		BalanceDays:  10_000_000,
		CreateLimit:  1 << 30, // the 20-per-30-min limit would stop the bulk runs
	}
	env := testenv.New(b, testenv.Options{States: provision.States(), Sim: opts, Timeout: 15 * time.Second, ManualClock: manualClock})
	a.dbPath, a.key, a.store, a.sim, a.simSrv, a.clock = env.DBPath, env.Key, env.Store, env.Sim, env.SimServer, env.Clock
	log := slog.New(slog.DiscardHandler)
	client := env.Client(whapi.WithLogger(log))
	a.svc = provision.New(a.store, client, log)
	// The bulk runs create thousands of channels: WHAPI's create budget
	// (20 per 30 minutes) is not what they measure.
	a.svc.CreateBudget = models.CreateBudget{Limit: 1 << 30, Window: provision.CreateWindow}
	if a.clock != nil {
		a.svc.SetClock(a.clock.Now)
	}
	a.newInstance = func() *provision.Service {
		svc := provision.New(a.store, env.Client(whapi.WithLogger(log)), log)
		if a.clock != nil {
			svc.SetClock(a.clock.Now)
		}
		return svc
	}
	e := echo.New()
	handlers.New(a.store, a.svc, log, handlers.Config{}).Routes(e)
	a.srv = httptest.NewServer(e)
	b.Cleanup(a.srv.Close)

	tok, err := provision.NormalizePartnerToken("Bearer " + a.partnerToken)
	must(b, err)
	_, _, err = a.store.UpdateSettings(bg, models.SystemActor, models.SettingsChange{PartnerToken: &tok, Hint: provision.TokenHint(tok)})
	must(b, err)
	must(b, a.store.RecordPartnerPurchase(bg, models.SystemActor, 10_000_000, "bench"))
	return a
}

func must(b testing.TB, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

func (a *app) user(role models.Role, email string) *models.User {
	a.b.Helper()
	u, err := a.store.CreateUser(bg, models.NewUser{Email: email, Name: email, Password: password, Role: role})
	must(a.b, err)
	return u
}

func (a *app) apiKey(u *models.User) string {
	a.b.Helper()
	k, _, err := a.store.CreateAPIKey(bg, models.SystemActor, u.ID, "bench")
	must(a.b, err)
	return k
}

// plan creates a plan of maxCh channels × 30 days and activates it for u.
func (a *app) plan(name string, maxCh int64, users ...*models.User) *models.Plan {
	a.b.Helper()
	p, err := a.store.CreatePlan(bg, models.SystemActor, models.PlanInput{Name: name, MaxChannels: maxCh, DaysPerPeriod: 30, PeriodDays: 30})
	must(a.b, err)
	for _, u := range users {
		_, err := a.store.ActivatePlan(bg, models.SystemActor, u.ID, p.ID)
		must(a.b, err)
	}
	return p
}

func actorOf(u *models.User) models.Actor {
	id := u.ID
	return models.Actor{UserID: &id, Email: u.Email}
}

// client is a browser-like HTTP client (cookie jar, no redirects), or an
// API client when bearer is set.
type client struct {
	b      testing.TB
	base   string
	hc     *http.Client
	bearer string
}

func newClient(b testing.TB, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{b: b, base: base, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       60 * time.Second,
	}}
}

// do sends a request and returns status, body and the time to the whole body.
func (c *client) do(method, path, body string) (int, string, time.Duration) {
	c.b.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	must(c.b, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	start := time.Now()
	res, err := c.hc.Do(req)
	must(c.b, err)
	raw, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	d := time.Since(start)
	must(c.b, err)
	return res.StatusCode, string(raw), d
}

// expect is do that fails unless the status is want.
func (c *client) expect(want int, method, path, body string) (string, time.Duration) {
	c.b.Helper()
	st, out, d := c.do(method, path, body)
	if st != want {
		c.b.Fatalf("%s %s: status %d, want %d: %.300s", method, path, st, want, out)
	}
	return out, d
}

var csrfRE = regexp.MustCompile(`name="(?:csrf-token|_csrf)" (?:content|value)="([^"]+)"`)

// login signs in through the login form, with its CSRF token.
func (c *client) login(email string) {
	c.b.Helper()
	page, _ := c.expect(http.StatusOK, "GET", "/login", "")
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		c.b.Fatal("no CSRF token on /login")
	}
	form := url.Values{"_csrf": {m[1]}, "email": {email}, "password": {password}}
	req, err := http.NewRequest("POST", c.base+"/login", strings.NewReader(form.Encode()))
	must(c.b, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.hc.Do(req)
	must(c.b, err)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		c.b.Fatalf("login %s: status %d", email, res.StatusCode)
	}
}

// stats of a set of durations.
type stats struct{ p50, p99 time.Duration }

func percentiles(ds []time.Duration) stats {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return stats{}
	}
	return stats{p50: s[len(s)/2], p99: s[(len(s)-1)*99/100]}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

// channelID extracts "id" from a channel's JSON.
var idRE = regexp.MustCompile(`"id":\s*(\d+)`)

func channelID(b testing.TB, body string) string {
	m := idRE.FindStringSubmatch(body)
	if m == nil {
		b.Fatalf("no id in %.200s", body)
	}
	return m[1]
}
