package models

import (
	"testing"

	"whapidesk/internal/testdb"
)

// dbText is everything the database d holds, as text (testdb.Text).
func dbText(t *testing.T, _ *Store, d Database) string {
	t.Helper()
	return testdb.Text(t, testdb.Database(d))
}
