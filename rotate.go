package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"whapidesk/models"
)

// rotateKey re-encrypts every secret at rest under a new secret key:
//
//  1. the new key is generated (or read from --new-key-file);
//  2. with a key file, it is first staged beside it as secret.key.new, so
//     a rotation interrupted at any point resumes with the same key;
//  3. every secret moves to the new key in one transaction
//     (Store.RotateSecrets; values already under the new key are left);
//  4. with a key file, the old key is kept as secret.key.old-<key id> and
//     secret.key is replaced atomically; with WHAPIDESK_SECRET_KEY, the new
//     key is printed alone on the last line, for the admin to put in place.
//
// The app must be stopped while it runs: a running server keeps sealing with
// the old key. It refuses while a server holds the database's lock
// (dbLock). Sessions end, since their signing key derives from the key.
func rotateKey(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg Config
	cfg.SecretKey = os.Getenv("WHAPIDESK_SECRET_KEY")
	fs := newFlagSet("rotate-key", &cfg, stderr)
	newKeyFile := fs.String("new-key-file", "", "file holding the new key (base64 of 32 bytes); generated when omitted")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("rotate-key: unexpected argument %q", fs.Arg(0))
	}
	if err := checkInstall("rotate-key", cfg); err != nil {
		return err
	}
	// A server must not run meanwhile: it keeps sealing with the old key,
	// and once the key file changes it can no longer read the tokens. It
	// holds the database's lock while it serves (lockToServe); holding it
	// here also keeps a server from starting during the rotation.
	lock, err := tryLock(cfg.DBPath, "rotating the secret key of this database")
	var held *errLocked
	if errors.As(err, &held) {
		return fmt.Errorf("rotate-key: %w: stop it first; nothing was changed", err)
	}
	if err != nil {
		return fmt.Errorf("rotate-key: %w", err)
	}
	defer lock.release()
	fromEnv := cfg.SecretKey != ""
	keyPath := filepath.Join(filepath.Dir(cfg.DBPath), "secret.key")
	stagedPath := keyPath + ".new"
	var oldKeyText []byte
	if !fromEnv {
		var err error
		// openStore would create a fresh key file: with secrets in the
		// database that would make them unreadable, so refuse instead.
		if oldKeyText, err = os.ReadFile(keyPath); err != nil {
			return fmt.Errorf("rotate-key: WHAPIDESK_SECRET_KEY is not set and the key file cannot be read: %w", err)
		}
	}

	var newKey []byte
	if *newKeyFile != "" {
		b, err := os.ReadFile(*newKeyFile)
		if err != nil {
			return fmt.Errorf("rotate-key: --new-key-file: %w", err)
		}
		if newKey, err = models.ParseKey(string(b)); err != nil {
			return fmt.Errorf("rotate-key: --new-key-file %s: %w", *newKeyFile, err)
		}
	}
	resuming := false
	if !fromEnv {
		b, err := os.ReadFile(stagedPath)
		switch {
		case err == nil:
			staged, err := models.ParseKey(string(b))
			if err != nil {
				return fmt.Errorf("rotate-key: %s (left by an interrupted rotation): %w", stagedPath, err)
			}
			if newKey != nil && !bytes.Equal(newKey, staged) {
				return fmt.Errorf("rotate-key: an interrupted rotation left %s with another key: finish it first (run rotate-key without --new-key-file)", stagedPath)
			}
			newKey, resuming = staged, true
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("rotate-key: %w", err)
		}
	}
	if newKey == nil {
		newKey = make([]byte, models.KeySize)
		if _, err := rand.Read(newKey); err != nil {
			return fmt.Errorf("rotate-key: %w", err)
		}
	}
	next, err := models.NewCipher(newKey)
	if err != nil {
		return fmt.Errorf("rotate-key: %w", err)
	}
	newKeyText := base64.StdEncoding.EncodeToString(newKey)

	store, err := openExistingStore(ctx, "rotate-key", cfg, newLogger(stderr))
	if err != nil {
		return err
	}
	oldID := store.Cipher().KeyID()
	if oldID == next.KeyID() {
		_ = store.Close()
		return errors.New("rotate-key: the new key is the current key")
	}
	if !fromEnv && !resuming {
		if err := writeFileAtomic(stagedPath, []byte(newKeyText+"\n")); err != nil {
			_ = store.Close()
			return fmt.Errorf("rotate-key: stage the new key: %w", err)
		}
	}
	if resuming {
		fmt.Fprintf(stdout, "Resuming an interrupted rotation to key %s (%s).\n", next.KeyID(), stagedPath)
	}
	n, err := store.RotateSecrets(ctx, next)
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("rotate-key: nothing changed, the current key still reads every secret: %w", err)
	}
	fmt.Fprintf(stdout, "Re-encrypted %d secrets: key %s → %s.\n", n, oldID, next.KeyID())

	if fromEnv {
		fmt.Fprintf(stdout, "Every secret is now under the new key. Set WHAPIDESK_SECRET_KEY to the key below before you start\n"+
			"whapidesk again (the old key no longer reads them; keep it only for backups made before now).\n"+
			"Everyone signs in again: sessions were signed with the old key. The new key, alone on the next line:\n%s\n", newKeyText)
		return nil
	}
	oldPath := keyPath + ".old-" + oldID
	if err := writeFileAtomic(oldPath, oldKeyText); err != nil {
		return fmt.Errorf("rotate-key: keep the old key: %w (the new key is in %s; run rotate-key again to finish)", err, stagedPath)
	}
	if err := os.Rename(stagedPath, keyPath); err != nil {
		return fmt.Errorf("rotate-key: put the new key in place: %w (run rotate-key again to finish)", err)
	}
	if err := syncDir(filepath.Dir(keyPath)); err != nil {
		return fmt.Errorf("rotate-key: %w", err)
	}
	fmt.Fprintf(stdout, "The new key is in %s. The old one is kept in %s: keep it as long as you keep backups made\n"+
		"before now (they need it), then delete it. Start whapidesk again; everyone signs in again, since sessions\n"+
		"were signed with the old key.\n", keyPath, oldPath)
	return nil
}

// writeFileAtomic writes data to path with mode 0600 through a temporary
// file in the same directory, synced and renamed into place.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename, a no-op
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
