package main

import (
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A malformed or unreachable WHAPIDESK_DATABASE_URL stops serve (and
// every other command) before anything is served or written, with a message
// that names the server without its password.
func TestDatabaseURLThatCannotServeStopsStartWithoutThePassword(t *testing.T) {
	pw := "pw" + rand.Text()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()
	for _, tt := range []struct{ name, url, want string }{
		{"unreachable", "postgres://app:" + pw + "@" + closed + "/whapidesk?sslmode=disable", "cannot reach PostgreSQL at postgres://app:xxxxx@" + closed},
		{"malformed", "postgress://app:" + pw + "@" + closed + "/whapidesk", "postgress://app:xxxxx@" + closed + "/whapidesk is not a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "data", "w.db")
			key := randomKeyBase64(t, 32)
			t.Setenv("WHAPIDESK_SECRET_KEY", key)
			for _, args := range [][]string{
				{"serve", "--addr", "127.0.0.1:0", "--db", db, "--database-url", tt.url},
				{"create-admin", "--db", db, "--database-url", tt.url, "--email", "a@example.com", "--password", "long enough password"},
			} {
				out, errOut, err := runCmd(t, "", args...)
				if err == nil {
					t.Fatalf("%s started on %s", args[0], tt.name)
				}
				all := err.Error() + out + errOut
				if strings.Contains(all, pw) {
					t.Fatalf("%s shows the password: %v\n%s%s", args[0], err, out, errOut)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("%s: %v; want it to say %q", args[0], err, tt.want)
				}
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Fatalf("a SQLite file was made at %s: %v", db, err)
			}
		})
	}
}

// backup on PostgreSQL refuses, saying to use pg_dump, and writes nothing.
func TestBackupOnPostgresSaysUsePgDump(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "copy.db")
	t.Setenv("WHAPIDESK_SECRET_KEY", randomKeyBase64(t, 32))
	_, _, err := runCmd(t, "", "backup", "--database-url", "postgres://app:secret@db.example/whapidesk", dest)
	if err == nil || !strings.Contains(err.Error(), "use pg_dump") || strings.Contains(err.Error(), "secret@") {
		t.Fatalf("backup on PostgreSQL: %v", err)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("backup wrote %s: %v", dest, err)
	}
}
