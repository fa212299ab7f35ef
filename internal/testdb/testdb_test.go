package testdb

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

func TestNewIsFreshPerTest(t *testing.T) {
	a, b := New(t), New(t)
	if a == b {
		t.Fatalf("two databases of one test share %+v", a)
	}
	if Postgres() {
		for _, d := range []Database{a, b} {
			if d.URL == "" || d.Path != "" {
				t.Fatalf("on PostgreSQL, a database is a URL: %+v", d)
			}
			db, err := sql.Open("pgx", d.URL)
			if err != nil {
				t.Fatal(err)
			}
			var n int
			err = db.QueryRowContext(context.Background(),
				"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()").Scan(&n)
			_ = db.Close()
			if err != nil || n != 0 {
				t.Errorf("%s: %d tables, %v; want a fresh empty schema", d.URL, n, err)
			}
		}
		return
	}
	for _, d := range []Database{a, b} {
		p := d.Path
		if d.URL != "" {
			t.Errorf("without %s, a database is a SQLite file: %+v", Variable, d)
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists before it is opened: %v", p, err)
		}
		if fi, err := os.Stat(filepath.Dir(p)); err != nil || !fi.IsDir() {
			t.Errorf("the directory of %s is not there: %v", p, err)
		}
	}
}

// TestPostgresSchemaIsDroppedAfterTheTest checks that a test's schema is
// gone once the test has ended.
func TestPostgresSchemaIsDroppedAfterTheTest(t *testing.T) {
	if !Postgres() {
		t.Skip("PostgreSQL only: " + Variable + " is not set")
	}
	var url string
	t.Run("inner", func(t *testing.T) { url = New(t).URL })
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var schema string
	if err := db.QueryRowContext(context.Background(), "SHOW search_path").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(context.Background(),
		"SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1", schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("schema %s outlived its test", schema)
	}
}
