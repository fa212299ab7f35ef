package models

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"whapidesk/internal/testdb"
)

// writersFixture: customers on a plan with room for every channel the
// test reserves.
func writersFixture(t *testing.T, s *Store, customers int) []*User {
	t.Helper()
	ctx := context.Background()
	p, err := s.CreatePlan(ctx, SystemActor, PlanInput{Name: "Writers", MaxChannels: 1000, DaysPerPeriod: 30, PeriodDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	var us []*User
	for i := range customers {
		u, err := s.CreateUser(ctx, NewUser{Email: fmt.Sprintf("w%d@example.com", i), Name: "W", Password: "correct horse battery staple", Role: RoleCustomer})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ActivatePlan(ctx, SystemActor, u.ID, p.ID); err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	return us
}

// writeAtOnce starts n writers — every other one an admin's credit of 7
// days, the rest a channel reservation — spread over us, each released by
// start, and returns their errors on a channel that closes when all are
// done.
func writeAtOnce(ctx context.Context, s *Store, us []*User, n int, start <-chan struct{}) <-chan error {
	out := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		u := us[i%len(us)]
		wg.Go(func() {
			<-start
			var err error
			if i%2 == 0 {
				err = s.CreditDays(ctx, SystemActor, u.ID, 7, LedgerAdminCredit, fmt.Sprintf("credit %d", i))
			} else {
				_, _, err = s.ReserveChannel(ctx, SystemActor, u.ID, fmt.Sprintf("Line %d", i), "")
			}
			if err != nil {
				err = fmt.Errorf("writer %d: %w", i, err)
			}
			out <- err
		})
	}
	go func() { wg.Wait(); close(out) }()
	return out
}

// checkWriters checks what n writeAtOnce writers leave: every balance the
// plan's credit plus the admin credits, equal to its ledger sum, and every
// reservation a pending channel.
func checkWriters(t *testing.T, s *Store, us []*User, n int) {
	t.Helper()
	ctx := context.Background()
	if bad, err := s.CheckLedger(ctx); err != nil || len(bad) > 0 {
		t.Fatalf("balances that differ from their ledger: %+v (%v)", bad, err)
	}
	for k, u := range us {
		credits, reserves := 0, 0
		for i := range n {
			if i%len(us) != k {
				continue
			}
			if i%2 == 0 {
				credits++
			} else {
				reserves++
			}
		}
		got, err := s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(30*1000 + 7*credits); got.DayBalance != want {
			t.Errorf("customer %d: balance %d, want %d", k, got.DayBalance, want)
		}
		chs, err := s.ChannelsByUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(chs) != reserves {
			t.Errorf("customer %d: %d channels, want %d", k, len(chs), reserves)
		}
	}
}

// Fifty writers at once — credits of days and channel reservations, each a
// transaction with a conditional update and its ledger or journal row —
// all succeed: none meets "database is locked" (SQLITE_BUSY), and every
// balance equals its ledger sum. On SQLite they take turns on the one
// write connection; on PostgreSQL they wait on row locks.
func TestFiftyConcurrentWritersAllSucceed(t *testing.T) {
	s, _ := newTestStore(t)
	us := writersFixture(t, s, 5)
	const n = 50
	start := make(chan struct{})
	errs := writeAtOnce(context.Background(), s, us, n, start)
	close(start)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	checkWriters(t, s, us, n)
}

// While one transaction holds SQLite's write lock far longer than the busy
// timeout, fifty more writers queue for the write connection instead of
// failing with "database is locked" (with a pool of several writing
// connections they met SQLite's busy timeout and failed), and reads —
// a customer, a channel list, a page of the ledger — are answered from the
// read pool meanwhile, seeing the last commit. When the long transaction
// ends, every queued write goes through.
func TestWritersQueueAndReadsGoOnDuringALongWrite(t *testing.T) {
	testdb.SQLiteOnly(t, "one write connection is SQLite's")
	c, err := NewCipher(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	const busy = 20 * time.Millisecond
	s, err := Open(context.Background(), Database(testdb.New(t)), c, testStates, func(o *openConfig) { o.busyTimeout = busy })
	if err != nil {
		t.Fatal(err)
	}
	s.SetPasswordCost(bcrypt.MinCost)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	us := writersFixture(t, s, 5)
	if err := s.CreditDays(ctx, SystemActor, us[0].ID, 5, LedgerAdminCredit, "before"); err != nil {
		t.Fatal(err)
	}

	// The long write: it holds the write connection (and SQLite's write
	// lock) until release is closed.
	held, release := make(chan struct{}), make(chan struct{})
	longDone := make(chan error, 1)
	go func() {
		longDone <- s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec(`UPDATE settings SET updated_at = updated_at WHERE id = 1`).Error; err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-longDone:
		t.Fatalf("the long write ended early: %v", err)
	}

	const n = 50
	start := make(chan struct{})
	errs := writeAtOnce(ctx, s, us, n, start)
	close(start)
	// Reads meanwhile: answered, and they see the commit before the long
	// write began. (The deadline turns a read blocked behind the writer
	// into a failure rather than a hung test.)
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u, err := s.UserByID(rctx, us[0].ID)
	if err != nil {
		t.Fatalf("a read during a long write: %v", err)
	}
	if u.DayBalance != 30*1000+5 {
		t.Fatalf("a read during a long write sees balance %d, want %d", u.DayBalance, 30*1000+5)
	}
	if _, err := s.Ledger(rctx, us[0].ID, 10, 0); err != nil {
		t.Fatalf("a read during a long write: %v", err)
	}
	// Wait until all fifty writers queue for the write connection, failing
	// on any that ends first (through or refused) while the lock is held.
	// The deadline only bounds a broken run.
	deadline := time.Now().Add(time.Minute)
	for s.pools.waiting.Load() < n {
		select {
		case err := <-errs:
			t.Fatalf("a write ended while another transaction held the write lock: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writers are waiting for the write connection", s.pools.waiting.Load(), n)
		}
		time.Sleep(time.Millisecond) // polling a condition, not a stand-in for one
	}
	close(release)
	if err := <-longDone; err != nil {
		t.Fatal(err)
	}
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	got, err := s.UserByID(ctx, us[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.DayBalance <= u.DayBalance {
		t.Errorf("a read after the writes committed sees balance %d, not more than %d", got.DayBalance, u.DayBalance)
	}
	// The credits of "before" are in the ledger too.
	if bad, err := s.CheckLedger(ctx); err != nil || len(bad) > 0 {
		t.Fatalf("balances that differ from their ledger: %+v (%v)", bad, err)
	}
}

// The read pool cannot write: a write that reached it by mistake is an
// error, never a second writer beside the write connection.
func TestReadPoolCannotWrite(t *testing.T) {
	testdb.SQLiteOnly(t, "the read pool is SQLite's")
	s, _ := newTestStore(t)
	_, err := s.pools.readDB.Exec(`UPDATE settings SET updated_at = updated_at WHERE id = 1`)
	if err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Fatalf("a write on the read pool: %v, want a read-only error", err)
	}
	// And a statement is sent to the readers only when it is a plain read.
	for q, want := range map[string]bool{
		"SELECT * FROM users":                                         true,
		"  select count(*) from channels":                             true,
		"(SELECT 1)":                                                  true,
		"SELECT id FROM users WHERE id IN (1) FOR UPDATE":             false,
		"INSERT INTO login_attempts (kind) VALUES ('x') RETURNING id": false,
		"UPDATE users SET name = 'x'":                                 false,
		"WITH x AS (SELECT 1) SELECT * FROM x":                        false,
		"DELETE FROM sessions":                                        false,
	} {
		if got := readOnly(q); got != want {
			t.Errorf("readOnly(%q) = %v, want %v", q, got, want)
		}
	}
}

// Inside a transaction every statement goes through the transaction's tx:
// on SQLite a statement on the store's handle (s.db) there would wait for
// the one write connection its own transaction holds — for ever. This
// checks the package's source: no function that is given a *gorm.DB
// (a transaction's callback, or a helper such as addDays, audit, settle)
// uses s.db, directly or through a Store method that does.
func TestNoStoreHandleInsideTransactions(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	type method struct {
		recv string
		body *ast.BlockStmt
	}
	methods := map[string]method{}
	var parsed []*ast.File
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, af)
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || fd.Body == nil || len(fd.Recv.List[0].Names) == 0 {
				continue
			}
			if star, ok := fd.Recv.List[0].Type.(*ast.StarExpr); ok {
				if id, ok := star.X.(*ast.Ident); ok && id.Name == "Store" {
					methods[fd.Name.Name] = method{recv: fd.Recv.List[0].Names[0].Name, body: fd.Body}
				}
			}
		}
	}
	// uses reports the first use of recv.db, or of a call recv.M(…) of a
	// method in tainted, in n.
	uses := func(n ast.Node, recv string, tainted map[string]bool) (string, token.Pos) {
		var what string
		var pos token.Pos
		ast.Inspect(n, func(n ast.Node) bool {
			if what != "" {
				return false
			}
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == recv {
				if sel.Sel.Name == "db" || tainted[sel.Sel.Name] {
					what, pos = recv+"."+sel.Sel.Name, sel.Pos()
				}
			}
			return true
		})
		return what, pos
	}
	// The Store methods that reach s.db, directly or through each other.
	tainted := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for name, m := range methods {
			if !tainted[name] {
				if w, _ := uses(m.body, m.recv, tainted); w != "" {
					tainted[name], changed = true, true
				}
			}
		}
	}
	takesDB := func(ft *ast.FuncType) bool {
		for _, p := range ft.Params.List {
			if star, ok := p.Type.(*ast.StarExpr); ok {
				if sel, ok := star.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "DB" {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == "gorm" {
						return true
					}
				}
			}
		}
		return false
	}
	checked := 0
	for _, af := range parsed {
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			recv := "s"
			if fd.Recv != nil && len(fd.Recv.List[0].Names) > 0 {
				recv = fd.Recv.List[0].Names[0].Name
			}
			check := func(body ast.Node, what string) {
				checked++
				if w, pos := uses(body, recv, tainted); w != "" {
					t.Errorf("%s: %s is given a transaction but uses %s (use the transaction's tx)", fset.Position(pos), what, w)
				}
			}
			if takesDB(fd.Type) {
				check(fd.Body, fd.Name.Name)
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if fl, ok := n.(*ast.FuncLit); ok && takesDB(fl.Type) {
					check(fl.Body, "a callback in "+fd.Name.Name)
					return false
				}
				return true
			})
		}
	}
	if checked < 30 || !tainted["CreditDays"] {
		t.Fatalf("the check found %d functions given a transaction, and tainted %v: it no longer reads this package", checked, tainted)
	}
}

// With GORM's prepared-statement cache on (gorm.Config.PrepareStmt), each
// pool keeps a cache of its own: a statement prepared for a read outside a
// transaction (on the read pool) and then run inside one (on the write
// connection) works, and reads still go on while a transaction holds the
// writer.
func TestRoutingWithPreparedStatements(t *testing.T) {
	testdb.SQLiteOnly(t, "the pools are SQLite's")
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "prep.db")
	writeDB, readDB, ckptDB, err := openSQLitePools(ctx, path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	db, err := gorm.Open(sqlite.New(sqlite.Config{Conn: writeDB}), &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true, PrepareStmt: true})
	if err != nil {
		t.Fatal(err)
	}
	p := routeSQLite(db, writeDB, readDB, ckptDB, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = p.close() })
	if err := db.Exec(`CREATE TABLE n (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)`).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO n (id, v) VALUES (1, 1)`).Error; err != nil {
		t.Fatal(err)
	}
	read := func(q *gorm.DB) (int64, error) {
		var v int64
		err := q.Raw(`SELECT v FROM n WHERE id = ?`, 1).Scan(&v).Error
		return v, err
	}
	if v, err := read(db.WithContext(ctx)); err != nil || v != 1 {
		t.Fatalf("read outside a transaction: %d, %v", v, err)
	}
	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec(`UPDATE n SET v = v + 1 WHERE id = 1`).Error; err != nil {
				return err
			}
			// The same SELECT, cached from the read pool, now on the writer:
			// it sees the transaction's own write.
			if v, err := read(tx); err != nil || v != 2 {
				return fmt.Errorf("read inside the transaction: %d, %v", v, err)
			}
			close(held)
			<-release
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("the transaction ended early: %v", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if v, err := read(db.WithContext(rctx)); err != nil || v != 1 {
		t.Fatalf("read while a transaction holds the writer: %d, %v (want the last commit, 1)", v, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, err := read(db.WithContext(ctx)); err != nil || v != 2 {
		t.Fatalf("read after the commit: %d, %v", v, err)
	}
}

// The write connection never checkpoints the WAL in a commit (its
// automatic checkpoint is off); the store's checkpointer does, in the
// background, so the WAL file stays about one round of writes long however
// much is written, and Close stops it.
func TestBackgroundCheckpointKeepsTheWALShort(t *testing.T) {
	testdb.SQLiteOnly(t, "the WAL and its checkpoints are SQLite's")
	s, db := newTestStore(t)
	ctx := context.Background()
	var auto int
	if err := s.db.WithContext(ctx).Raw(`PRAGMA wal_autocheckpoint`).Row().Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("the write connection's wal_autocheckpoint is %d (%v), want 0", auto, err)
	}
	if err := s.db.Exec(`CREATE TABLE scratch (id INTEGER PRIMARY KEY, v BLOB NOT NULL)`).Error; err != nil {
		t.Fatal(err)
	}
	const rounds, perRound, blob = 8, 32, 64 << 10 // 2 MiB a round, 16 MiB in all
	for r := range rounds {
		before := s.pools.checkpoints.Load()
		for range perRound {
			if err := s.db.Exec(`INSERT INTO scratch (v) VALUES (zeroblob(?))`, blob).Error; err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(time.Minute)
		for s.pools.checkpoints.Load() == before {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no checkpoint of the WAL within a minute of the writes", r)
			}
			time.Sleep(10 * time.Millisecond) // polling for the condition
		}
	}
	// One more write starts the WAL over once the last round is copied.
	if err := s.db.Exec(`DELETE FROM scratch`).Error; err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(db.Path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if written := int64(rounds * perRound * blob); fi.Size() > written/2 {
		t.Fatalf("the WAL is %d bytes after %d written in %d checkpointed rounds: it is not being reused", fi.Size(), written, rounds)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.pools.stopped:
	default:
		t.Fatal("Close returned with the checkpointer still running")
	}
}
