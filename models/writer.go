package models

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
	"gorm.io/gorm"
)

// One writer on SQLite.
//
// SQLite lets one transaction write at a time. With a pool of several
// connections that each may write, concurrent writers queue inside SQLite,
// in its busy handler (sleeps of 1, 2, 5, 10, … ms until the busy
// timeout), which at 50 concurrent clients made writes wait about a second
// and could end in "database is locked". So on SQLite the store has two
// pools on the same WAL file, behind one GORM handle (sqlitePools):
//
//   - the writer: one connection (SetMaxOpenConns(1)), every transaction
//     BEGIN IMMEDIATE. Writers queue in Go for it, first come first served
//     (turn: database/sql hands a freed connection to a random waiter,
//     which at 50 writers made the unlucky ones wait many turns), and
//     never meet each other in SQLite's busy handler.
//   - the readers: a pool of connections that cannot write (PRAGMA
//     query_only), plain deferred transactions. In WAL mode a reader sees
//     the last commit when its statement starts and is never blocked by
//     the writer, so pages are not held up by a long write.
//
// A statement goes to the readers only when it is a plain SELECT outside a
// transaction; everything else — INSERT … RETURNING, UPDATE, DELETE, any
// Exec, every transaction and so every statement inside one — goes to the
// writer. A read after a commit sees the commit (WAL: a statement that
// starts after a commit reads it), so a request reads its own writes.
//
// The one rule this puts on the code: inside a transaction's callback,
// every statement goes through the transaction's tx, never through s.db —
// a write there would wait for the one write connection its own
// transaction holds, for ever. TestNoStoreHandleInsideTransactions checks
// it on the source of this package.
//
// PostgreSQL keeps one pool: its writers wait on row locks, not on one
// lock for the whole database.

// sqliteReaders is the size of the read pool.
const sqliteReaders = 8

// sqliteBusyTimeout is how long a connection of the store waits for
// SQLite's lock held by another connection (the job queue's, another
// process's such as a backup) before "database is locked". The store's own
// writers never wait there: they queue for the one write connection.
const sqliteBusyTimeout = 10 * time.Second

// sqlitePools routes GORM's statements between the write connection and
// the read pool (see above). write and read are each a *sql.DB, or GORM's
// prepared-statement cache over it when gorm.Config.PrepareStmt is on (one
// cache per pool, so that a statement prepared on one is never run on the
// other).
type sqlitePools struct {
	write, read     gorm.ConnPool
	writeDB, readDB *sql.DB

	// turn is the writers' queue: a writer holds the one slot from before
	// it asks for the write connection until it is done with it (a
	// transaction: its commit or rollback). Goroutines blocked sending on a
	// channel are served in the order they came. waiting counts them.
	turn    chan struct{}
	waiting atomic.Int64

	// The checkpointer (see checkpointWAL): ckptDB is its own
	// connection, dirty says the writer has written since its last
	// checkpoint, checkpoints counts those that copied the whole WAL, stop
	// and stopped end it.
	ckptDB        *sql.DB
	dirty         atomic.Bool
	checkpoints   atomic.Int64
	stop, stopped chan struct{}
	stopOnce      sync.Once
}

var (
	_ gorm.ConnPool         = (*sqlitePools)(nil)
	_ gorm.ConnPoolBeginner = (*sqlitePools)(nil)
	_ gorm.GetDBConnector   = (*sqlitePools)(nil)
)

// openSQLitePools opens the write connection, the read pool and the
// checkpointer's connection on the SQLite file at path (which
// sqliteDialector has prepared). The writer is connected first, so the
// file exists and is in WAL mode before a reader opens it.
func openSQLitePools(ctx context.Context, path string, busy time.Duration) (writeDB, readDB, ckptDB *sql.DB, err error) {
	writeDB, err = sql.Open(sqliteWriterDriver(), sqliteDSN(path, busy))
	if err != nil {
		return nil, nil, nil, err
	}
	writeDB.SetMaxOpenConns(1)
	writeDB.SetMaxIdleConns(1)
	writeDB.SetConnMaxIdleTime(0)
	if err := pingWhileBusy(ctx, writeDB, busy); err != nil {
		_ = writeDB.Close()
		return nil, nil, nil, err
	}
	readDB, err = sql.Open("sqlite3", sqliteReadDSN(path, busy))
	if err != nil {
		_ = writeDB.Close()
		return nil, nil, nil, err
	}
	readDB.SetMaxOpenConns(sqliteReaders)
	readDB.SetMaxIdleConns(sqliteReaders)
	readDB.SetConnMaxIdleTime(5 * time.Minute)
	// The checkpointer's connection writes only the database file, from
	// the WAL, never a transaction: the writer's DSN (WAL, busy timeout).
	ckptDB, err = sql.Open("sqlite3", sqliteDSN(path, busy))
	if err != nil {
		_ = readDB.Close()
		_ = writeDB.Close()
		return nil, nil, nil, err
	}
	ckptDB.SetMaxOpenConns(1)
	ckptDB.SetMaxIdleConns(1)
	ckptDB.SetConnMaxIdleTime(0)
	return writeDB, readDB, ckptDB, nil
}

// pingWhileBusy opens db's first connection, trying again while SQLite
// answers "database is locked", for up to busy. Opening a connection runs
// PRAGMA journal_mode=WAL, and when several processes open one new file at
// the same moment (instances started together), SQLite answers the switch
// to WAL with SQLITE_BUSY at once instead of waiting through the busy
// timeout (TestMigrationsRunOnceUnderConcurrentStarts saw it about once in
// 20 runs on a loaded machine). Any other error is returned at once.
func pingWhileBusy(ctx context.Context, db *sql.DB, busy time.Duration) error {
	deadline := time.Now().Add(busy)
	wait := time.Millisecond
	for {
		err := db.PingContext(ctx)
		var se sqlite3.Error
		if err == nil || !errors.As(err, &se) || (se.Code != sqlite3.ErrBusy && se.Code != sqlite3.ErrLocked) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// WAL checkpoints off the write path.
//
// SQLite's automatic checkpoint runs inside the commit that takes the WAL
// past 1000 pages: that commit copies the WAL into the database file and
// fsyncs it, many times a plain commit's time, while every writer queued
// behind it waits (with synchronous NORMAL it is the only fsync a writer
// ever makes). So the store's write connection has it off
// (wal_autocheckpoint=0, set on every connection the writer's driver
// opens), and a goroutine of the store checkpoints instead, on a
// connection of its own: PASSIVE (it takes no lock a writer or a reader
// waits for, and copies what no reader still needs), every
// sqliteCheckpointEvery while the writer has written since the last one.
// The writer starts the WAL over from its beginning once a checkpoint has
// copied all of it, so the file stays about one interval's writes long. A
// crash between checkpoints loses nothing: the next opening recovers the
// WAL. The job queue's own connections keep SQLite's automatic checkpoint.

// sqliteCheckpointEvery is how often the checkpointer runs while there
// are writes.
const sqliteCheckpointEvery = time.Second

// sqliteWriterDriverName is the driver of the store's write connection:
// mattn's, with the automatic checkpoint off on each connection it opens
// (so also on one database/sql reopens after a bad connection).
const sqliteWriterDriverName = "sqlite3_whapidesk_writer"

var registerWriterDriver = sync.OnceFunc(func() {
	sql.Register(sqliteWriterDriverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA wal_autocheckpoint = 0", nil)
		return err
	}})
})

func sqliteWriterDriver() string {
	registerWriterDriver()
	return sqliteWriterDriverName
}

// checkpointWAL is the checkpointer: until stop is closed, every
// sqliteCheckpointEvery, a PASSIVE checkpoint if the writer has written
// since the last. An error (the file gone, a busy lock past the timeout)
// is logged and tried again at the next tick.
func (p *sqlitePools) checkpointWAL(log *slog.Logger) {
	defer close(p.stopped)
	t := time.NewTicker(sqliteCheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		if !p.dirty.Swap(false) {
			continue
		}
		left, err := p.checkpoint(context.Background())
		switch {
		case err != nil:
			p.dirty.Store(true)
			log.Warn("store: WAL checkpoint failed; trying again", "err", err)
		case left > 0: // a reader still needs those frames: next time
			p.dirty.Store(true)
		default:
			p.checkpoints.Add(1)
		}
	}
}

// checkpoint runs one PASSIVE checkpoint on the checkpointer's connection
// and returns the WAL's frames that were left uncopied (busy readers).
func (p *sqlitePools) checkpoint(ctx context.Context) (left int, err error) {
	var busy, log, done int
	if err := p.ckptDB.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done); err != nil {
		return 0, err
	}
	return log - done, nil
}

// sqliteReadDSN is how the store's read pool opens the SQLite file at
// path: query_only (a write on it is an error, never a second writer),
// deferred transactions, the same busy timeout (a reader waits only while
// SQLite recovers the WAL index, rarely). WAL is a property of the file,
// set by the writer.
func sqliteReadDSN(path string, busy time.Duration) string {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(busy.Milliseconds(), 10))
	q.Set("_query_only", "on")
	q.Set("_txlock", "deferred")
	return "file:" + path + "?" + q.Encode()
}

// routeSQLite puts the pools behind db: after gorm.Open, whose dialector
// was given writeDB, so that GORM's own prepared-statement cache (if on)
// wraps the writer alone, and the readers get one of their own.
func routeSQLite(db *gorm.DB, writeDB, readDB, ckptDB *sql.DB, log *slog.Logger) *sqlitePools {
	p := &sqlitePools{write: db.ConnPool, read: readDB, writeDB: writeDB, readDB: readDB, turn: make(chan struct{}, 1), ckptDB: ckptDB}
	if _, ok := db.ConnPool.(*gorm.PreparedStmtDB); ok {
		p.read = gorm.NewPreparedStmtDB(readDB, db.PrepareStmtMaxSize, db.PrepareStmtTTL)
	}
	db.ConnPool = p
	db.Statement.ConnPool = p
	if ckptDB != nil {
		p.stop, p.stopped = make(chan struct{}), make(chan struct{})
		go p.checkpointWAL(log)
	}
	return p
}

// readOnly reports whether query may run on the read pool: a SELECT (GORM
// writes its reads so) that locks nothing. Anything else — an INSERT …
// RETURNING read through Query, a WITH that might write — goes to the
// writer, which can run every statement; the reader's query_only turns a
// misrouted write into an error, never into a second writer.
func readOnly(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	if len(q) < 6 || !strings.EqualFold(q[:6], "SELECT") {
		return false
	}
	return !strings.Contains(strings.ToUpper(q), " FOR UPDATE")
}

// take waits for the writers' turn (or ctx's end); give ends it.
func (p *sqlitePools) take(ctx context.Context) error {
	select {
	case p.turn <- struct{}{}:
		return nil
	default:
	}
	p.waiting.Add(1)
	defer p.waiting.Add(-1)
	select {
	case p.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *sqlitePools) give() {
	p.dirty.Store(true)
	<-p.turn
}

func (p *sqlitePools) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if readOnly(query) {
		return p.read.PrepareContext(ctx, query)
	}
	if err := p.take(ctx); err != nil {
		return nil, err
	}
	defer p.give()
	return p.write.PrepareContext(ctx, query)
}

func (p *sqlitePools) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := p.take(ctx); err != nil {
		return nil, err
	}
	defer p.give()
	return p.write.ExecContext(ctx, query, args...)
}

// QueryContext: a write read through Query (INSERT … RETURNING) gives the
// turn back once the statement has its connection; its rows keep the
// connection until they are closed, and the next writer waits for it in
// database/sql, alone.
func (p *sqlitePools) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if readOnly(query) {
		return p.read.QueryContext(ctx, query, args...)
	}
	if err := p.take(ctx); err != nil {
		return nil, err
	}
	defer p.give()
	return p.write.QueryContext(ctx, query, args...)
}

func (p *sqlitePools) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if readOnly(query) {
		return p.read.QueryRowContext(ctx, query, args...)
	}
	if p.take(ctx) == nil { // else ctx has ended, and so will the statement
		defer p.give()
	}
	return p.write.QueryRowContext(ctx, query, args...)
}

// BeginTx begins a transaction on the write connection (BEGIN IMMEDIATE)
// once it is this writer's turn; the turn passes on at its commit or
// rollback.
func (p *sqlitePools) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	if err := p.take(ctx); err != nil {
		return nil, err
	}
	var tx gorm.Tx
	var err error
	switch b := p.write.(type) {
	case gorm.TxBeginner:
		tx, err = b.BeginTx(ctx, opts)
	case gorm.ConnPoolBeginner:
		var c gorm.ConnPool
		if c, err = b.BeginTx(ctx, opts); err == nil {
			var ok bool
			if tx, ok = c.(gorm.Tx); !ok {
				err = gorm.ErrInvalidTransaction
			}
		}
	default:
		err = gorm.ErrInvalidTransaction
	}
	if err != nil {
		p.give()
		return nil, err
	}
	return &writeTx{Tx: tx, done: sync.OnceFunc(p.give)}, nil
}

// writeTx is a transaction on the write connection that gives the
// writers' turn back when it ends.
type writeTx struct {
	gorm.Tx
	done func()
}

func (t *writeTx) Commit() error {
	defer t.done()
	return t.Tx.Commit()
}

func (t *writeTx) Rollback() error {
	defer t.done()
	return t.Tx.Rollback()
}

// GetDBConn returns the write pool (GORM's db.DB()).
func (p *sqlitePools) GetDBConn() (*sql.DB, error) { return p.writeDB, nil }

// Ping pings both pools.
func (p *sqlitePools) Ping() error {
	return errors.Join(p.writeDB.Ping(), p.readDB.Ping())
}

// close stops the checkpointer and closes the pools; again, it does
// nothing more. (The last
// connection to close checkpoints the whole WAL, as SQLite does.)
func (p *sqlitePools) close() error {
	var errs []error
	if p.ckptDB != nil {
		p.stopOnce.Do(func() { close(p.stop) })
		<-p.stopped
		errs = append(errs, p.ckptDB.Close())
	}
	return errors.Join(append(errs, p.readDB.Close(), p.writeDB.Close())...)
}
