package models

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"
)

// dbFileMode is the mode of the database file and of its -wal and -shm
// files: the owner's only, like secret.key and the backups. They hold
// every record (secrets sealed, but e-mails, balances, the audit log).
const dbFileMode fs.FileMode = 0o600

// OpenOption adjusts Open.
type OpenOption func(*openConfig)

type openConfig struct {
	log *slog.Logger
	// busyTimeout is SQLite's busy timeout on the store's connections
	// (default sqliteBusyTimeout); tests shorten it.
	busyTimeout time.Duration
}

// WithLogger gives Open the logger it reports to (slog.Default() without
// it): a database whose files were readable by others is tightened at
// open, and says so there.
func WithLogger(log *slog.Logger) OpenOption {
	return func(c *openConfig) { c.log = log }
}

// secureDBFiles makes sure the database file exists with mode 0600 before
// SQLite opens it, and tightens an existing one (and its -wal and -shm)
// that others could read or write, saying so in the log.
//
// SQLite creates a new database file 0644 (less the umask), and on Unix it
// creates the -wal and -shm files with the permissions of the database
// file (os_unix.c: findCreateFileMode for the WAL, unixOpenSharedMemory
// for the SHM). So a database file made 0600 here, before the driver's
// first open, gives three 0600 files, whatever the process umask; the
// umask is not touched (it is process-wide, and other goroutines create
// files meanwhile). models.TestDatabaseFilesAreOwnerOnly checks the modes.
func secureDBFiles(path string, log *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, dbFileMode)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return fmt.Errorf("store: create database file: %w", err)
		}
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("store: create database file: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) && p != path {
			continue
		}
		if err != nil {
			return fmt.Errorf("store: database file: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("store: %s is not a regular file", p)
		}
		if perm := fi.Mode().Perm(); perm&^dbFileMode != 0 {
			if err := os.Chmod(p, dbFileMode); err != nil {
				return fmt.Errorf("store: make %s readable by its owner only: %w", p, err)
			}
			log.Warn("the database file was readable by others: it is now readable by its owner only",
				"path", p, "mode_was", fmt.Sprintf("%#o", perm), "mode", fmt.Sprintf("%#o", dbFileMode))
		}
	}
	return nil
}
