package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/testenv"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi"
	"whapidesk/whapi/whapisim"
)

// testPassword is every test user's password.
const testPassword = testenv.Password

// fakeJWT returns a random JWT-shaped token of exactly n characters.
var fakeJWT = testenv.FakeJWT

type testApp struct {
	t            testing.TB
	env          *testenv.Env
	store        *models.Store
	sim          *whapisim.Sim
	simURL       string
	srv          *httptest.Server
	dbPath       string
	logs         *testenv.LogBuffer
	partnerToken string // the raw token the simulator accepts (no "Bearer ")
	e            *echo.Echo
	h            *Handler
	svc          *provision.Service
	clock        *whapisim.Clock // nil: real time
	cutoff       *cutoffTransport
}

type appOptions struct {
	sim     whapisim.Options
	handler Config
	// timeout is the WHAPI client's: production's by default, so that a
	// fault-free call is waited for however busy the machine. A test of
	// "WHAPI does not answer" shortens it with testApp.giveUpAfter once its
	// fault-free setup is done, or here when it has none.
	timeout time.Duration
	// manualClock gives the simulator and the provision service one manual
	// clock (the store keeps real time: sessions expire by it).
	manualClock bool
	// quietLog keeps no log (fuzzing: many inputs).
	quietLog bool
	// ownProjects: the partner has only the simulator's own default project,
	// not whapidesk's (see simOwnProjects).
	ownProjects bool
	// hooks makes the test server's address the public one, so every
	// channel gets a webhook of WHAPI's to it (and the simulator retries a
	// failed delivery after 20 ms rather than WHAPI's 3 s).
	hooks bool
}

// simOwnProjects gives the partner only the simulator's own default
// project, which is not whapidesk's default setting (a new install): the
// project must be picked before a channel can be created.
func simOwnProjects(o *appOptions) { o.sim.ProjectIDs, o.ownProjects = nil, true }

// manualClockStart is where manual clocks start: whole seconds, so QR
// lifetimes line up with the simulator's.
func manualClockStart() time.Time { return time.Now().UTC().Truncate(time.Second) }

// defaultAppOptions: a generated partner token the simulator accepts, the
// client's project, 1,000 partner days.
func defaultAppOptions() appOptions {
	o := appOptions{timeout: whapi.DefaultTimeout}
	o.sim.PartnerToken = testenv.FakeJWT(1300)
	o.sim.ProjectIDs = []string{models.DefaultProjectID}
	o.sim.BalanceDays = 1000
	return o
}

// newTestApp starts the app on the harness (internal/testenv): a real
// store on a temporary database, the simulator over HTTP, the provision
// service, and the handlers' routes behind a real HTTP server.
func newTestApp(t testing.TB, opts ...func(*appOptions)) *testApp {
	t.Helper()
	o := defaultAppOptions()
	for _, f := range opts {
		f(&o)
	}
	if o.hooks && o.sim.HookBackoff == 0 {
		o.sim.HookBackoff = 20 * time.Millisecond
	}
	env := testenv.New(t, testenv.Options{States: provision.States(), Sim: o.sim, Timeout: o.timeout,
		ManualClock: o.manualClock, ClockStart: manualClockStart(), LogLevel: slog.LevelDebug, SimOwnProjects: o.ownProjects})
	a := &testApp{t: t, env: env, store: env.Store, sim: env.Sim, simURL: env.SimURL, dbPath: env.DBPath, logs: env.Logs,
		partnerToken: env.PartnerToken, clock: env.Clock}
	log := env.Log
	if o.quietLog {
		log = slog.New(slog.DiscardHandler)
	}
	a.cutoff = &cutoffTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
	hc := &http.Client{Transport: a.cutoff, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	a.svc = provision.New(a.store, env.Client(whapi.WithHTTPClient(hc), whapi.WithLogger(log)), log)
	if a.clock != nil {
		a.svc.SetClock(a.clock.Now)
	}
	if o.sim.CreateLimit > whapisim.DefaultCreateLimit {
		liftCreateBudget(t, a.store, a.svc, o.sim.CreateLimit)
	}
	a.e = echo.New()
	a.h = New(a.store, a.svc, log, o.handler)
	a.h.Routes(a.e)
	a.srv = httptest.NewServer(a.e)
	t.Cleanup(a.srv.Close)
	if o.hooks {
		a.svc.SetPublicURL(a.srv.URL)
	}
	return a
}

// liftCreateBudget lifts the app's own create budget with WHAPI's, for a
// test that raised the simulator's create limit to make many channels:
// the partner-wide budget to limit, and each customer's share to their
// plan's limit plus the most the setting allows. The budget has tests of
// its own (provision/budget_test.go, api_budget_test.go).
func liftCreateBudget(t testing.TB, store *models.Store, svc *provision.Service, limit int) {
	t.Helper()
	svc.CreateBudget.Limit = limit
	extra := int64(provision.MaxCreateShareExtra)
	if _, _, err := store.UpdateSettings(context.Background(), models.SystemActor, models.SettingsChange{CreateShareExtra: &extra}); err != nil {
		t.Fatal(err)
	}
}

// giveUpAfter makes the app give up on each WHAPI request d after sending
// it, as a WHAPI client timeout of d does (the same ErrTimeout, "no answer
// in time"); 0 turns that off. Tests of "WHAPI does not answer" call it
// once their fault-free setup is done: the setup's calls keep the
// generous client timeout, so a busy machine cannot fail them.
func (a *testApp) giveUpAfter(d time.Duration) { a.cutoff.after.Store(int64(d)) }

// cutoffTransport is the app's transport to the simulator: base, with
// each request abandoned after a test-set time (giveUpAfter).
type cutoffTransport struct {
	base  http.RoundTripper
	after atomic.Int64 // a time.Duration; 0: never
}

func (c *cutoffTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	d := time.Duration(c.after.Load())
	if d <= 0 {
		return c.base.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), d)
	res, err := c.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	res.Body = cancelOnClose{ReadCloser: res.Body, cancel: cancel}
	return res, nil
}

// cancelOnClose ends a request's context once its answer is read.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// newUser creates a user with testPassword.
func (a *testApp) newUser(role models.Role, email string) *models.User {
	a.t.Helper()
	u, err := a.store.CreateUser(context.Background(), models.NewUser{Email: email, Name: email, Password: testPassword, Role: role})
	if err != nil {
		a.t.Fatal(err)
	}
	return u
}

// testClient is a browser-like client: a cookie jar, no automatic redirects.
type testClient struct {
	t    testing.TB
	app  *testApp
	http *http.Client
	// header is added to every request.
	header http.Header
}

func (a *testApp) client() *testClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		a.t.Fatal(err)
	}
	return &testClient{t: a.t, app: a, header: http.Header{}, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
}

type result struct {
	*http.Response
	body string
}

func (c *testClient) do(req *http.Request) result {
	c.t.Helper()
	for k, v := range c.header {
		req.Header[k] = v
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return result{res, string(b)}
}

func (c *testClient) get(path string) result {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.app.srv.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// postForm posts a form as is (add _csrf yourself, or use submit).
func (c *testClient) postForm(path string, form url.Values) result {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.app.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfMeta = regexp.MustCompile(`name="(?:csrf-token|_csrf)" (?:content|value)="([^"]+)"`)

// csrf loads page and returns the CSRF token it carries.
func (c *testClient) csrf(page string) string {
	c.t.Helper()
	r := c.get(page)
	m := csrfMeta.FindStringSubmatch(r.body)
	if m == nil {
		c.t.Fatalf("no CSRF token on %s (status %d)", page, r.StatusCode)
	}
	return m[1]
}

// submit posts a form with the CSRF token of the page it is on.
func (c *testClient) submit(page, action string, form url.Values) result {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("_csrf", c.csrf(page))
	return c.postForm(action, form)
}

// login signs in and fails the test unless it worked.
func (c *testClient) login(email string) {
	c.t.Helper()
	r := c.submit("/login", "/login", url.Values{"email": {email}, "password": {testPassword}})
	if r.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %s: status %d: %s", email, r.StatusCode, r.body)
	}
}

// jsonReq sends a JSON request.
func (c *testClient) jsonReq(method, path, body string, header ...string) result {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.app.srv.URL+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(req)
}

// cookie returns the client's cookie named name for the app, or nil.
func (c *testClient) cookie(name string) *http.Cookie {
	u, _ := url.Parse(c.app.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}
