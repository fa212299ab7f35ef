package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// backup writes a copy of the database to the file named, checked before
// it is there (writeBackup). It opens the database as every maintenance
// command does (openExistingStore: never a new one); it does not take
// the serving lock, since it reads one consistent snapshot while the app
// serves.
func backup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	fs := newFlagSet("backup", &cfg, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("backup: name the file to write, e.g. whapidesk backup backups/whapidesk-2026-11-25.db")
	}
	dest := fs.Arg(0)
	if cfg.DatabaseURL != "" {
		return errors.New("backup: the database is PostgreSQL (WHAPIDESK_DATABASE_URL): whapidesk backs up only its SQLite file; " +
			"use pg_dump, e.g. pg_dump -Fc -f whapidesk.dump \"$WHAPIDESK_DATABASE_URL\", and keep the secret key with it")
	}
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("backup: %s already exists: name a new file", dest)
	}
	// Opening the store checks the install and runs pending migrations, so
	// the copy has the schema this version serves.
	store, err := openExistingStore(ctx, "backup", cfg, newLogger(stderr))
	if err != nil {
		return err
	}
	if err := store.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	rows, err := writeBackup(ctx, cfg.DBPath, dest)
	if err != nil {
		return fmt.Errorf("backup: %w; no backup was written", err)
	}
	fmt.Fprintf(stdout, "Wrote %s (checked: integrity ok, %d rows in %d tables, as in the database).\n"+
		"Keep it with the secret key: without the key its tokens cannot be read.\n", dest, rows.total(), len(rows))
	return nil
}

// tableRows is the number of rows of each table.
type tableRows map[string]int64

func (r tableRows) total() int64 {
	var n int64
	for _, c := range r {
		n += c
	}
	return n
}

// backupCopied is a test seam: called with the temporary copy's path after
// it is written, before it is checked.
var backupCopied = func(string) error { return nil }

// writeBackup copies the database at src to dest, which must not exist,
// and returns the row counts of the copy. On any failure nothing is left
// at dest, nor the temporary file.
//
// The copy is taken with SQLite's online backup API inside one read
// transaction on the source, in which the row count of every table is read
// too: the counts and the copy are of the same snapshot, however much the
// serving app writes meanwhile (VACUUM INTO cannot run inside a
// transaction, so its snapshot could not be counted). The copy is made in
// a temporary file beside dest (mode 0600), switched to a rollback
// journal (one self-contained file) and vacuumed (no free pages, so no
// deleted data, is carried over), then checked — PRAGMA integrity_check
// says ok and every table has the snapshot's row count — synced, and
// linked into place, which fails rather than replace a file that appeared
// at dest meanwhile.
func writeBackup(ctx context.Context, src, dest string) (tableRows, error) {
	dir := filepath.Dir(dest)
	tmpFile, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return nil, err
	}
	tmp := tmpFile.Name()
	_ = tmpFile.Close()
	defer removeDB(tmp) // a no-op once the copy is in place

	want, err := copySnapshot(ctx, src, tmp)
	if err != nil {
		return nil, err
	}
	if err := backupCopied(tmp); err != nil {
		return nil, err
	}
	if err := checkCopy(ctx, tmp, want); err != nil {
		return nil, err
	}
	if err := syncFile(tmp); err != nil {
		return nil, err
	}
	if err := os.Link(tmp, dest); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%s appeared while the copy was made", dest)
		}
		return nil, err
	}
	if err := os.Remove(tmp); err != nil {
		_ = os.Remove(dest)
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		_ = os.Remove(dest)
		return nil, err
	}
	return want, nil
}

// sqliteDSN is the data source name of the SQLite file at path with the
// query q.
func sqliteDSN(path string, q url.Values) string {
	return "file:" + path + "?" + q.Encode()
}

// copySnapshot copies the database at src into the (empty) file tmp
// within one read transaction on src, whose row counts it returns.
func copySnapshot(ctx context.Context, src, tmp string) (tableRows, error) {
	// mode=rw: an existing file only (checkInstall saw it), and no -wal or
	// -shm left behind as a read-only connection would leave them.
	q := url.Values{}
	q.Set("mode", "rw")
	q.Set("_busy_timeout", "10000")
	srcDB, err := sql.Open("sqlite3", sqliteDSN(src, q))
	if err != nil {
		return nil, err
	}
	defer srcDB.Close()
	srcConn, err := srcDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", src, err)
	}
	defer srcConn.Close()
	dstDB, err := sql.Open("sqlite3", sqliteDSN(tmp, url.Values{}))
	if err != nil {
		return nil, err
	}
	defer dstDB.Close()
	dstConn, err := dstDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer dstConn.Close()

	if _, err := srcConn.ExecContext(ctx, "BEGIN"); err != nil {
		return nil, fmt.Errorf("read %s: %w", src, err)
	}
	defer func() { _, _ = srcConn.ExecContext(context.Background(), "ROLLBACK") }() // a read transaction: nothing to lose
	rows, err := countRows(ctx, srcConn)
	if err != nil {
		return nil, fmt.Errorf("count the rows of %s: %w", src, err)
	}
	err = dstConn.Raw(func(d any) error {
		return srcConn.Raw(func(s any) error {
			dc, ok1 := d.(*sqlite3.SQLiteConn)
			sc, ok2 := s.(*sqlite3.SQLiteConn)
			if !ok1 || !ok2 {
				return errors.New("not a SQLite connection")
			}
			b, err := dc.Backup("main", sc, "main")
			if err != nil {
				return err
			}
			done, err := b.Step(-1)
			if ferr := b.Finish(); err == nil {
				err = ferr
			}
			if err == nil && !done {
				err = errors.New("the copy did not finish")
			}
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", src, err)
	}
	for _, stmt := range []string{"PRAGMA journal_mode=DELETE", "VACUUM"} {
		if _, err := dstConn.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("copy %s: %s: %w", src, stmt, err)
		}
	}
	return rows, nil
}

// countRows counts the rows of every table conn's database has.
func countRows(ctx context.Context, conn *sql.Conn) (tableRows, error) {
	list, err := conn.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var names []string
	for list.Next() {
		var n string
		if err := list.Scan(&n); err != nil {
			_ = list.Close()
			return nil, err
		}
		names = append(names, n)
	}
	if err := list.Close(); err != nil {
		return nil, err
	}
	if err := list.Err(); err != nil {
		return nil, err
	}
	rows := tableRows{}
	for _, n := range names {
		var c int64
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM "`+strings.ReplaceAll(n, `"`, `""`)+`"`).Scan(&c); err != nil {
			return nil, fmt.Errorf("table %s: %w", n, err)
		}
		rows[n] = c
	}
	return rows, nil
}

// checkCopy opens the copy at path read-only and checks that SQLite finds
// it sound (PRAGMA integrity_check) and that it has the tables and row
// counts want.
func checkCopy(ctx context.Context, path string, want tableRows) error {
	q := url.Values{}
	q.Set("mode", "ro")
	db, err := sql.Open("sqlite3", sqliteDSN(path, q))
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("the copy cannot be opened: %w", err)
	}
	defer conn.Close()
	var problems []string
	res, err := conn.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("the copy failed its integrity check: %w", err)
	}
	for res.Next() {
		var line string
		if err := res.Scan(&line); err != nil {
			_ = res.Close()
			return fmt.Errorf("the copy failed its integrity check: %w", err)
		}
		if line != "ok" && len(problems) < 5 {
			problems = append(problems, line)
		}
	}
	if err := res.Close(); err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("the copy failed its integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("the copy failed its integrity check: %s", strings.Join(problems, "; "))
	}
	got, err := countRows(ctx, conn)
	if err != nil {
		return fmt.Errorf("the copy's rows cannot be counted: %w", err)
	}
	var diff []string
	for name, n := range want {
		if m, ok := got[name]; !ok {
			diff = append(diff, fmt.Sprintf("table %s is missing", name))
		} else if m != n {
			diff = append(diff, fmt.Sprintf("%s has %d rows in the copy, %d in the database", name, m, n))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			diff = append(diff, fmt.Sprintf("table %s is not in the database", name))
		}
	}
	if len(diff) > 0 {
		return fmt.Errorf("the copy does not match the database: %s", strings.Join(diff, "; "))
	}
	return nil
}

// syncFile flushes the file at path to disk.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeDB removes a SQLite file and whatever journal it may have left.
func removeDB(path string) {
	for _, p := range []string{path, path + "-journal", path + "-wal", path + "-shm"} {
		_ = os.Remove(p)
	}
}
