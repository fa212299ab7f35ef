// Package jobs runs whapidesk's background work through one job queue,
// River (github.com/riverqueue/river), kept in the database beside the
// app's own tables: the WHAPI reconcile, the automatic top-up and the
// expired-session cleanup, each a periodic job with unique options, so that
// two instances on one database (or a restart) never run the same due item
// twice. A failed run is retried with backoff and logged with its kind and
// attempt; the admin's Jobs page lists, retries and cancels jobs through
// Queue.
//
// The work itself lives where it always did: provision.Service's Reconcile
// and AutoTopUp (provision/jobs.go), models.Store's DeleteExpiredSessions.
// This package only says when it runs, and keeps the record.
//
// On SQLite River gets a pool of its own on the app's database file (one
// connection, as River's SQLite driver asks, with the store's WAL, busy
// timeout and IMMEDIATE transactions), beside the store's one write
// connection rather than sharing it: River's writes are few and short (a
// fetch a second, the leader's heartbeat), so the store's writers meet one
// in SQLite's busy handler for a statement at most, and River's polling
// stays out of their queue (see models/writer.go). The client is a
// river.Client[*sql.Tx], so PostgreSQL is one more driver in newDriver:
// riverdatabasesql on the app's pgx-backed *sql.DB.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL's database/sql driver, as the store's
	"github.com/mattn/go-sqlite3"      // the SQLite driver the store uses too
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"whapidesk/internal/webhookout"
	"whapidesk/models"
	"whapidesk/provision"
)

// Work is what the periodic jobs call: provision.Service's methods.
type Work interface {
	Reconcile(ctx context.Context) (provision.ReconcileReport, error)
	AutoTopUp(ctx context.Context) (provision.TopUpReport, error)
}

// Sessions is what the session cleanup calls: models.Store's method.
type Sessions interface {
	DeleteExpiredSessions(ctx context.Context) (int64, error)
}

var (
	_ Work     = (*provision.Service)(nil)
	_ Sessions = (*models.Store)(nil)
)

// Intervals of the periodic jobs. The top-up window is days, so a
// quarter-hour is more than often enough; Reconcile settles lost answers
// a few minutes after they happen.
//
// ReconcileAfterBoot: each start runs one Reconcile shortly after it
// starts, to settle what a crashed or killed predecessor left open (see
// models.Store.OpenOperations), once those operations are older than
// models.AbandonedAfter, so that a request the predecessor had in flight
// has ended at WHAPI before its outcome is read back.
const (
	ReconcileEvery     = 10 * time.Minute
	TopUpEvery         = 15 * time.Minute
	SessionsEvery      = time.Hour
	ReconcileAfterBoot = models.AbandonedAfter + 10*time.Second
)

// Config says what a Queue runs and how. Work, Sessions and Log are
// required; every duration has a default.
type Config struct {
	Work     Work
	Sessions Sessions
	Log      *slog.Logger

	// The periodic jobs' intervals (defaults: the constants above). Each
	// is also its jobs' unique period: one run per kind per period, across
	// every instance and restart.
	ReconcileEvery, TopUpEvery, SessionsEvery time.Duration
	// ReconcileAfterBoot is when the start's own Reconcile runs (default
	// ReconcileAfterBoot); negative: none.
	ReconcileAfterBoot time.Duration
	// NoPeriodic registers no periodic job (tests that insert their own).
	NoPeriodic bool

	// Backoff is the wait before a failed job's next attempt (default
	// Backoff: 30 s, doubling, at most 30 min).
	Backoff func(attempt int) time.Duration
	// MaxAttempts is how often a job is tried before it is given up
	// (default 5).
	MaxAttempts int
	// FetchPoll is how often the queue looks for due jobs (default 1 s).
	FetchPoll time.Duration
	// ID names this instance among the queue's clients (default: River's,
	// host name and time).
	ID string

	// Outbox is where the mail job reads and records mails (the store);
	// Mailer sends them (nil: mail is not configured, and mails stay
	// queued; see InsertMailTx).
	Outbox Outbox
	Mailer Mailer

	// Alerts queues the admins' alerts and daily summary
	// (jobs/admin_alerts.go); nil: no alerts job. DigestHour is the UTC
	// hour the summary is due from (main: WHAPIDESK_DIGEST_HOUR, default
	// provision.DefaultDigestHour).
	Alerts     Alerts
	DigestHour int
	// Webhooks is where the webhook job reads and records deliveries (the
	// store); Deliverer sends them (webhookout). Either nil: no delivery
	// job is queued, and deliveries wait queued.
	Webhooks  WebhookStore
	Deliverer WebhookDeliverer
	// WebhookBackoff is the wait before a delivery's next attempt after
	// attempt failed (default webhookout.Backoff: 30 s doubling to an
	// hour, ±20 %; tests shorten it).
	WebhookBackoff func(attempt int) time.Duration
	// Now is the webhook job's clock (default time.Now; tests move it).
	Now func() time.Time
	// History is what the status history's jobs call (jobs/alerts.go; nil:
	// none run).
	History AlertWork
}

// Defaults.
const (
	defaultMaxAttempts = 5
	defaultFetchPoll   = time.Second
	backoffBase        = 30 * time.Second
	backoffCap         = 30 * time.Minute
	// jobTimeout bounds one run: a top-up of ten thousand channels is a
	// few minutes of WHAPI calls. rescueAfter, longer, is when a job left
	// "running" by an instance that died is tried again.
	jobTimeout  = 20 * time.Minute
	rescueAfter = 30 * time.Minute
	// stopPatience is how long Stop waits for running jobs to finish
	// before it cancels them.
	stopPatience = 15 * time.Second
)

// Backoff is the default wait before attempt+1 after attempt failed:
// 30 s, 1 min, 2 min, … at most 30 min.
func Backoff(attempt int) time.Duration {
	d := backoffBase
	for i := 1; i < attempt && d < backoffCap; i++ {
		d *= 2
	}
	return min(d, backoffCap)
}

// Queue is the job queue of one instance: a River client on the database.
type Queue struct {
	db     *sql.DB
	client *river.Client[*sql.Tx]
	cfg    Config
	log    *slog.Logger
	boot   string // this start's name, in its boot Reconcile's args

	stopOnce sync.Once
	stopErr  error
	started  bool
}

// OpenSQLite opens River's pool on the SQLite database at path: the
// store's settings (WAL, busy timeout, foreign keys, IMMEDIATE
// transactions, see models.Open) on one connection, as River's SQLite
// driver asks (its operations otherwise meet "database is locked").
func OpenSQLite(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite3", models.SQLiteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("jobs: open database: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	return db, nil
}

// openPostgres opens River's pool on the PostgreSQL database at rawURL
// (pgx's database/sql driver, as the store's): River's tables live beside
// ours, in the same schema (the URL's search_path, if any).
func openPostgres(rawURL string) (*sql.DB, error) {
	db, err := sql.Open("pgx", rawURL)
	if err != nil { // only an unregistered driver; the URL itself is never in it
		return nil, fmt.Errorf("jobs: open database: %w", err)
	}
	db.SetMaxOpenConns(4)
	return db, nil
}

// newDriver is River's driver for db: its SQLite driver on the SQLite
// file, its database/sql driver on PostgreSQL (the client is a
// Client[*sql.Tx] on both).
func newDriver(db *sql.DB) riverdriver.Driver[*sql.Tx] {
	if _, ok := db.Driver().(*sqlite3.SQLiteDriver); ok {
		return riversqlite.New(db)
	}
	return riverdatabasesql.New(db)
}

// Open opens River's pool on the app's database d (the SQLite file, or
// PostgreSQL), runs River's migrations and builds the queue (not started:
// Start). Stop closes the pool.
func Open(ctx context.Context, d models.Database, cfg Config) (*Queue, error) {
	open := func() (*sql.DB, error) { return OpenSQLite(d.Path) }
	if d.Postgres() {
		open = func() (*sql.DB, error) { return openPostgres(d.URL) }
	}
	db, err := open()
	if err != nil {
		return nil, err
	}
	q, err := New(ctx, db, cfg)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return q, nil
}

// Migrate brings River's tables (river_job, river_leader, …) up to date,
// each migration in its own transaction: on SQLite an IMMEDIATE one, so
// two instances starting together apply each once.
func Migrate(ctx context.Context, db *sql.DB) error {
	m, err := rivermigrate.New(newDriver(db), &rivermigrate.Config{Logger: quiet(slog.Default())})
	if err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	return nil
}

// New runs River's migrations on db and builds the queue over it (not
// started: Start). Stop closes db.
func New(ctx context.Context, db *sql.DB, cfg Config) (*Queue, error) {
	if cfg.Work == nil || cfg.Sessions == nil || cfg.Log == nil {
		return nil, errors.New("jobs: Work, Sessions and Log are required")
	}
	cfg.ReconcileEvery = or(cfg.ReconcileEvery, ReconcileEvery)
	cfg.TopUpEvery = or(cfg.TopUpEvery, TopUpEvery)
	cfg.SessionsEvery = or(cfg.SessionsEvery, SessionsEvery)
	cfg.ReconcileAfterBoot = or(cfg.ReconcileAfterBoot, ReconcileAfterBoot)
	cfg.FetchPoll = or(cfg.FetchPoll, defaultFetchPoll)
	for _, d := range []time.Duration{cfg.ReconcileEvery, cfg.TopUpEvery, cfg.SessionsEvery} {
		if d < time.Second { // River's least unique period
			return nil, fmt.Errorf("jobs: an interval of %s is under a second", d)
		}
	}
	if cfg.Backoff == nil {
		cfg.Backoff = Backoff
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = defaultMaxAttempts
	}
	if cfg.WebhookBackoff == nil {
		cfg.WebhookBackoff = webhookout.Backoff
	}
	if err := Migrate(ctx, db); err != nil {
		return nil, err
	}
	q := &Queue{db: db, cfg: cfg, log: cfg.Log, boot: bootName()}

	workers := river.NewWorkers()
	river.AddWorker(workers, &reconcileWorker{q: q})
	river.AddWorker(workers, &topUpWorker{q: q})
	river.AddWorker(workers, &sessionsWorker{q: q})
	river.AddWorker(workers, &sendMailWorker{q: q})
	if cfg.Alerts != nil {
		river.AddWorker(workers, &adminAlertsWorker{q: q})
	}
	river.AddWorker(workers, &deliverWebhookWorker{q: q})
	q.addAlertWorkers(workers)

	rc := &river.Config{
		ID:      cfg.ID,
		Logger:  quiet(cfg.Log),
		Workers: workers,
		// One worker: runs never overlap in one instance, as the ticker
		// loop they replace ran them one after the other.
		// Mails have a queue of their own, so one never waits behind a
		// long run of the others.
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}, QueueMail: {MaxWorkers: 1},
			QueueWebhooks: {MaxWorkers: webhookWorkers}}, // jobs/webhooks.go
		MaxAttempts:          cfg.MaxAttempts,
		RetryPolicy:          retryPolicy{cfg.Backoff},
		ErrorHandler:         errorHandler{q},
		JobTimeout:           jobTimeout,
		RescueStuckJobsAfter: rescueAfter,
		FetchPollInterval:    cfg.FetchPoll,
		FetchCooldown:        min(cfg.FetchPoll, 100*time.Millisecond),
		SoftStopTimeout:      stopPatience,
		// SQLite has no LISTEN/NOTIFY, and River's database/sql driver does
		// not listen on PostgreSQL either: River's stand-in polls a table every
		// 50 ms. Polling for jobs (FetchPoll) and for cancellations (every
		// 2 s) is enough for work that is due every few minutes.
		PollOnly: true,
		// Finished jobs are kept a week for the Jobs page.
		CompletedJobRetentionPeriod: 7 * 24 * time.Hour,
		CancelledJobRetentionPeriod: 7 * 24 * time.Hour,
		DiscardedJobRetentionPeriod: 30 * 24 * time.Hour,
	}
	if !cfg.NoPeriodic {
		rc.PeriodicJobs = q.periodicJobs()
	}
	client, err := river.NewClient(newDriver(db), rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	q.client = client
	return q, nil
}

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Start starts working jobs, and schedules this start's Reconcile.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	q.started = true
	if q.cfg.ReconcileAfterBoot > 0 {
		if _, err := q.InsertBootReconcile(ctx); err != nil {
			return err
		}
	}
	if err := q.queueUnsentMail(ctx); err != nil {
		return err
	}
	return q.queueUnsentWebhooks(ctx)
}

// Stop stops the queue: no job starts any more, and running ones are given
// stopPatience to finish before their contexts are cancelled (their work
// is safe to cut short: reserve → call → settle). It then closes the
// queue's pool. Calling it again returns the first call's error.
func (q *Queue) Stop(ctx context.Context) error {
	q.stopOnce.Do(func() {
		if q.started {
			// Stop escalates to cancelling the jobs' contexts itself after
			// SoftStopTimeout; a ctx that ends sooner cancels them now.
			err := q.client.Stop(ctx)
			if err != nil {
				q.log.Warn("background jobs did not finish in time: cancelling them", "err", err)
				hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopPatience)
				err = q.client.StopAndCancel(hard)
				cancel()
			}
			q.stopErr = err
			select {
			case <-q.client.Stopped():
			case <-time.After(stopPatience):
				q.log.Error("background jobs still running after the shutdown's patience: closing their database anyway")
			}
		}
		if err := q.db.Close(); err != nil && q.stopErr == nil {
			q.stopErr = err
		}
	})
	return q.stopErr
}

// quiet passes River's own log lines at warning and above: its routine
// ones (leadership, maintenance) are not an operator's business.
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(minLevel{l.Handler(), slog.LevelWarn})
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
