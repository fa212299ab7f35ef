package models

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"testing"

	"whapidesk/internal/testdb"
)

// TestOpenRefusesABadDatabaseURLWithoutItsPassword: a malformed or
// unreachable PostgreSQL URL stops Open with a message that says what is
// wrong and where, and never shows the password.
func TestOpenRefusesABadDatabaseURLWithoutItsPassword(t *testing.T) {
	c, err := NewCipher(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	pw := "pw" + rand.Text()
	// A port nothing listens on: a listener closed at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()
	for _, tt := range []struct{ name, url, want string }{
		{"unreachable", "postgres://app:" + pw + "@" + closed + "/whapidesk?sslmode=disable",
			"cannot reach PostgreSQL at postgres://app:xxxxx@" + closed + "/whapidesk?sslmode=disable"},
		{"bad option", "postgres://app:" + pw + "@" + closed + "/whapidesk?sslmode=sometimes", "cannot use the URL of PostgreSQL at postgres://app:xxxxx@"},
		{"password in the query", "postgres://app@" + closed + "/whapidesk?sslmode=disable&password=" + pw, "password=xxxxx"},
		{"not postgres", "mysql://app:" + pw + "@" + closed + "/whapidesk", "is not a postgres:// URL"},
		{"not a URL", "postgres://app:" + pw + "@%zz/whapidesk", "(a URL that does not parse)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), Database{URL: tt.url}, c, testStates)
			if err == nil {
				_ = s.Close()
				t.Fatal("opened")
			}
			if strings.Contains(err.Error(), pw) {
				t.Fatalf("the error shows the password: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to say %q", err, tt.want)
			}
		})
	}
}

// TestOpenRefusesADatabaseNewerThanItsMigrations: a database that records
// a migration this binary does not have (a newer whapidesk migrated it)
// is refused, naming that migration, and left as it is.
func TestOpenRefusesADatabaseNewerThanItsMigrations(t *testing.T) {
	s, db := newTestStore(t)
	ctx := context.Background()
	if err := s.db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES ('9999_from_the_future', ?)`, s.now()).Error; err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s2, err := Open(ctx, db, s.cipher, testStates)
	if err == nil {
		_ = s2.Close()
		t.Fatal("opened a database migrated by a newer whapidesk")
	}
	if !strings.Contains(err.Error(), "9999_from_the_future") || !strings.Contains(err.Error(), "newer whapidesk") {
		t.Fatalf("error %q does not name the unknown migration", err)
	}
}

// TestMigrationsRunOnceUnderConcurrentStarts: instances starting together
// on one new database apply every migration once and all open it.
func TestMigrationsRunOnceUnderConcurrentStarts(t *testing.T) {
	c, err := NewCipher(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	db := Database(testdb.New(t))
	const n = 4
	errs := make(chan error, n)
	stores := make(chan *Store, n)
	for range n {
		go func() {
			s, err := Open(context.Background(), db, c, testStates)
			errs <- err
			stores <- s
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("an instance did not start: %v", err)
		}
		if s := <-stores; s != nil {
			t.Cleanup(func() { _ = s.Close() })
		}
	}
	list, err := migrations(db.Postgres())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), db, c, testStates)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var rows int64
	s.db.Table("schema_migrations").Count(&rows)
	if rows != int64(len(list)) {
		t.Fatalf("%d migrations recorded, want %d", rows, len(list))
	}
}

// TestBackupRefusesPostgres: on PostgreSQL, Backup says to use pg_dump.
func TestBackupRefusesPostgres(t *testing.T) {
	testdbPostgresOnly(t)
	s, _ := newTestStore(t)
	err := s.Backup(context.Background(), t.TempDir()+"/copy.db")
	if !errors.Is(err, ErrBackupPostgres) || !strings.Contains(err.Error(), "pg_dump") {
		t.Fatalf("backup on PostgreSQL: %v", err)
	}
}

func testdbPostgresOnly(t *testing.T) {
	t.Helper()
	if !testdb.Postgres() {
		t.Skip("PostgreSQL only: " + testdb.Variable + " is not set")
	}
}

// TestMaxConnsSizesThePool: Database.MaxConns is the most connections the
// store holds open on PostgreSQL (WHAPIDESK_DATABASE_MAX_CONNS); 0 is
// DefaultMaxConns.
func TestMaxConnsSizesThePool(t *testing.T) {
	testdbPostgresOnly(t)
	c, err := NewCipher(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	db := Database(testdb.New(t))
	for _, tc := range []struct{ set, want int }{{0, DefaultMaxConns}, {3, 3}} {
		db.MaxConns = tc.set
		s, err := Open(context.Background(), db, c, testStates)
		if err != nil {
			t.Fatal(err)
		}
		sqlDB, err := s.db.DB()
		if err != nil {
			t.Fatal(err)
		}
		if got := sqlDB.Stats().MaxOpenConnections; got != tc.want {
			t.Errorf("MaxConns %d: the pool holds up to %d, want %d", tc.set, got, tc.want)
		}
		_ = s.Close()
	}
}
