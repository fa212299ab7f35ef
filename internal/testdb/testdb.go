// Package testdb is where a test's database lives: the one place every
// package's tests get a database from, so that pointing the whole suite at
// another database is a change here and nowhere else. It imports nothing of
// ours, so the models package's own tests use it too.
//
// One variable picks the database: with WHAPIDESK_TEST_DATABASE_URL set to
// a PostgreSQL server's URL (scripts/test-pg.sh, `make test-pg`, sets it),
// each test gets a fresh schema of its own on that server; unset, a fresh
// SQLite file.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Variable names the PostgreSQL server the tests run on.
const Variable = "WHAPIDESK_TEST_DATABASE_URL"

// Database is where one test's database lives: URL, a PostgreSQL URL whose
// search_path is the test's own schema, or else Path, a SQLite file. It
// has the fields of models.Database: models.Database(testdb.New(t)).
type Database struct {
	Path string
	URL  string
	// MaxConns mirrors models.Database's (0: its default), so that one
	// converts to the other.
	MaxConns int
}

// Postgres reports whether the tests run on PostgreSQL.
func Postgres() bool { return os.Getenv(Variable) != "" }

// SQLiteOnly skips t on PostgreSQL: for a test of a feature only SQLite
// has (its files and their modes, WAL, its backup API, PRAGMAs). why says
// which.
func SQLiteOnly(t testing.TB, why string) {
	t.Helper()
	if Postgres() {
		t.Skip("SQLite only: " + why)
	}
}

// New returns a new, empty database for t, removed when the test ends.
//
// SQLite: a path in t.TempDir(), not yet made. A real file, never
// ":memory:": each pooled connection to ":memory:" would open its own
// empty database.
//
// PostgreSQL: a schema of its own (CREATE SCHEMA, DROP SCHEMA … CASCADE
// when t ends), named in the URL's search_path, so every table the
// migrations make lands there; a schema is much quicker to make than a
// database, and hundreds of tests share one server.
func New(t testing.TB) Database {
	t.Helper()
	if !Postgres() {
		return Database{Path: filepath.Join(t.TempDir(), "test.db")}
	}
	db := server(t)
	schema := "t_" + strings.ToLower(rand.Text()[:16])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("testdb: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("testdb: drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(os.Getenv(Variable))
	if err != nil {
		t.Fatalf("testdb: %s does not parse", Variable)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return Database{URL: u.String()}
}

var (
	serverOnce sync.Once
	serverDB   *sql.DB
	serverErr  error
)

// server is the pool, shared by the test binary, on which schemas are made
// and dropped.
func server(t testing.TB) *sql.DB {
	t.Helper()
	serverOnce.Do(func() {
		serverDB, serverErr = sql.Open("pgx", os.Getenv(Variable))
		if serverErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			serverErr = serverDB.PingContext(ctx)
		}
	})
	if serverErr != nil {
		t.Fatalf("testdb: the PostgreSQL server of %s: %v", Variable, serverErr)
	}
	return serverDB
}

// Text returns everything the database d holds as text, for tests that
// check a secret is stored nowhere in the clear. SQLite: the bytes of its
// file and its WAL as they are on disk now. PostgreSQL: every column of
// every row of every table of its schema, bytea columns with their
// printable bytes as they are (encode(…, 'escape')).
func Text(t testing.TB, d Database) string {
	t.Helper()
	if d.URL == "" {
		var b strings.Builder
		for _, f := range []string{d.Path, d.Path + "-wal"} {
			data, err := os.ReadFile(f)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			b.Write(data)
		}
		return b.String()
	}
	db, err := sql.Open("pgx", d.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	var queries []string
	for rows.Next() {
		var table, column, typ string
		if err := rows.Scan(&table, &column, &typ); err != nil {
			t.Fatal(err)
		}
		expr := `"` + column + `"::text`
		if typ == "bytea" {
			expr = `encode("` + column + `", 'escape')`
		}
		queries = append(queries, `SELECT COALESCE(string_agg(`+expr+`, E'\n'), '') FROM "`+table+`"`)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	_ = rows.Close()
	var b strings.Builder
	for _, q := range queries {
		var s string
		if err := db.QueryRowContext(ctx, q).Scan(&s); err != nil {
			t.Fatal(err)
		}
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.String()
}
