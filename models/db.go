package models

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// Store is whapidesk's access to its database. It is safe for concurrent use.
type Store struct {
	db     *gorm.DB
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
}

// Open opens (creating if needed) the SQLite database at path with WAL,
// a busy timeout, foreign keys and IMMEDIATE transactions, and runs the
// schema migrations. The directory is created with mode 0700, the database
// file (and so its -wal and -shm) with 0600; an existing file readable by
// others is tightened to 0600, with a log line (secureDBFiles). states are
// the channel lifecycle's state sets (provision.States()).
func Open(ctx context.Context, path string, cipher *Cipher, states StateSets, opts ...OpenOption) (*Store, error) {
	if cipher == nil {
		return nil, errors.New("store: a cipher is required")
	}
	built, err := states.build()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	oc := openConfig{log: slog.Default()}
	for _, o := range opts {
		o(&oc)
	}
	if err := secureDBFiles(path, oc.log); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	q.Set("_synchronous", "NORMAL")
	dsn := "file:" + path + "?" + q.Encode()
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{
		// Silent: GORM's logger would print SQL with its values, and values
		// may be secrets (encrypted, but still not for logs).
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		TranslateError:         true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("store: open database: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("store: open database: %w", err)
	}
	sqlDB.SetMaxOpenConns(8)
	sqlDB.SetMaxIdleConns(8)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, cipher: cipher, now: func() time.Time { return time.Now().UTC() }, boot: rand.Text(), states: states, sql: built}
	if err := s.countQueries(); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: open database: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
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

// migrate applies, in order and each in its own transaction, every embedded
// migration not yet recorded in schema_migrations.
func (s *Store) migrate(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	if err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY, applied_at DATETIME NOT NULL)`).Error; err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return fmt.Errorf("store: migrate %s: %w", version, err)
		}
		// Check and apply in one IMMEDIATE transaction: two processes
		// starting together cannot both apply a migration.
		err = db.Transaction(func(tx *gorm.DB) error {
			var n int64
			if err := tx.Table("schema_migrations").Where("version = ?", version).Count(&n).Error; err != nil || n > 0 {
				return err
			}
			if err := tx.Exec(string(body)).Error; err != nil {
				return err
			}
			return tx.Exec(`INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)`, version, s.now()).Error
		})
		if err != nil {
			return fmt.Errorf("store: migrate %s: %w", version, err)
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
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("store: backup: %s already exists", dest)
	}
	if err := s.db.WithContext(ctx).Exec("VACUUM INTO ?", dest).Error; err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return os.Chmod(dest, 0o600)
}
