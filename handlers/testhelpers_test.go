package handlers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi"
	"whapidesk/whapi/whapisim"
)

// syncBuffer is a goroutine-safe log sink, searched by tests for secrets.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testApp is the whole app on a real SQLite file in t.TempDir(), served over
// real HTTP, with the WHAPI simulator standing in for WHAPI.
type testApp struct {
	t            *testing.T
	store        *models.Store
	sim          *whapisim.Sim
	simSrv       *httptest.Server
	srv          *httptest.Server
	dbPath       string
	logs         *syncBuffer
	partnerToken string // the raw token the simulator accepts (no "Bearer ")
	e            *echo.Echo
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
}

// manualClockStart is where manual clocks start: whole seconds, so QR
// lifetimes line up with the simulator's.
func manualClockStart() time.Time { return time.Now().UTC().Truncate(time.Second) }

// defaultAppOptions: a generated partner token the simulator accepts, the
// client's project, 1,000 partner days.
func defaultAppOptions() appOptions {
	o := appOptions{timeout: whapi.DefaultTimeout}
	o.sim.PartnerToken = fakeJWT(1300)
	o.sim.ProjectIDs = []string{models.DefaultProjectID}
	o.sim.BalanceDays = 1000
	return o
}

// newTestApp starts the app. The simulator's partner token is generated
// here: a JWT-shaped text of about 1,300 characters.
func newTestApp(t *testing.T, opts ...func(*appOptions)) *testApp {
	t.Helper()
	o := defaultAppOptions()
	for _, f := range opts {
		f(&o)
	}
	a := &testApp{t: t, logs: &syncBuffer{}, partnerToken: o.sim.PartnerToken}
	if o.manualClock {
		a.clock = whapisim.NewClock(manualClockStart())
		o.sim.Now = a.clock.Now
	}
	log := slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	dir := t.TempDir()
	a.dbPath = filepath.Join(dir, "test.db")
	key := make([]byte, models.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	cipher, err := models.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	a.store, err = models.Open(context.Background(), a.dbPath, cipher)
	if err != nil {
		t.Fatal(err)
	}
	a.store.SetPasswordCost(bcrypt.MinCost)
	t.Cleanup(func() { _ = a.store.Close() })

	a.sim = whapisim.New(o.sim)
	a.simSrv = httptest.NewServer(a.sim)
	t.Cleanup(a.simSrv.Close)

	a.cutoff = &cutoffTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
	hc := &http.Client{Transport: a.cutoff, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	client := whapi.New(a.simSrv.URL, a.simSrv.URL, a.store, whapi.WithHTTPClient(hc), whapi.WithLogger(log),
		whapi.WithTimeout(o.timeout), whapi.WithRetries(0, 0))
	a.svc = provision.New(a.store, client, log)
	if a.clock != nil {
		a.svc.SetClock(a.clock.Now)
	}
	a.e = echo.New()
	New(a.store, a.svc, log, o.handler).Routes(a.e)
	a.srv = httptest.NewServer(a.e)
	t.Cleanup(a.srv.Close)
	return a
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

// fakeJWT returns a random JWT-shaped token of exactly n characters.
func fakeJWT(n int) string {
	head := "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		panic(err)
	}
	body := base64.RawURLEncoding.EncodeToString(raw)
	tok := head + body[:n-len(head)-44] + "." + body[n:n+43]
	return tok[:n]
}

var testPassword = "correct horse battery"

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
	t    *testing.T
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
