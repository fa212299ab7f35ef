// Package testdb is where a test's database lives: the one place every
// package's tests get a database from, so that pointing the whole suite at
// another database is a change here and nowhere else. It imports nothing of
// ours, so the models package's own tests use it too.
package testdb

import (
	"path/filepath"
	"testing"
)

// Path returns the path of a new, empty SQLite database file for t, in
// t.TempDir() (removed when the test ends). A real file, never ":memory:":
// each pooled connection to ":memory:" would open its own empty database.
func Path(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "test.db")
}
