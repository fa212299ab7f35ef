package models

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"whapidesk/internal/testdb"
)

// TestDatabaseFilesAreOwnerOnly: a new database, its WAL and its SHM are
// created 0600 (readable by their owner only, like secret.key and the
// backups), whatever SQLite's default of 0644; an existing database whose
// files others could read is tightened to 0600 when it is opened, and the
// log says which file it was.
func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	ctx := context.Background()
	c, err := NewCipher(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	testdb.SQLiteOnly(t, "the modes of the database's files")
	path := testdb.New(t).Path
	files := []string{path, path + "-wal", path + "-shm"}
	checkModes := func(when string) {
		t.Helper()
		for _, p := range files {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("%s: %s has mode %#o, want 0600", when, p, m)
			}
		}
	}

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s, err := Open(ctx, Database{Path: path}, c, testStates, WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	s.SetPasswordCost(bcrypt.MinCost)
	// A write, so that the WAL holds a frame and the SHM its index.
	if _, err := s.CreateUser(ctx, NewUser{Email: "modes@example.com", Password: "long enough pw", Role: RoleCustomer}); err != nil {
		t.Fatal(err)
	}
	checkModes("a new database")
	if logs.Len() != 0 {
		t.Errorf("a new database logged:\n%s", &logs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A database made before: its files readable by everyone.
	for _, p := range files {
		if _, err := os.Stat(p); os.IsNotExist(err) { // a clean close removes the WAL and SHM
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err = Open(ctx, Database{Path: path}, c, testStates, WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.UserByEmail(ctx, "modes@example.com"); err != nil {
		t.Fatalf("the tightened database lost its rows: %v", err)
	}
	checkModes("a database that was 0644")
	for _, p := range files {
		if !strings.Contains(logs.String(), "path="+p+" ") {
			t.Errorf("no log line names %s:\n%s", p, &logs)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != len(files) {
		t.Errorf("%d warnings, want one per file:\n%s", n, &logs)
	}
}
