// Package testenv is the test harness every package's tests build on: a
// real store on a temporary database (the one constructor,
// internal/testdb), the WHAPI simulator behind real HTTP, WHAPI clients
// pointed at it, one manual clock when a test wants it, a goroutine-safe
// log, fixtures in one style (users, plans, API keys, tokens), WHAPI's
// OpenAPI documents to check requests and answers against (Spec) and a
// headless Chromium.
//
// It imports neither provision nor handlers, so that their own (internal)
// tests can use it; they put the service and the app on top in one line
// each: provision.New(env.Store, env.Client(), env.Log), and the handlers'
// routes on that service. Only _test.go files import it
// (internal/archtest checks).
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"whapidesk/internal/testdb"
	"whapidesk/models"
	"whapidesk/whapi"
	"whapidesk/whapi/whapisim"
)

// Password is the password of every user the fixtures make.
const Password = "correct horse battery"

// Options say how an Env is built. The zero value is not enough: States
// must be the lifecycle's (provision.States()).
type Options struct {
	// States are the channel lifecycle's state sets the store is opened
	// with: provision.States(). Required.
	States models.StateSets
	// Sim configures the simulator. A PartnerToken is generated when
	// empty (a JWT-shaped text of 1,300 characters, as WHAPI issues),
	// ProjectIDs default to whapidesk's default project
	// (models.DefaultProjectID), so that channels can be created without
	// picking one — unless SimOwnProjects — and GateURL (the apiUrl WHAPI
	// reports for channels) to the simulator's own URL, the gate
	// Env.Client is configured with.
	Sim whapisim.Options
	// SimOwnProjects leaves an empty Sim.ProjectIDs empty: the partner then
	// has the simulator's own default project (whapisim.DefaultProjectID),
	// which is not whapidesk's default, as on a new install — the project
	// must be picked before a channel can be created.
	SimOwnProjects bool
	// Timeout bounds each WHAPI call of Env.Client (default 3 s).
	Timeout time.Duration
	// ManualClock gives the simulator one manual clock (Env.Clock), from
	// ClockStart (default: now, in whole seconds, so that QR lifetimes line
	// up with the simulator's). The service should use it too
	// (svc.SetClock(env.Clock.Now)).
	ManualClock bool
	ClockStart  time.Time
	// StoreOnClock puts the store on the manual clock too (otherwise it
	// keeps real time: sessions expire by it).
	StoreOnClock bool
	// SimFront, when set, wraps the simulator's handler: a test's own
	// handler in front of WHAPI that may hold requests back or count them.
	SimFront func(http.Handler) http.Handler
	// LogLevel is the least level the env's log keeps (default Info).
	LogLevel slog.Level
}

// Env is one test's world.
type Env struct {
	T   testing.TB
	Ctx context.Context

	Store  *models.Store
	Cipher *models.Cipher
	Key    []byte // the cipher's raw key (for a binary: WHAPIDESK_SECRET_KEY)
	// DB is where the store lives (testdb.New): a PostgreSQL schema's URL
	// when the suite runs on PostgreSQL, else a SQLite file, also in DBPath
	// ("" on PostgreSQL).
	DB     models.Database
	DBPath string

	Sim       *whapisim.Sim
	SimServer *httptest.Server // the simulator over HTTP
	SimURL    string           // its base URL (manager and gate)
	Clock     *whapisim.Clock

	Logs *LogBuffer
	Log  *slog.Logger

	// PartnerToken is the raw partner token the simulator accepts (without
	// "Bearer ").
	PartnerToken string

	timeout time.Duration
}

// New builds an Env; everything it starts is stopped when t ends.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	if o.Sim.PartnerToken == "" {
		o.Sim.PartnerToken = FakeJWT(1300)
	}
	if len(o.Sim.ProjectIDs) == 0 && !o.SimOwnProjects {
		o.Sim.ProjectIDs = []string{models.DefaultProjectID}
	}
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Second
	}
	e := &Env{T: t, Ctx: context.Background(), Logs: &LogBuffer{}, PartnerToken: o.Sim.PartnerToken, timeout: o.Timeout}
	e.Log = slog.New(slog.NewTextHandler(e.Logs, &slog.HandlerOptions{Level: o.LogLevel}))
	if o.ManualClock {
		start := o.ClockStart
		if start.IsZero() {
			start = time.Now().UTC().Truncate(time.Second)
		}
		e.Clock = whapisim.NewClock(start)
		o.Sim.Now = e.Clock.Now
	}
	e.Key, e.Cipher = NewKey(t)
	e.DB = models.Database(testdb.New(t))
	e.DBPath = e.DB.Path
	e.Store = OpenStore(t, e.DB, e.Cipher, o.States)
	if o.StoreOnClock && e.Clock != nil {
		e.Store.SetClock(e.Clock.Now)
	}
	// The server's address is known before it starts, so the simulator can
	// report it as its channels' gate.
	e.SimServer = httptest.NewUnstartedServer(nil)
	e.SimURL = "http://" + e.SimServer.Listener.Addr().String()
	if o.Sim.GateURL == "" {
		o.Sim.GateURL = e.SimURL + "/"
	}
	e.Sim = whapisim.New(o.Sim)
	t.Cleanup(e.Sim.Close) // no webhook is sent after the test
	var h http.Handler = e.Sim
	if o.SimFront != nil {
		h = o.SimFront(h)
	}
	e.SimServer.Config.Handler = h
	e.SimServer.Start()
	t.Cleanup(e.SimServer.Close)
	return e
}

// SecondGate serves the simulator's gate API on a second host of its own,
// over TLS as WHAPI's gate hosts are (whapisim.Sim.GateHost), and returns
// its apiUrl, for Sim.PlaceChannel or Sim.PlaceNewChannels, and the client
// options that let Env.Client call it: its certificate trusted and its
// host on the allowlist (whapi.WithGateHosts).
func (e *Env) SecondGate() (apiURL string, opts []whapi.Option) {
	srv := httptest.NewTLSServer(e.Sim.GateHost())
	e.T.Cleanup(srv.Close)
	hc := &http.Client{
		Transport:     srv.Client().Transport, // trusts srv's certificate; plain http too
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return srv.URL + "/", []whapi.Option{whapi.WithHTTPClient(hc), whapi.WithGateHosts(srv.Listener.Addr().String())}
}

// NewKey returns a fresh random key and its cipher.
func NewKey(t testing.TB) ([]byte, *models.Cipher) {
	t.Helper()
	key := make([]byte, models.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	c, err := models.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, c
}

// OpenStore opens the store at db (Env.DB, a testdb.New, or a file a test
// made on purpose) with bcrypt's least cost, and closes it when t ends.
func OpenStore(t testing.TB, db models.Database, c *models.Cipher, states models.StateSets) *models.Store {
	t.Helper()
	s, err := models.Open(context.Background(), db, c, states)
	if err != nil {
		t.Fatal(err)
	}
	s.SetPasswordCost(bcrypt.MinCost)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Client is a WHAPI client of the simulator that reads the partner token
// from the store: no retries, the env's timeout and log unless opts say
// otherwise.
func (e *Env) Client(opts ...whapi.Option) *whapi.Client {
	base := []whapi.Option{whapi.WithRetries(0, 0), whapi.WithTimeout(e.timeout), whapi.WithLogger(e.Log)}
	return whapi.New(e.SimURL, e.SimURL, e.Store, append(base, opts...)...)
}

// User makes a user with Password.
func (e *Env) User(role models.Role, email string) *models.User {
	e.T.Helper()
	u, err := e.Store.CreateUser(e.Ctx, models.NewUser{Email: email, Name: email, Password: Password, Role: role})
	if err != nil {
		e.T.Fatal(err)
	}
	return u
}

// Plan makes a plan of maxChannels channels and daysPerPeriod days per
// 30-day period.
func (e *Env) Plan(name string, maxChannels, daysPerPeriod int64) *models.Plan {
	e.T.Helper()
	p, err := e.Store.CreatePlan(e.Ctx, models.SystemActor, models.PlanInput{Name: name, MaxChannels: maxChannels, DaysPerPeriod: daysPerPeriod, PeriodDays: 30})
	if err != nil {
		e.T.Fatal(err)
	}
	return p
}

// APIKey makes an API key for u and returns it (shown once, as to a person).
func (e *Env) APIKey(u *models.User) string {
	e.T.Helper()
	key, _, err := e.Store.CreateAPIKey(e.Ctx, models.SystemActor, u.ID, "test")
	if err != nil {
		e.T.Fatal(err)
	}
	return key
}

// FakeJWT returns a random JWT-shaped token of exactly n characters (n ≥
// 100), like the partner tokens WHAPI issues. Test tokens are made here,
// never written down.
func FakeJWT(n int) string {
	head := "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		panic(err)
	}
	body := base64.RawURLEncoding.EncodeToString(raw)
	tok := head + body[:n-len(head)-44] + "." + body[n:n+43]
	return tok[:n]
}

// LogBuffer is a goroutine-safe log sink that tests search (for secrets,
// or for what went wrong).
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
