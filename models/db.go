package models

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrBackupPostgres is Backup's answer on PostgreSQL, whose own tools make
// its backups.
var ErrBackupPostgres = errors.New("store: backup: the database is PostgreSQL: back it up with pg_dump (pg_dump -Fc), not whapidesk")

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// Store is whapidesk's access to its database. It is safe for concurrent use.
type Store struct {
	db *gorm.DB
	pg bool // PostgreSQL; else SQLite
	// pools are SQLite's write connection and read pool behind db (see
	// writer.go); nil on PostgreSQL, which has one pool.
	pools  *sqlitePools
	log    *slog.Logger
	cipher *Cipher
	now    func() time.Time

	// boot names this opening of the database (this process); it is written
	// on every journalled operation, see OpenOperations.
	boot string

	passwordCost int
	dummyOnce    sync.Once
	dummy        []byte

	// queries counts the SQL statements run through db (see QueryCount).
	queries atomic.Int64

	// states are the lifecycle's state sets, and sql what is built of them.
	states StateSets
	sql    stateSQL

	// followUp runs in the transaction of every channel event
	// (channel_events.go, SetChannelFollowUp).
	followUp ChannelFollowUp
}

// Database says where the store lives. URL, when set, is a PostgreSQL
// connection URL (postgres://user:pass@host:5432/db?sslmode=…) and Path is
// not used; otherwise Path is the SQLite database file.
type Database struct {
	Path string
	URL  string
	// MaxConns is, on PostgreSQL, the most connections the store holds
	// open at once (0: DefaultMaxConns; at least 2: migrating holds one
	// for its lock while another runs the migrations). The connections of every
	// instance together should fit what the server runs well at once
	// (a few per core): give each instance its share.
	MaxConns int
}

// DefaultMaxConns is a store's pool on PostgreSQL when Database.MaxConns
// is 0.
const DefaultMaxConns = 16

// Postgres reports whether d is a PostgreSQL database.
func (d Database) Postgres() bool { return d.URL != "" }

// Open opens the database d and runs the schema migrations. states are the
// channel lifecycle's state sets (provision.States()).
//
// SQLite (d.Path): the file is opened (created if needed) with WAL, a busy
// timeout, foreign keys and IMMEDIATE transactions, through one write
// connection and a pool of read-only connections (writer.go). The directory is
// created with mode 0700, the database file (and so its -wal and -shm)
// with 0600; an existing file readable by others is tightened to 0600,
// with a log line (secureDBFiles).
//
// PostgreSQL (d.URL): see openPostgres. A malformed or unreachable URL is
// an error that never shows its password.
func Open(ctx context.Context, d Database, cipher *Cipher, states StateSets, opts ...OpenOption) (*Store, error) {
	if cipher == nil {
		return nil, errors.New("store: a cipher is required")
	}
	built, err := states.build()
	if err != nil {
		return nil, err
	}
	oc := openConfig{log: slog.Default(), busyTimeout: sqliteBusyTimeout}
	for _, o := range opts {
		o(&oc)
	}
	var dialector gorm.Dialector
	var pgDB, writeDB, readDB, ckptDB *sql.DB
	if d.Postgres() {
		if pgDB, err = openPostgres(ctx, d.URL); err != nil {
			return nil, err
		}
		dialector = postgres.New(postgres.Config{Conn: pgDB})
	} else {
		if writeDB, readDB, ckptDB, err = sqliteDialector(ctx, d.Path, oc); err != nil {
			return nil, err
		}
		dialector = sqlite.New(sqlite.Config{Conn: writeDB})
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		// Silent: GORM's logger would print SQL with its values, and values
		// may be secrets (encrypted, but still not for logs).
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		TranslateError:         true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
		// Not PrepareStmt: a script of several statements (a migration)
		// cannot be prepared — SQLite would run its first statement only,
		// silently, and PostgreSQL refuses it — so only the fixed statements of the API's hot read
		// path are prepared, through Store.prepared: fewer than 64, so
		// this bound is never reached. No expiry by age (a century):
		// GORM closes an expired statement on its own goroutine, even one
		// a request has just taken, and replaces one it finds expired
		// without closing it.
		PrepareStmtMaxSize: 64,
		PrepareStmtTTL:     100 * 365 * 24 * time.Hour,
	})
	if err != nil {
		for _, c := range []*sql.DB{pgDB, writeDB, readDB, ckptDB} {
			if c != nil {
				_ = c.Close()
			}
		}
		return nil, fmt.Errorf("store: open database: %w", err)
	}
	s := &Store{db: db, pg: d.Postgres(), cipher: cipher, now: func() time.Time { return time.Now().UTC() }, boot: rand.Text(), states: states, sql: built, log: oc.log}
	if d.Postgres() {
		most := d.MaxConns
		if most <= 0 {
			most = DefaultMaxConns
		}
		most = max(most, 2)
		pgDB.SetMaxOpenConns(most)
		pgDB.SetMaxIdleConns(most)
		pgDB.SetConnMaxIdleTime(5 * time.Minute)
	} else {
		s.pools = routeSQLite(db, writeDB, readDB, ckptDB, s.log)
	}
	if err := s.countQueries(); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: open database: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// sqliteDialector prepares the SQLite file at path (its directory and
// modes) and opens the store's pools on it: the one write connection, the
// read pool and the checkpointer's connection (see writer.go).
func sqliteDialector(ctx context.Context, path string, oc openConfig) (writeDB, readDB, ckptDB *sql.DB, err error) {
	if path == "" {
		return nil, nil, nil, errors.New("store: the database path is empty")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("store: create data directory: %w", err)
	}
	if err := secureDBFiles(path, oc.log); err != nil {
		return nil, nil, nil, err
	}
	if writeDB, readDB, ckptDB, err = openSQLitePools(ctx, path, oc.busyTimeout); err != nil {
		return nil, nil, nil, fmt.Errorf("store: open database: %w", err)
	}
	return writeDB, readDB, ckptDB, nil
}

// SQLiteDSN is how every pool that writes to the SQLite file at path opens
// it (the store's write connection, the job queue's): WAL, a busy timeout,
// foreign keys, IMMEDIATE transactions (a write transaction takes the write
// lock at BEGIN, so two never deadlock upgrading), synchronous NORMAL. The
// store's read pool opens it with sqliteReadDSN.
func SQLiteDSN(path string) string { return sqliteDSN(path, sqliteBusyTimeout) }

func sqliteDSN(path string, busy time.Duration) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", strconv.FormatInt(busy.Milliseconds(), 10))
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	q.Set("_synchronous", "NORMAL")
	return "file:" + path + "?" + q.Encode()
}

// Postgres reports whether the store is on PostgreSQL (else SQLite).
func (s *Store) Postgres() bool { return s.pg }

// DB returns the store's database handle, for code that needs the
// connection pool itself (a job queue sharing the database). Everything
// whapidesk writes goes through the Store's methods.
func (s *Store) DB() *gorm.DB { return s.db }

// Close closes the database (on SQLite both pools).
func (s *Store) Close() error {
	if s.pools != nil {
		return s.pools.close()
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// countQueries registers a GORM callback after each kind of statement
// (query, create, update, delete, raw/exec, row/rows) that adds one to
// s.queries: an atomic add, nothing else.
func (s *Store) countQueries() error {
	count := func(*gorm.DB) { s.queries.Add(1) }
	cb := s.db.Callback()
	for _, err := range []error{
		cb.Query().After("gorm:query").Register("whapidesk:count_query", count),
		cb.Create().After("gorm:create").Register("whapidesk:count_create", count),
		cb.Update().After("gorm:update").Register("whapidesk:count_update", count),
		cb.Delete().After("gorm:delete").Register("whapidesk:count_delete", count),
		cb.Raw().After("gorm:raw").Register("whapidesk:count_raw", count),
		cb.Row().After("gorm:row").Register("whapidesk:count_row", count),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// QueryCount returns how many SQL statements the store has run since it was
// opened (migrations included): every query, insert, update, delete, Exec
// and Raw/Scan, whether or not it failed. Transactions' BEGIN and COMMIT
// are not counted. Compare two readings to count the statements of one
// request or one call, as the tests and benchmarks do; in a busy process
// other goroutines' statements land in the same counter.
func (s *Store) QueryCount() int64 { return s.queries.Load() }

// SetClock replaces the store's clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.now = func() time.Time { return now().UTC() } }

// Cipher returns the cipher the store encrypts secrets with.
func (s *Store) Cipher() *Cipher { return s.cipher }

// A migration is one version of the schema: models/migrations/<version>.sql,
// or, where a statement cannot be written for both databases (triggers,
// identity columns, types SQLite does not have), a variant for PostgreSQL
// beside it, <version>.postgres.sql, which PostgreSQL runs instead. Both
// files of a version make the same tables, constraints and triggers.
type migration struct {
	version string
	file    string
}

// migrations returns the versions, in order, with the file this dialect
// runs for each.
func migrations(pg bool) ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for _, name := range names {
		base := strings.TrimSuffix(filepath.Base(name), ".sql")
		if v, ok := strings.CutSuffix(base, ".postgres"); ok {
			if pg {
				files[v] = name
			}
			continue
		}
		if _, ok := files[base]; !ok || !pg {
			files[base] = name
		}
	}
	out := make([]migration, 0, len(files))
	for v, f := range files {
		out = append(out, migration{version: v, file: f})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrate applies, in order and each in its own transaction, every embedded
// migration not yet recorded in schema_migrations. It runs under a lock,
// so that instances starting together apply each migration once: on
// PostgreSQL a session advisory lock held for the whole run (keyed by the
// schema, so separate schemas migrate independently); on SQLite each
// migration's check and apply share one IMMEDIATE (write) transaction.
// A database that records a version this binary does not know was
// migrated by a newer whapidesk: Open refuses it and names the version.
func (s *Store) migrate(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	if s.pg {
		conn, err := s.lockMigrations(ctx)
		if err != nil {
			return err
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext('whapidesk.migrate.' || current_schema()))`)
			_ = conn.Close()
		}()
	}
	created := `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY, applied_at DATETIME NOT NULL)`
	if s.pg {
		created = strings.Replace(created, "DATETIME", "TIMESTAMPTZ", 1)
	}
	if err := db.Exec(created).Error; err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	list, err := migrations(s.pg)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if err := checkKnown(db, list); err != nil {
		return err
	}
	for _, m := range list {
		body, err := migrationFS.ReadFile(m.file)
		if err != nil {
			return fmt.Errorf("store: migrate %s: %w", m.version, err)
		}
		applied := false
		err = db.Transaction(func(tx *gorm.DB) error {
			var n int64
			if err := tx.Table("schema_migrations").Where("version = ?", m.version).Count(&n).Error; err != nil || n > 0 {
				return err
			}
			if err := tx.Exec(string(body)).Error; err != nil {
				return err
			}
			applied = true
			return tx.Exec(`INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)`, m.version, s.now()).Error
		})
		if err != nil {
			return fmt.Errorf("store: migrate %s: %w", m.version, err)
		}
		if applied {
			s.log.Debug("database migrated", "version", m.version)
		}
	}
	return nil
}

// lockMigrations takes PostgreSQL's advisory lock for migrating this
// schema on a connection of its own, waiting for another instance's run to
// end, and returns that connection (the lock goes with it).
func (s *Store) lockMigrations(ctx context.Context) (*sql.Conn, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext('whapidesk.migrate.' || current_schema()))`); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("store: migrate: take the migration lock: %w", err)
	}
	return conn, nil
}

// checkKnown refuses a database that records a migration this binary does
// not have.
func checkKnown(db *gorm.DB, list []migration) error {
	var applied []string
	if err := db.Table("schema_migrations").Order("version").Pluck("version", &applied).Error; err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	known := map[string]bool{}
	for _, m := range list {
		known[m.version] = true
	}
	for _, v := range applied {
		if !known[v] {
			return fmt.Errorf("store: the database has migration %s, which this whapidesk (newest migration %s) does not know: "+
				"it was upgraded by a newer whapidesk; run that version (or newer) on it", v, list[len(list)-1].version)
		}
	}
	return nil
}

// notFound maps gorm's record-not-found to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// Backup writes a consistent copy of the database to dest (which must not
// exist) with VACUUM INTO, while the app keeps serving. Secrets stay
// encrypted in the copy: restoring it needs the same secret key.
func (s *Store) Backup(ctx context.Context, dest string) error {
	if s.pg {
		return ErrBackupPostgres
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("store: backup: %s already exists", dest)
	}
	if err := s.db.WithContext(ctx).Exec("VACUUM INTO ?", dest).Error; err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return os.Chmod(dest, 0o600)
}
