package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// dbLock is the advisory lock a process holds on a database while it
// serves it (serve, demo) or rotates its key (rotate-key): an exclusive
// flock(2) on the file <db>.lock beside the database, held for the
// process's life. The file says who holds it (the command, its pid and,
// for a server, its address), so that a command refused reads why.
//
// The kernel drops a flock when its process dies, however it dies
// (SIGKILL included): a lock file left behind with no lock held blocks
// nothing. The file itself is never deleted: removing a lock file while
// another process has it open would let two processes each lock a
// different file of the same name.
//
// backup and the other commands do not take it: backup reads one
// consistent snapshot (VACUUM INTO in one read transaction) while the app
// serves; create-admin and apikey make the same small writes the app's
// pages make, and SQLite serialises them.
type dbLock struct {
	f *os.File
}

// lockPath is the lock file of the database at db.
func lockPath(db string) string { return db + ".lock" }

// errLocked is what tryLock answers when another process holds the lock.
type errLocked struct {
	// doing is what the lock file says its holder does, completing
	// "whapidesk is …": "serving on this database (pid 4242, addr
	// 127.0.0.1:8080)"; "" when the file cannot be read.
	doing string
	path  string
}

func (e *errLocked) Error() string {
	if e.doing == "" {
		return "another whapidesk process holds the lock " + e.path
	}
	return "whapidesk is " + e.doing
}

// tryLock takes the lock of the database at db without waiting, and
// writes into the lock file what this process does with it: doing
// completes "whapidesk is …" ("rotating the secret key of this
// database"), and the pid is added. It fails with *errLocked when another
// process holds the lock. The lock file is created (mode 0600) when
// missing; its directory must exist.
func tryLock(db, doing string) (*dbLock, error) {
	path := lockPath(db)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &errLocked{doing: readDoing(path), path: path}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	l := &dbLock{f: f}
	if err := l.describe(doing, ""); err != nil {
		_ = l.release()
		return nil, err
	}
	return l, nil
}

// describe replaces what the lock file says this process does: doing,
// then the pid and, when not "", the address it serves on.
func (l *dbLock) describe(doing, addr string) error {
	if l == nil || l.f == nil {
		return nil // no lock file: PostgreSQL (see lockToServe)
	}
	who := fmt.Sprintf("pid %d", os.Getpid())
	if addr != "" {
		who += ", addr " + addr
	}
	line := doing + " (" + who + ")\n"
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("lock %s: %w", l.f.Name(), err)
	}
	if _, err := l.f.WriteAt([]byte(line), 0); err != nil {
		return fmt.Errorf("lock %s: %w", l.f.Name(), err)
	}
	return nil
}

// release drops the lock (closing the file drops the flock). The file
// stays; see dbLock.
func (l *dbLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// readDoing is the first line of the lock file at path (at most 200
// bytes of it), or "" when it cannot be read.
func readDoing(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, 200)
	n, _ := f.Read(b)
	line, _, _ := strings.Cut(string(b[:n]), "\n")
	return strings.TrimSpace(line)
}
