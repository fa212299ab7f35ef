package main

import (
	"io"
	"strings"
	"testing"
)

// WHAPIDESK_DATABASE_MAX_CONNS sizes PostgreSQL's pool: unset, the store's
// default; set, a whole number within bounds with a PostgreSQL database,
// or start-up stops with a message that names the setting.
func TestDatabaseMaxConnsSetting(t *testing.T) {
	t.Setenv("WHAPIDESK_DATABASE_MAX_CONNS", "")
	t.Setenv("WHAPIDESK_DATABASE_URL", "")
	cfg, err := parseServeFlags("serve", nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseMaxConns != 0 || cfg.database().MaxConns != 0 {
		t.Errorf("unset: %d, want 0 (the store's default)", cfg.DatabaseMaxConns)
	}
	const pg = "postgres://whapidesk@db.example/whapidesk"
	cfg, err = parseServeFlags("serve", []string{"--database-url", pg, "--database-max-conns", "6"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.database(); d.MaxConns != 6 || d.URL != pg {
		t.Errorf("set: the store gets %+v, want 6 connections on %s", d, pg)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--database-url", pg, "--database-max-conns", "many"}, `WHAPIDESK_DATABASE_MAX_CONNS (--database-max-conns) is "many": give a whole number of connections from 2 to 500`},
		{[]string{"--database-url", pg, "--database-max-conns", "1"}, `is "1": give a whole number`},
		{[]string{"--database-url", pg, "--database-max-conns", "501"}, `is "501": give a whole number`},
		{[]string{"--database-max-conns", "8"}, "the database is the SQLite file (WHAPIDESK_DATABASE_URL is unset): it sizes PostgreSQL's pool only"},
	} {
		_, err := parseServeFlags("serve", tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want an error with %q", tc.args, err, tc.want)
		}
	}
}
