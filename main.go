// Command whapidesk runs the whapidesk admin web app and its maintenance
// commands. main only wires things together: configuration, the database,
// the secret key, the WHAPI client, the provision service, background jobs
// and the HTTP server.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/handlers"
	"whapidesk/internal/mailer"
	"whapidesk/internal/metrics"
	"whapidesk/internal/webhookout"
	"whapidesk/jobs"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi"
	"whapidesk/whapi/whapisim"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Config is whapidesk's configuration. The partner token is not here: it
// lives, encrypted, in the settings table.
type Config struct {
	Addr   string
	DBPath string
	// DatabaseURL, when set, is the PostgreSQL database the app keeps its
	// data in (DBPath's file is then not used).
	DatabaseURL string
	// DatabaseMaxConns is the store's pool on PostgreSQL (0: the default).
	DatabaseMaxConns int
	SecretKey        string
	ManagerURL       string
	GateURL          string
	SecureCookies    bool
	// Demo runs the app on the built-in WHAPI simulator (whapidesk demo):
	// the only way to run it.
	Demo  bool
	Brand string
	// PublicURL is where WHAPI and browsers reach the app ("" = unknown:
	// no webhooks, polling only).
	PublicURL string
	// TrustedProxies are CIDRs of reverse proxies allowed to name the client
	// in X-Forwarded-For.
	TrustedProxies []*net.IPNet
	// GateHosts are the hosts besides the gate URL's domain that may serve
	// a channel's gate calls (whapi.WithGateHosts).
	GateHosts []string
	// ReconcileEvery and TopUpEvery are the background jobs' intervals
	// (0: jobs' defaults).
	ReconcileEvery, TopUpEvery time.Duration
	// SMTPURL and MailFrom: the SMTP server mails go through and their
	// From address ("": mails wait in the outbox). See mailSender.
	SMTPURL  string
	MailFrom string
	// DigestHour is the UTC hour the admins' daily summary is due from.
	DigestHour int
	// WebhookAllowPrivate lets webhook endpoints be private or loopback
	// addresses (tests and the demo).
	WebhookAllowPrivate bool
	// DisconnectAlertAfter and EventsKeepDays: the disconnect alert's
	// delay and how long the status history is kept (issue 16).
	DisconnectAlertAfter time.Duration
	EventsKeepDays       int
	// MetricsAddr and MetricsToken: where /metrics is served (its own
	// address, or the app's behind the token; both "": nowhere).
	MetricsAddr, MetricsToken string
}

// Validate fails fast on a configuration that cannot work.
func (c *Config) Validate() error {
	if c.DBPath == "" {
		return errors.New("config: the database path is empty")
	}
	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		return err
	}
	if !c.Demo {
		for _, u := range []string{c.ManagerURL, c.GateURL} {
			if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
				return fmt.Errorf("config: %q is not an http(s) URL", u)
			}
		}
	}
	if err := checkPublicURL(c.PublicURL); err != nil {
		return err
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		return errors.New("config: WHAPIDESK_METRICS_TOKEN is shorter than 16 characters: give a long random secret, like the output of openssl rand -hex 32")
	}
	_, err := c.mailSender()
	return err
}

// mailSender is the SMTP sender the configuration names, or nil when no
// SMTP URL is set. Its errors name the setting and never carry the
// password (mailer's errors do not).
func (c *Config) mailSender() (*mailer.Sender, error) {
	if c.SMTPURL == "" {
		if c.MailFrom != "" {
			if _, err := mailer.ParseFrom(c.MailFrom); err != nil {
				return nil, fmt.Errorf("config: the mail from-address (--mail-from, WHAPIDESK_MAIL_FROM): %w", err)
			}
		}
		return nil, nil
	}
	sc, err := mailer.ParseURL(c.SMTPURL)
	if err != nil {
		return nil, fmt.Errorf("config: the SMTP URL (--smtp-url, WHAPIDESK_SMTP_URL): %w", err)
	}
	if c.MailFrom == "" {
		return nil, errors.New("config: WHAPIDESK_MAIL_FROM (--mail-from) is required with WHAPIDESK_SMTP_URL: the From address of every mail, like Acme Desk <desk@example.com>")
	}
	from, err := mailer.ParseFrom(c.MailFrom)
	if err != nil {
		return nil, fmt.Errorf("config: the mail from-address (--mail-from, WHAPIDESK_MAIL_FROM): %w", err)
	}
	sender, err := mailer.New(sc, from)
	if err != nil {
		return nil, fmt.Errorf("config: the SMTP URL (--smtp-url, WHAPIDESK_SMTP_URL): %w", err)
	}
	return sender, nil
}

// checkPublicURL refuses a public address WHAPI could not post to as is:
// it must be an absolute http(s) URL with a host, and no user, query or
// fragment (the webhook's path is appended to it). "" is allowed: no
// webhooks.
func checkPublicURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" ||
		u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("config: the public URL (--public-url, WHAPIDESK_PUBLIC_URL) %q must be an absolute "+
			"http(s) address like https://desk.example.com, without a user, query or fragment", raw)
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "whapidesk:", err)
		os.Exit(1)
	}
}

// run dispatches a command.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve", "demo":
		cfg, err := parseServeFlags(cmd, args, stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout, stderr)
	case "create-admin":
		return createAdmin(ctx, args, stdin, stdout, stderr)
	case "apikey":
		return apikey(ctx, args, stdout, stderr)
	case "backup":
		return backup(ctx, args, stdout, stderr)
	case "rotate-key":
		return rotateKey(ctx, args, stdin, stdout, stderr)
	case "doctor":
		return doctor(ctx, args, stdout, stderr)
	case "help":
		writeUsage(stdout)
		return nil
	}
	writeUsage(stderr)
	return fmt.Errorf("unknown command %q", cmd)
}

// newFlagSet returns a flag set with the settings every command takes
// bound to cfg. Its -h prints the usage and the command's own flags.
func newFlagSet(name string, cfg *Config, stderr io.Writer) *flag.FlagSet {
	return newFlagSetFor(name, everyCommand, cfg, stderr)
}

// newFlagSetFor binds the settings of scope sc (and those of every
// command) to cfg.
func newFlagSetFor(name string, sc scope, cfg *Config, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		writeUsage(stderr)
		writeOwnFlags(stderr, fs)
	}
	for _, s := range settings {
		if s.scope.takenBy(sc) {
			s.bind(fs, cfg, name)
		}
	}
	return fs
}

// errSimulatorServe refuses the simulator outside the demo: serve talks to
// WHAPI, and the simulator (which answers anyone who reaches it) runs only
// in the demo.
var errSimulatorServe = errors.New(`the built-in WHAPI simulator runs only in the demo: run "whapidesk demo" ` +
	`(serve no longer takes --simulator)`)

// asksForSimulator reports whether the command line asks for the
// simulator, as serve's --simulator once did. (Its variable,
// WHAPIDESK_SIMULATOR, is no longer read: every variable the app reads is
// a setting.)
func asksForSimulator(args []string) bool {
	for _, a := range args {
		if a == "--" || !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "simulator" {
			return true
		}
	}
	return false
}

func parseServeFlags(cmd string, args []string, stderr io.Writer) (Config, error) {
	cfg := Config{Demo: cmd == "demo"}
	if asksForSimulator(args) {
		if cfg.Demo {
			return cfg, errors.New("the demo always runs on the built-in WHAPI simulator: drop --simulator")
		}
		return cfg, errSimulatorServe
	}
	fs := newFlagSetFor(cmd, serveCommands, &cfg, stderr)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	for _, p := range strings.Split(fs.Lookup("trusted-proxies").Value.String(), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			return cfg, fmt.Errorf("config: trusted proxy %q is not a CIDR like 10.0.0.0/8", p)
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, n)
	}
	hosts, err := whapi.ParseGateHosts(fs.Lookup("gate-hosts").Value.String())
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	cfg.GateHosts = hosts
	if cfg.DatabaseMaxConns, err = parseMaxConns(fs.Lookup("database-max-conns").Value.String(), cfg.DatabaseURL); err != nil {
		return cfg, err
	}
	if cfg.ReconcileEvery, err = parseJobEvery("WHAPIDESK_RECONCILE_EVERY (--reconcile-every)", fs.Lookup("reconcile-every").Value.String()); err != nil {
		return cfg, err
	}
	if cfg.TopUpEvery, err = parseJobEvery("WHAPIDESK_TOPUP_EVERY (--topup-every)", fs.Lookup("topup-every").Value.String()); err != nil {
		return cfg, err
	}
	if cfg.DigestHour, err = parseDigestHour(fs.Lookup("digest-hour").Value.String()); err != nil {
		return cfg, err
	}
	if cfg.DisconnectAlertAfter, err = parseAlertAfter(fs.Lookup("disconnect-alert-after").Value.String()); err != nil {
		return cfg, err
	}
	if cfg.EventsKeepDays, err = parseKeepDays(fs.Lookup("events-keep-days").Value.String()); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// openStore loads the secret key and opens the database, creating either
// when missing: what serve and demo do (and the tests, to make an
// install). Every other command opens an existing one (openExistingStore).
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (*models.Store, error) {
	key, err := loadKey(cfg, true, log)
	if err != nil {
		return nil, err
	}
	return openWithKey(ctx, cfg, key, log)
}

// envKey is the key WHAPIDESK_SECRET_KEY gives (cfg.SecretKey), nil when
// it is unset. A malformed key stops the command before it touches a
// file, and is never printed.
func envKey(cfg Config) ([]byte, error) {
	if cfg.SecretKey == "" {
		return nil, nil
	}
	key, err := models.ParseKey(cfg.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("WHAPIDESK_SECRET_KEY: %w", err)
	}
	return key, nil
}

// keyFilePath is the key file beside the database, read when
// WHAPIDESK_SECRET_KEY is unset.
func keyFilePath(cfg Config) string {
	return filepath.Join(filepath.Dir(cfg.DBPath), "secret.key")
}

// loadKey returns the secret key: WHAPIDESK_SECRET_KEY's, else the key
// file's. With create, a missing key file (and its directory) is made;
// without, it is an error.
func loadKey(cfg Config, create bool, log *slog.Logger) ([]byte, error) {
	if key, err := envKey(cfg); key != nil || err != nil {
		return key, err
	}
	keyPath := keyFilePath(cfg)
	if !create {
		b, err := os.ReadFile(keyPath)
		if err != nil {
			return nil, fmt.Errorf("secret: read key file: %w", err)
		}
		key, err := models.ParseKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("secret: key file %s: %w", keyPath, err)
		}
		return key, nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg.DBPath), 0o700); err != nil {
		return nil, err
	}
	key, created, err := models.LoadOrCreateKeyFile(keyPath)
	if err != nil {
		return nil, err
	}
	if created {
		log.Warn("created a new secret key file: back it up together with the database, "+
			"or the saved WHAPI tokens cannot be read (or set WHAPIDESK_SECRET_KEY)", "path", keyPath)
	}
	return key, nil
}

// openWithKey opens the database with key.
func openWithKey(ctx context.Context, cfg Config, key []byte, log *slog.Logger) (*models.Store, error) {
	cipher, err := models.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return models.Open(ctx, cfg.database(), cipher, provision.States(), models.WithLogger(log))
}

// database is where the app keeps its data: PostgreSQL at DatabaseURL, or
// else the SQLite file DBPath.
func (c Config) database() models.Database {
	if c.DatabaseURL != "" {
		return models.Database{URL: c.DatabaseURL, MaxConns: c.DatabaseMaxConns}
	}
	return models.Database{Path: c.DBPath}
}

// parseMaxConns reads WHAPIDESK_DATABASE_MAX_CONNS: "" is the default; a
// whole number from 2 to 500 (the migrations hold one connection for
// their lock while another runs them), and only with a PostgreSQL database (SQLite
// has its own pools: one writer, a few readers).
func parseMaxConns(raw, databaseURL string) (int, error) {
	const name = "WHAPIDESK_DATABASE_MAX_CONNS (--database-max-conns)"
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 2 || n > 500 {
		return 0, fmt.Errorf("config: %s is %q: give a whole number of connections from 2 to 500", name, raw)
	}
	if databaseURL == "" {
		return 0, fmt.Errorf("config: %s is set, but the database is the SQLite file (WHAPIDESK_DATABASE_URL is unset): it sizes PostgreSQL's pool only; unset it", name)
	}
	return n, nil
}

// checkDatabaseURL refuses a WHAPIDESK_DATABASE_URL that is not a
// postgres:// URL, without showing its password ("" is fine: SQLite).
func checkDatabaseURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Opaque != "" {
		return fmt.Errorf("config: WHAPIDESK_DATABASE_URL %s is not a PostgreSQL URL: "+
			"give one like postgres://user:password@host:5432/whapidesk?sslmode=verify-full, or unset it to use the SQLite file", models.RedactURL(raw))
	}
	return nil
}

// serve runs the web app until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	log := newLogger(stderr)
	lock, err := lockToServe(cfg)
	if err != nil {
		return err
	}
	defer lock.release() // last: after the store is closed
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close() // for early returns; closing again after Shutdown is harmless
	if err := lock.describe(servingDoing, ln.Addr().String()); err != nil {
		return err
	}
	root := http.NewServeMux()
	managerURL, gateURL, publicURL := cfg.ManagerURL, cfg.GateURL, cfg.PublicURL
	background, cancelBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBackground()
	var sim *whapisim.Sim
	var demo demoInfo
	if cfg.Demo {
		if err := setAsideStaleSimState(ctx, store, cfg, log); err != nil {
			return err
		}
		if sim, demo, err = startDemoSimulator(background, cfg, ln.Addr(), log); err != nil {
			return err
		}
		defer demo.stop() // after the server's shutdown: the state file gets the last word
		root.Handle(simPrefix+"/", http.StripPrefix(simPrefix, sim))
		managerURL, gateURL, publicURL = demo.simURL, demo.simURL, demo.publicURL
		log.Info("the demo runs on the built-in WHAPI simulator, not WHAPI", "simulator", demo.simURL, "state", demo.stateFile)
	}
	// The operator's metrics (internal/metrics): made when they are served.
	var met *metrics.Metrics
	whapiOpts := []whapi.Option{whapi.WithLogger(log), whapi.WithGateHosts(cfg.GateHosts...)}
	if cfg.MetricsAddr != "" || cfg.MetricsToken != "" {
		met = metrics.New(version, metricsState(store))
		whapiOpts = append(whapiOpts, whapi.WithHTTPClient(&http.Client{
			Transport: met.Transport(http.DefaultTransport.(*http.Transport).Clone()),
			// As whapi.New's own client: a redirect is answered as it is.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}))
	}
	client := whapi.New(managerURL, gateURL, store, whapiOpts...)
	svc := provision.New(store, client, log)
	svc.SetPublicURL(publicURL)
	svc.SetBrand(cmp.Or(cfg.Brand, handlers.DefaultBrand)) // signs the test message
	svc.SetDisconnectAlertAfter(cfg.DisconnectAlertAfter)
	svc.SetEventsKeepDays(cfg.EventsKeepDays)
	if publicURL != "" {
		log.Info("WHAPI's webhooks are registered for every channel", "public_url", publicURL)
	}
	checkKeyMatches(ctx, cfg, svc, log)
	// Background work: River's queue in the database (the jobs package),
	// started once the store is open and stopped before it closes.
	jcfg := jobs.Config{Work: svc, Sessions: store, Log: log, Outbox: store,
		ReconcileEvery: cfg.ReconcileEvery, TopUpEvery: cfg.TopUpEvery}
	// The admins' alerts and daily summary (jobs/admin_alerts.go).
	jcfg.Alerts, jcfg.DigestHour = svc, cfg.DigestHour
	jcfg.History = svc // the status history's jobs: disconnect alerts, expiry reminders, prune
	// Mail: the outbox's send_mail jobs go through this SMTP server; without
	// one, mails wait queued on the Outbox page.
	sender, err := cfg.mailSender()
	if err != nil {
		return err
	}
	if sender != nil {
		jcfg.Mailer = sender // never a nil *mailer.Sender in the interface
		log.Info("mail is sent through the configured SMTP server", "from", cfg.MailFrom)
	} else {
		log.Info("mail is not configured (WHAPIDESK_SMTP_URL): mails wait in the outbox")
	}
	// Webhooks out: deliver_webhook jobs sign and send each delivery.
	allowPrivate := cfg.WebhookAllowPrivate || cfg.Demo
	deliverer := webhookout.New(webhookout.Options{AllowPrivate: allowPrivate})
	defer deliverer.Close()
	jcfg.Webhooks, jcfg.Deliverer = store, deliverer
	svc.SetWebhookAllowPrivate(allowPrivate)
	queue, err := jobs.Open(ctx, cfg.database(), jcfg)
	if err != nil {
		return err
	}
	defer stopQueue(queue, log) // before store.Close: defers run last in, first out
	svc.SetMailQueue(queue)
	svc.SetWebhookQueue(queue)

	e := echo.New()
	if met != nil {
		e.Use(met.Echo()) // before the routes' own middleware: every answer is counted
		stopObserving := queue.ObserveRuns(met.JobDone)
		defer stopObserving()
	}
	hcfg := handlers.Config{SecureCookies: cfg.SecureCookies, Version: version, TrustedProxies: cfg.TrustedProxies, Brand: cfg.Brand, Jobs: queue}
	if sim != nil {
		hcfg.DemoLink = func(_ context.Context, id string) error { return demoLink(sim, id) }
	}
	var demoHooks *handlers.DemoWebhooks // the demo's webhook receiver (demo.go)
	if cfg.Demo {
		demoHooks = &handlers.DemoWebhooks{Verify: func(secret []byte, header string, body []byte, now time.Time) error {
			return webhookout.Verify(secret, header, body, now, 0)
		}}
		hcfg.DemoWebhooks = demoHooks
	}
	h := handlers.New(store, svc, log, hcfg)
	h.Routes(e)
	// The demo answers once its data is seeded (the seeding verifies the
	// demo token against the simulator, so the server is up meanwhile).
	var ready atomic.Bool
	ready.Store(!cfg.Demo)
	root.Handle("/", whenReady(&ready, e))

	srv := &http.Server{
		Handler:           h.Wrap(root), // the security headers on every answer, the mux's own redirects included
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second, // a page may wait on WHAPI (15 s per call)
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if err := queue.Start(background); err != nil {
		return err
	}

	var metricsSrv *http.Server // on WHAPIDESK_METRICS_ADDR
	switch {
	case met != nil && cfg.MetricsAddr != "":
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics address: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", met.Handler(cfg.MetricsToken))
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: srv.ErrorLog}
		go func() { _ = metricsSrv.Serve(mln) }()
		log.Info("metrics are served on their own address", "metrics_addr", mln.Addr().String())
	case met != nil:
		root.Handle("GET /metrics", met.Handler(cfg.MetricsToken))
		log.Info("metrics are served at /metrics to requests with the metrics token")
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("whapidesk is serving", "addr", ln.Addr().String(), "version", version)
	stopSample := func() {} // the demo's sample line (demo_sample.go)
	defer func() { stopSample() }()
	if cfg.Demo {
		if err := demoWebhookEndpoint(ctx, store, svc, publicURL, demoHooks); err != nil {
			return fmt.Errorf("demo webhook endpoint: %w", err)
		}
		// Seeded while serving: the demo's partner token is verified
		// against the simulator, which this server answers for.
		seed, err := seedDemo(ctx, store, svc, cfg)
		if err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		picked, err := demoProjectPicked(ctx, store)
		if err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		// Printed before the first page is served, so that whoever waits
		// for the server finds how to sign in already there.
		printDemo(stdout, cfg, seed, ln.Addr(), picked, demo)
		ready.Store(true)
		// Once the project is picked, the demo links and drops a phone on
		// a sample line of Bruno's, in the background.
		stopSample = startDemoSample(background, store, svc, sim, log)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	stopSample() // before the server: the sample reaches the simulator through it
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if metricsSrv != nil {
		_ = metricsSrv.Shutdown(shutdownCtx)
	}
	stopQueue(queue, log) // no job starts after the last request; running ones finish or are cut short
	cancelBackground()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// metricsState reads the metrics' gauges from the database at a scrape:
// the running totals (one query), and the mails and webhook deliveries
// still waiting.
func metricsState(store *models.Store) func(context.Context) (metrics.State, error) {
	return func(ctx context.Context) (metrics.State, error) {
		d, err := store.DashboardTotals(ctx)
		if err != nil {
			return metrics.State{}, err
		}
		// Allocated counts days that reached a channel: an extend WHAPI
		// refused reserved its days and gave them back (a correction), so
		// they never moved (the daily summary nets them the same way).
		st := metrics.State{DaysAllocated: d.Days.Allocated - d.Days.Corrected, DaysReturned: d.Days.Returned,
			PartnerDays: d.Partner.Estimate(), Channels: map[string]int64{}}
		for k, n := range d.Channels {
			st.Channels[string(k)] = n
		}
		mails, err := store.UnsentMailIDs(ctx)
		if err != nil {
			return metrics.State{}, err
		}
		hooks, err := store.UnsentWebhookDeliveryIDs(ctx)
		if err != nil {
			return metrics.State{}, err
		}
		st.OutboxWaiting, st.WebhooksWaiting = int64(len(mails)), int64(len(hooks))
		return st, nil
	}
}

// stopQueue stops the job queue, logging what went wrong (a second call
// does nothing).
func stopQueue(q *jobs.Queue, log *slog.Logger) {
	if err := q.Stop(context.Background()); err != nil {
		log.Warn("stopping the background jobs", "err", err)
	}
}

// servingDoing is what a serving process's lock file says it does.
const servingDoing = "serving on this database"

// lockToServe takes the database's lock for serve or demo (see dbLock),
// making the data directory first (serve may create it). A malformed
// WHAPIDESK_SECRET_KEY is refused before any file is made. Another
// process serving the database, or rotating its key, is a clear refusal.
func lockToServe(cfg Config) (*dbLock, error) {
	if _, err := envKey(cfg); err != nil {
		return nil, err
	}
	if cfg.DatabaseURL != "" {
		// PostgreSQL: several instances may serve one database. Migrations
		// take their own lock in the database (models.Open).
		return &dbLock{}, nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg.DBPath), 0o700); err != nil {
		return nil, err
	}
	lock, err := tryLock(cfg.DBPath, "starting to serve on this database")
	var held *errLocked
	if errors.As(err, &held) {
		return nil, fmt.Errorf("%w: one whapidesk at a time serves a database: stop that one first, "+
			"or give this one another database (--db, WHAPIDESK_DB)", err)
	}
	return lock, err
}

// checkKeyMatches logs an error when the saved partner token does not
// open with this server's secret key (provision.ErrKeyMismatch), naming
// where the key came from — never the key. The app serves on all the same:
// refusing to start would take every page down for a problem an admin
// fixes on one of them (paste the partner token again on WHAPI Settings,
// which says so too), and no WHAPI call is made without the token meanwhile.
func checkKeyMatches(ctx context.Context, cfg Config, svc *provision.Service, log *slog.Logger) {
	if err := svc.Configured(ctx); !errors.Is(err, provision.ErrKeyMismatch) {
		return
	}
	key := keyFilePath(cfg)
	if cfg.SecretKey != "" {
		key = "WHAPIDESK_SECRET_KEY"
	}
	log.Error("the secret key does not match this database: the saved WHAPI partner token cannot be read with it "+
		"(was the key changed or rotated while the app was running?). whapidesk serves on, but reaches WHAPI only once "+
		"an admin pastes the partner token again on WHAPI Settings, or once it is restarted with the key the token was saved with",
		"key", key, "db", cfg.DBPath)
}

// whenReady answers 503 "starting" until ready is set, then serves h.
func whenReady(ready *atomic.Bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// reconcileAfterBoot is when a start's own Reconcile runs
// (jobs.ReconcileAfterBoot).
const reconcileAfterBoot = jobs.ReconcileAfterBoot

// tickSimulator lets the built-in simulator see, every second, what time
// changed (a line up, a QR code rotated), so its webhooks tell it as
// WHAPI's would.
func tickSimulator(ctx context.Context, sim *whapisim.Sim) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sim.Tick()
		}
	}
}
