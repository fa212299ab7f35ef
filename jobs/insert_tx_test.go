package jobs_test

import (
	"crypto/rand"
	"database/sql"
	"errors"
	"testing"
	"time"

	"whapidesk/internal/testdb"
	"whapidesk/jobs"
	"whapidesk/models"
	"whapidesk/provision"
)

// A job queued in the caller's transaction (the outbox's way: a mail is
// queued in the transaction of the change that causes it) exists only if
// that transaction commits: rolled back, neither the change nor the job
// is there; committed, both are, and the job runs.
func TestJobInsertedInTheCallersTransactionCommitsWithIt(t *testing.T) {
	db := models.Database(testdb.New(t))
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cipher, err := models.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	store, err := models.Open(t.Context(), db, cipher, provision.States())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	w := &countingWork{}
	q := open(t, db, w, &syncBuffer{}, jobs.Config{NoPeriodic: true})

	// The cause: an audit row, written through the same transaction.
	cause := func(tx *sql.Tx, detail string) error {
		_, err := tx.ExecContext(t.Context(),
			`INSERT INTO audit_events (created_at, action, detail) VALUES (CURRENT_TIMESTAMP, 'test.cause', $1)`, detail)
		return err
	}
	causes := func(detail string) int {
		t.Helper()
		var n int
		if err := store.DB().Raw(`SELECT COUNT(*) FROM audit_events WHERE action = 'test.cause' AND detail = ?`, detail).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}

	abort := errors.New("the change is refused")
	err = store.InSQLTx(t.Context(), func(tx *sql.Tx) error {
		if err := cause(tx, "rolled back"); err != nil {
			return err
		}
		if _, err := q.InsertTx(t.Context(), tx, jobs.SessionsArgs{}, nil); err != nil {
			return err
		}
		return abort
	})
	if !errors.Is(err, abort) {
		t.Fatalf("InSQLTx = %v, want the callback's error", err)
	}
	if n := causes("rolled back"); n != 0 {
		t.Errorf("the rolled-back change is there %d times", n)
	}
	all := func() int {
		t.Helper()
		c, err := q.Counts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, v := range c {
			n += v
		}
		return int(n)
	}
	if n := all(); n != 0 {
		t.Fatalf("%d jobs after the rollback, want none", n)
	}

	err = store.InSQLTx(t.Context(), func(tx *sql.Tx) error {
		if err := cause(tx, "committed"); err != nil {
			return err
		}
		_, err := q.InsertTx(t.Context(), tx, jobs.SessionsArgs{}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := causes("committed"); n != 1 {
		t.Errorf("the committed change is there %d times, want 1", n)
	}
	waitFor(t, 30*time.Second, "the committed job ran", func() bool { return w.sessions.Load() == 1 && settled(t, q) })
	if n := all(); n != 1 {
		t.Errorf("%d jobs after the commit, want the one", n)
	}
	if got := w.sessions.Load(); got != 1 {
		t.Errorf("the job ran %d times, want once", got)
	}
}
