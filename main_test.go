package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/testenv"
	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// TestMain clears the environment the commands read, so that the tests do
// not depend on the shell running them: without WHAPIDESK_SECRET_KEY the
// commands use a key file beside the database. Tests that set a variable use
// t.Setenv and are not parallel; the others are.
func TestMain(m *testing.M) {
	for _, s := range settings { // every variable the commands read
		_ = os.Unsetenv(s.env)
	}
	os.Exit(m.Run())
}

// runCmd runs the app with args and stdin, and returns what it printed.
func runCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut testenv.LogBuffer
	err = run(t.Context(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// mustRun runs a command that must succeed and returns its stdout.
func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := runCmd(t, stdin, args...)
	if err != nil {
		t.Fatalf("run %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, out, errOut)
	}
	return out
}

// openTestStore opens the database the way the commands do (same secret key
// source) and closes it when the test ends.
func openTestStore(t *testing.T, dbPath string) *models.Store {
	t.Helper()
	cfg := Config{DBPath: dbPath, SecretKey: os.Getenv("WHAPIDESK_SECRET_KEY")}
	store, err := openStore(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("openStore: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return store
}

// dirBytes returns the contents of every file in dir (the database, its WAL
// and shared-memory files, the key file…), concatenated.
func dirBytes(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		all = append(all, b...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func fileNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func randomKeyBase64(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

const adminPassword = "correct-horse-battery"

func TestHelpListsEveryCommand(t *testing.T) {
	t.Parallel()
	commands := []string{"serve", "demo", "create-admin", "apikey create", "apikey list", "apikey revoke", "backup", "rotate-key", "doctor"}
	tests := []struct {
		args    []string
		wantErr error
		stdout  bool // usage on stdout (else stderr)
	}{
		{args: []string{"-h"}, wantErr: flag.ErrHelp},
		{args: []string{"--help"}, wantErr: flag.ErrHelp},
		{args: []string{"help"}, stdout: true},
		{args: []string{"serve", "-h"}, wantErr: flag.ErrHelp},
		{args: []string{"demo", "-h"}, wantErr: flag.ErrHelp},
		{args: []string{"create-admin", "-h"}, wantErr: flag.ErrHelp},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, err := runCmd(t, "", tt.args...)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			help := errOut
			if tt.stdout {
				help = out
			}
			for _, c := range commands {
				if !strings.Contains(help, "whapidesk "+c) && !strings.Contains(help, "whapidesk ["+c+"]") {
					t.Errorf("help does not list %q:\n%s", c, help)
				}
			}
			for _, env := range []string{"WHAPIDESK_SECRET_KEY", "WHAPIDESK_DB", "WHAPI_MANAGER_URL"} {
				if !strings.Contains(help, env) {
					t.Errorf("help does not mention %s", env)
				}
			}
		})
	}
}

func TestBadCommandsFail(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "w.db")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"apikey without subcommand", []string{"apikey"}, "say create, list or revoke"},
		{"apikey unknown subcommand", []string{"apikey", "rotate", "--db", db}, `unknown subcommand "rotate"`},
		{"unknown flag", []string{"serve", "--no-such-flag"}, "no-such-flag"},
		{"create-admin without email", []string{"create-admin", "--db", db, "--password", adminPassword}, "--email is required"},
		{"apikey create without email", []string{"apikey", "create", "--db", db}, "--email is required"},
		{"apikey revoke without id", []string{"apikey", "revoke", "--db", db}, "--id is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCmd(t, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("unknown command prints usage", func(t *testing.T) {
		_, errOut, _ := runCmd(t, "", "frobnicate")
		if !strings.Contains(errOut, "Usage:") {
			t.Errorf("stderr has no usage:\n%s", errOut)
		}
	})
}

func TestCreateAdmin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "w.db")
	makeInstall(t, db)

	out := mustRun(t, "", "create-admin", "--db", db, "--email", "  Admin@Example.com ", "--password", adminPassword, "--name", "Ada")
	if !strings.Contains(out, "Created admin admin@example.com") {
		t.Errorf("stdout = %q, want the created admin's lower-cased email", out)
	}

	t.Run("key file beside the database, mode 0600", func(t *testing.T) {
		fi, err := os.Stat(filepath.Join(dir, "secret.key"))
		if err != nil {
			t.Fatalf("no key file: %v", err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("secret.key mode = %o, want 600", mode)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "secret.key"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := models.ParseKey(string(raw)); err != nil {
			t.Errorf("secret.key does not hold a key: %v", err)
		}
	})

	t.Run("password stored hashed", func(t *testing.T) {
		if bytes.Contains(dirBytes(t, dir), []byte(adminPassword)) {
			t.Fatal("the data directory contains the password in clear")
		}
	})

	t.Run("admin in the store, email lower-cased", func(t *testing.T) {
		store := openTestStore(t, db)
		u, err := store.UserByEmail(t.Context(), "admin@example.com")
		if err != nil {
			t.Fatalf("UserByEmail: %v", err)
		}
		if u.Email != "admin@example.com" || u.Role != models.RoleAdmin || u.Name != "Ada" {
			t.Errorf("user = %q %q %q, want admin@example.com admin Ada", u.Email, u.Role, u.Name)
		}
		if u.PasswordHash == adminPassword || !strings.HasPrefix(u.PasswordHash, "$2") {
			t.Errorf("password hash %q is not a bcrypt hash", u.PasswordHash)
		}
		if _, err := store.Authenticate(t.Context(), "admin@example.com", adminPassword); err != nil {
			t.Errorf("Authenticate with the password: %v", err)
		}
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
	})

	keyBefore, err := os.ReadFile(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}

	fails := []struct {
		name    string
		stdin   string
		args    []string
		wantErr string
	}{
		{"same email again", "", []string{"--email", "ADMIN@example.COM", "--password", "another-password-1"}, "already exists"},
		{"short password", "", []string{"--email", "short@example.com", "--password", "short-pw1"}, "at least 10 characters"},
		{"short password on stdin", "short\n", []string{"--email", "short@example.com"}, "at least 10 characters"},
		{"common password", "", []string{"--email", "common@example.com", "--password", "Password12"}, "most common"},
		{"ten spaces on stdin", "          \n", []string{"--email", "blank@example.com"}, "only spaces"},
		{"password with the email's name", "", []string{"--email", "ada.lovelace@example.com", "--password", "ada.lovelace-1815"}, "e-mail"},
		{"bad email", "", []string{"--email", "not-an-email", "--password", adminPassword}, "valid email"},
		{"empty stdin", "", []string{"--email", "empty@example.com"}, "no password given"},
		{"blank line on stdin", "\n", []string{"--email", "empty@example.com"}, "no password given"},
	}
	for _, tt := range fails {
		t.Run("fails: "+tt.name, func(t *testing.T) {
			args := append([]string{"create-admin", "--db", db}, tt.args...)
			out, errOut, err := runCmd(t, tt.stdin, args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(out, "Created") {
				t.Errorf("stdout says created: %q", out)
			}
			for _, pw := range []string{"short-pw1", "another-password-1", "Password12", "ada.lovelace-1815"} {
				if strings.Contains(err.Error()+out+errOut, pw) {
					t.Errorf("output echoes the password %q", pw)
				}
			}
		})
	}

	t.Run("password from stdin", func(t *testing.T) {
		out := mustRun(t, "stdin-password-1\n", "create-admin", "--db", db, "--email", "ops@example.com")
		if strings.Contains(out, "stdin-password-1") {
			t.Errorf("stdout echoes the password: %q", out)
		}
		store := openTestStore(t, db)
		if _, err := store.Authenticate(t.Context(), "ops@example.com", "stdin-password-1"); err != nil {
			t.Errorf("Authenticate with the password from stdin (newline trimmed): %v", err)
		}
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("only the successful creations are stored, key file unchanged", func(t *testing.T) {
		store := openTestStore(t, db)
		n, err := store.CountAdmins(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("CountAdmins = %d, want 2", n)
		}
		for _, email := range []string{"short@example.com", "empty@example.com", "common@example.com", "blank@example.com", "ada.lovelace@example.com"} {
			if _, err := store.UserByEmail(t.Context(), email); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("UserByEmail(%s) = %v, want ErrNotFound", email, err)
			}
		}
		keyAfter, err := os.ReadFile(filepath.Join(dir, "secret.key"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(keyBefore, keyAfter) {
			t.Error("the key file changed between commands")
		}
	})
}

var createdKeyID = regexp.MustCompile(`Created API key (\d+) \(`)

func TestAPIKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "w.db")
	makeInstall(t, db)
	mustRun(t, "", "create-admin", "--db", db, "--email", "admin@example.com", "--password", adminPassword)

	out := mustRun(t, "", "apikey", "create", "--db", db, "--email", "Admin@Example.com", "--name", "ci")
	key := lastLine(out)
	if !strings.HasPrefix(key, models.APIKeyPrefix) || strings.ContainsAny(key, " \t…") || len(key) < 40 {
		t.Fatalf("last line %q is not a key alone\nstdout:\n%s", key, out)
	}
	if !strings.HasSuffix(out, key+"\n") {
		t.Errorf("stdout does not end with the key and a newline: %q", out)
	}
	if strings.Count(out, key) != 1 {
		t.Errorf("the key is printed %d times, want once", strings.Count(out, key))
	}
	m := createdKeyID.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("stdout has no key id: %q", out)
	}
	id := m[1]

	t.Run("key authenticates its user", func(t *testing.T) {
		store := openTestStore(t, db)
		u, err := store.UserByAPIKey(t.Context(), key)
		if err != nil {
			t.Fatalf("UserByAPIKey: %v", err)
		}
		if u.Email != "admin@example.com" {
			t.Errorf("UserByAPIKey = %s, want admin@example.com", u.Email)
		}
		if _, err := store.UserByAPIKey(t.Context(), key[:len(key)-1]+"x"); err == nil && !strings.HasSuffix(key, "x") {
			t.Error("a changed key authenticates")
		}
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("key not stored in clear", func(t *testing.T) {
		all := dirBytes(t, dir)
		if bytes.Contains(all, []byte(key)) || bytes.Contains(all, []byte(key[len(models.APIKeyPrefix):])) {
			t.Fatal("the data directory contains the API key in clear")
		}
	})

	prefix := key[:len(models.APIKeyPrefix)+6]
	for _, args := range [][]string{
		{"apikey", "list", "--db", db},
		{"apikey", "list", "--db", db, "--email", "admin@example.com"},
	} {
		t.Run(strings.Join(args[:2], " ")+" "+strconv.Itoa(len(args)), func(t *testing.T) {
			out, errOut, err := runCmd(t, "", args...)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if !strings.Contains(out, prefix) || !strings.Contains(out, "ci") || !strings.Contains(out, "active") {
				t.Errorf("list does not show the key's prefix %q, name and state:\n%s", prefix, out)
			}
			if strings.Contains(out+errOut, key) || strings.Contains(out+errOut, key[:len(prefix)+4]) {
				t.Errorf("list shows more than the prefix of the key:\n%s", out)
			}
		})
	}

	t.Run("list for an unknown user fails", func(t *testing.T) {
		_, _, err := runCmd(t, "", "apikey", "list", "--db", db, "--email", "nobody@example.com")
		if err == nil || !strings.Contains(err.Error(), "no user") {
			t.Fatalf("err = %v, want no user", err)
		}
	})

	t.Run("create for an unknown user fails", func(t *testing.T) {
		out, _, err := runCmd(t, "", "apikey", "create", "--db", db, "--email", "nobody@example.com")
		if err == nil || !strings.Contains(err.Error(), "no user nobody@example.com") {
			t.Fatalf("err = %v, want no user nobody@example.com", err)
		}
		if strings.Contains(out, models.APIKeyPrefix) {
			t.Errorf("a key was printed: %q", out)
		}
	})

	t.Run("revoke", func(t *testing.T) {
		out := mustRun(t, "", "apikey", "revoke", "--db", db, "--id", id)
		if !strings.Contains(out, "Revoked API key "+id) {
			t.Errorf("stdout = %q", out)
		}
		store := openTestStore(t, db)
		if u, err := store.UserByAPIKey(t.Context(), key); !errors.Is(err, models.ErrInvalidAPIKey) {
			t.Errorf("UserByAPIKey after revoke = %v, %v; want ErrInvalidAPIKey", u, err)
		}
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
		list := mustRun(t, "", "apikey", "list", "--db", db)
		if !strings.Contains(list, "revoked") {
			t.Errorf("list does not show the key revoked:\n%s", list)
		}
		for _, badID := range []string{id, "999"} {
			if _, _, err := runCmd(t, "", "apikey", "revoke", "--db", db, "--id", badID); err == nil {
				t.Errorf("revoke --id %s succeeded, want an error", badID)
			}
		}
	})
}

func TestSecretKeyFromEnvironment(t *testing.T) {
	t.Run("valid key: no key file", func(t *testing.T) {
		t.Setenv("WHAPIDESK_SECRET_KEY", randomKeyBase64(t, models.KeySize))
		dir := t.TempDir()
		db := filepath.Join(dir, "w.db")
		makeInstall(t, db)
		mustRun(t, "", "create-admin", "--db", db, "--email", "admin@example.com", "--password", adminPassword)
		if _, err := os.Stat(filepath.Join(dir, "secret.key")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stat secret.key = %v, want not exist", err)
		}
		out := mustRun(t, "", "apikey", "create", "--db", db, "--email", "admin@example.com")
		store := openTestStore(t, db)
		if _, err := store.UserByAPIKey(t.Context(), lastLine(out)); err != nil {
			t.Errorf("UserByAPIKey: %v", err)
		}
		if store.Cipher().KeyID() == "" {
			t.Error("no cipher key id")
		}
	})

	malformed := map[string]string{
		"not base64":     "this is not base64 at all!!",
		"16 bytes":       randomKeyBase64(t, 16),
		"33 bytes":       randomKeyBase64(t, 33),
		"hex not base64": strings.Repeat("ab", 32) + "zz",
	}
	for name, bad := range malformed {
		for _, cmd := range [][]string{
			{"create-admin", "--email", "admin@example.com", "--password", adminPassword},
			{"apikey", "list"},
			{"serve", "--addr", "127.0.0.1:0"},
		} {
			t.Run(name+"/"+cmd[0], func(t *testing.T) {
				t.Setenv("WHAPIDESK_SECRET_KEY", bad)
				dir := t.TempDir()
				args := append(cmd, "--db", filepath.Join(dir, "w.db"))
				out, errOut, err := runCmd(t, "", args...)
				if err == nil || !strings.Contains(err.Error(), "WHAPIDESK_SECRET_KEY") {
					t.Fatalf("err = %v, want one naming WHAPIDESK_SECRET_KEY", err)
				}
				if strings.Contains(err.Error()+out+errOut, strings.TrimSpace(bad)) {
					t.Errorf("the malformed key is printed: %v\n%s\n%s", err, out, errOut)
				}
				if names := fileNames(t, dir); len(names) != 0 {
					t.Errorf("files created despite the bad key: %v", names)
				}
			})
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{DBPath: "w.db", ManagerURL: "https://manager.whapi.cloud", GateURL: "https://gate.whapi.cloud"}
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"http manager", func(c *Config) { c.ManagerURL = "http://127.0.0.1:9000" }, ""},
		{"ftp manager", func(c *Config) { c.ManagerURL = "ftp://manager.whapi.cloud" }, "not an http(s) URL"},
		{"bare host manager", func(c *Config) { c.ManagerURL = "manager.whapi.cloud" }, "not an http(s) URL"},
		{"empty gate", func(c *Config) { c.GateURL = "" }, "not an http(s) URL"},
		{"ftp manager in the demo", func(c *Config) { c.ManagerURL = "ftp://x"; c.Demo = true }, ""},
		{"empty urls in the demo", func(c *Config) { c.ManagerURL, c.GateURL, c.Demo = "", "", true }, ""},
		{"empty db", func(c *Config) { c.DBPath = "" }, "database path is empty"},
		{"empty db in the demo", func(c *Config) { c.DBPath = ""; c.Demo = true }, "database path is empty"},
		{"public url", func(c *Config) { c.PublicURL = "https://desk.example.com" }, ""},
		{"public url with a path and a slash", func(c *Config) { c.PublicURL = "http://10.0.0.5:8080/desk/" }, ""},
		{"public url without scheme", func(c *Config) { c.PublicURL = "desk.example.com" }, "must be an absolute http(s) address"},
		{"public url relative", func(c *Config) { c.PublicURL = "/desk" }, "must be an absolute http(s) address"},
		{"public url ftp", func(c *Config) { c.PublicURL = "ftp://desk.example.com" }, "must be an absolute http(s) address"},
		{"public url without host", func(c *Config) { c.PublicURL = "https://" }, "must be an absolute http(s) address"},
		{"public url with a query", func(c *Config) { c.PublicURL = "https://desk.example.com/?a=1" }, "without a user, query or fragment"},
		{"public url with an empty query", func(c *Config) { c.PublicURL = "https://desk.example.com/?" }, "without a user, query or fragment"},
		{"public url with a fragment", func(c *Config) { c.PublicURL = "https://desk.example.com/#top" }, "without a user, query or fragment"},
		{"public url with an empty fragment", func(c *Config) { c.PublicURL = "https://desk.example.com#" }, "without a user, query or fragment"},
		{"public url with a user", func(c *Config) { c.PublicURL = "https://admin:pw@desk.example.com" }, "without a user, query or fragment"},
		{"public url not a url", func(c *Config) { c.PublicURL = "https://desk example.com" }, "must be an absolute http(s) address"},
		{"smtp relay", func(c *Config) { c.SMTPURL, c.MailFrom = "smtp://127.0.0.1:25", "Desk <desk@example.com>" }, ""},
		{"smtps with a password", func(c *Config) { c.SMTPURL, c.MailFrom = "smtps://u:s3cr%40t@mail.example.com", "desk@example.com" }, ""},
		{"smtp without from", func(c *Config) { c.SMTPURL = "smtp://127.0.0.1:25" }, "WHAPIDESK_MAIL_FROM (--mail-from) is required"},
		{"smtp bad scheme", func(c *Config) { c.SMTPURL, c.MailFrom = "http://u:hunter2pw@mail.example.com", "desk@example.com" }, "WHAPIDESK_SMTP_URL"},
		{"smtp no host", func(c *Config) { c.SMTPURL, c.MailFrom = "smtp://u:hunter2pw@", "desk@example.com" }, "WHAPIDESK_SMTP_URL"},
		{"bad from", func(c *Config) { c.SMTPURL, c.MailFrom = "smtp://127.0.0.1:25", "not an address" }, "WHAPIDESK_MAIL_FROM"},
		{"bad from without smtp", func(c *Config) { c.MailFrom = "desk@" }, "WHAPIDESK_MAIL_FROM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2pw") {
				t.Errorf("the error shows the SMTP password: %v", err)
			}
		})
	}
}

func TestServeFlags(t *testing.T) {
	t.Setenv("WHAPI_MANAGER_URL", "")
	t.Setenv("WHAPI_GATE_URL", "")
	tests := []struct {
		name     string
		env      string // WHAPI_MANAGER_URL
		args     []string
		wantErr  bool
		wantDemo bool
	}{
		{"defaults", "", []string{"serve"}, false, false},
		{"non-http manager flag", "", []string{"serve", "--manager-url", "ftp://x"}, true, false},
		{"non-http manager env", "ftp://x", []string{"serve"}, true, false},
		{"flag wins over env", "ftp://x", []string{"serve", "--manager-url", "https://m.example"}, false, false},
		{"the demo ignores the WHAPI URLs", "ftp://x", []string{"demo"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("WHAPI_MANAGER_URL", tt.env)
			var stderr testenv.LogBuffer
			cfg, err := parseServeFlags(tt.args[0], tt.args[1:], &stderr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseServeFlags err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && cfg.Demo != tt.wantDemo {
				t.Errorf("Demo = %v, want %v", cfg.Demo, tt.wantDemo)
			}
		})
	}

	// The simulator is the demo's alone: serve refuses --simulator with a
	// message that points at the demo, before touching the disk.
	t.Run("serve refuses the simulator and points at the demo", func(t *testing.T) {
		for _, args := range [][]string{{"serve", "--simulator"}, {"serve", "-simulator=true"}, {"--simulator"}} {
			dir := t.TempDir()
			args = append(slices.Clone(args), "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "w.db"))
			_, _, err := runCmd(t, "", args...)
			if err == nil || !strings.Contains(err.Error(), `run "whapidesk demo"`) {
				t.Errorf("%q: err = %v, want the simulator refused, pointing at the demo", args, err)
			}
			if names := fileNames(t, dir); len(names) != 0 {
				t.Errorf("files created: %v", names)
			}
		}
		if _, err := parseServeFlags("demo", []string{"--simulator"}, &testenv.LogBuffer{}); err == nil || !strings.Contains(err.Error(), "drop --simulator") {
			t.Errorf("demo --simulator: %v, want told to drop the flag", err)
		}
	})

	t.Run("serve refuses a public URL with a query, by flag or variable, before touching the disk", func(t *testing.T) {
		for _, env := range []bool{false, true} {
			dir := t.TempDir()
			args := []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "w.db")}
			if env {
				t.Setenv("WHAPIDESK_PUBLIC_URL", "https://desk.example.com/?x=1")
			} else {
				t.Setenv("WHAPIDESK_PUBLIC_URL", "")
				args = append(args, "--public-url", "https://desk.example.com/?x=1")
			}
			_, _, err := runCmd(t, "", args...)
			if err == nil || !strings.Contains(err.Error(), "--public-url") {
				t.Fatalf("env %v: err = %v, want the public URL refused", env, err)
			}
			if names := fileNames(t, dir); len(names) != 0 {
				t.Errorf("files created: %v", names)
			}
		}
	})

	t.Run("serve refuses a non-http manager URL before touching the disk", func(t *testing.T) {
		dir := t.TempDir()
		_, _, err := runCmd(t, "", "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "w.db"), "--manager-url", "ftp://x")
		if err == nil || !strings.Contains(err.Error(), "not an http(s) URL") {
			t.Fatalf("err = %v, want not an http(s) URL", err)
		}
		if names := fileNames(t, dir); len(names) != 0 {
			t.Errorf("files created: %v", names)
		}
	})
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// server is a running `whapidesk serve` or `demo`.
type server struct {
	base           string
	stdout, stderr *testenv.LogBuffer
	cancel         context.CancelFunc
	done           chan error
	stopped        bool
}

// startServer runs the command in a goroutine and waits for /healthz.
// selfURL, as an argument of startServer, stands for the server's own
// base URL.
const selfURL = "{self}"

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{base: "http://" + addr, stdout: &testenv.LogBuffer{}, stderr: &testenv.LogBuffer{}, cancel: cancel, done: make(chan error, 1)}
	args = append(slices.Clone(args), "--addr", addr)
	for i, a := range args {
		if a == selfURL { // the server's own address, e.g. as its --public-url
			args[i] = s.base
		}
	}
	go func() { s.done <- run(ctx, args, strings.NewReader(""), s.stdout, s.stderr) }()
	t.Cleanup(func() {
		if !s.stopped {
			cancel()
			select {
			case <-s.done:
			case <-time.After(20 * time.Second):
			}
		}
	})

	client := &http.Client{Timeout: 2 * time.Second}
	// Generous: the demo hashes several passwords at bcrypt's real cost
	// before it listens, which is slow under -race on a busy machine.
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-s.done:
			s.stopped = true
			t.Fatalf("run returned before serving: %v\nstderr:\n%s", err, s.stderr)
		default:
		}
		resp, err := client.Get(s.base + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "ok" {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not ready after 60 s (last error %v)\nstderr:\n%s", err, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop cancels the context and checks that run returns nil promptly: within
// a minute, well past serve's own 20 s bound on the shutdown (after which
// it returns an error), so that only a shutdown that hangs fails here, not
// a slow one on a busy machine.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	s.stopped = true
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("run after cancel = %v, want nil\nstderr:\n%s", err, s.stderr)
		}
	case <-time.After(time.Minute):
		t.Fatalf("run did not return within a minute of cancel\nstderr:\n%s", s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "shutting down") {
		t.Errorf("no shutdown log line:\n%s", s.stderr)
	}
}

// newBrowser returns a client with a cookie jar that does not follow redirects.
func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// login signs in through the login form and returns the response status and
// Location header.
func login(t *testing.T, c *http.Client, base, email, password string) (int, string) {
	t.Helper()
	resp, body := get(t, c, base+"/login")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /login = %d", resp.StatusCode)
	}
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no _csrf input on the login page:\n%s", body)
	}
	resp, err := c.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}, "_csrf": {m[1]}})
	if err != nil {
		t.Fatalf("POST /login: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func checkSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
}

func TestServeLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "w.db")
	makeInstall(t, db)
	mustRun(t, "", "create-admin", "--db", db, "--email", "admin@example.com", "--password", adminPassword)

	s := startServer(t, "serve", "--db", db)
	c := newBrowser(t)
	resp, body := get(t, c, s.base+"/login")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /login = %d", resp.StatusCode)
	}
	checkSecurityHeaders(t, resp.Header)
	if !csrfInput.MatchString(body) {
		t.Error("the login page has no CSRF input")
	}
	if status, loc := login(t, c, s.base, "admin@example.com", adminPassword); status != http.StatusSeeOther || loc != "/" {
		t.Errorf("login = %d %q, want 303 /", status, loc)
	}
	if resp, _ := get(t, c, s.base+"/admin"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /admin after login = %d, want 200", resp.StatusCode)
	}
	// serve is not the simulator: nothing is mounted at its prefix.
	if resp, _ := get(t, c, s.base+simPrefix+"/health"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET %s/health on serve = %d, want 404", simPrefix, resp.StatusCode)
	}
	s.stop(t)

	if !strings.Contains(s.stderr.String(), "whapidesk is serving") {
		t.Errorf("no serving log line:\n%s", s.stderr)
	}
	if s.stdout.String() != "" {
		t.Errorf("serve printed to stdout: %q", s.stdout)
	}
	if _, err := http.Get(s.base + "/healthz"); err == nil {
		t.Error("the server still answers after run returned")
	}
	if bytes.Contains([]byte(s.stderr.String()), []byte(adminPassword)) {
		t.Error("the logs contain the password")
	}
}

var passwordLine = regexp.MustCompile(`(?m)^\s*Admin\s+admin@example\.com\s*\n\s*Password\s+(\S+)\s*$`)

// customerPasswordLine is the demo customers' password, printed after them.
var customerPasswordLine = regexp.MustCompile(`(?m)chen@example\.com \(no plan\)\s*\n\s*Password\s+(\S+)\s*$`)

func TestDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")

	s := startServer(t, "demo", "--db", db)
	out := s.stdout.String()
	m := passwordLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("stdout has no admin email and password lines:\n%s", out)
	}
	password := m[1]
	if n := strings.Count(out, password); n != 1 {
		t.Errorf("the admin password is printed %d times, want once", n)
	}
	if n := strings.Count(out, "admin@example.com"); n != 1 {
		t.Errorf("the admin email is printed %d times, want once", n)
	}

	c := newBrowser(t)
	resp, _ := get(t, c, s.base+"/login")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /login = %d", resp.StatusCode)
	}
	checkSecurityHeaders(t, resp.Header)
	if status, loc := login(t, c, s.base, "admin@example.com", password); status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("login with the printed password = %d %q, want 303 /", status, loc)
	}
	settingsResp, settingsPage := get(t, c, s.base+"/admin/settings/whapi")
	if settingsResp.StatusCode != http.StatusOK {
		t.Errorf("GET /admin/settings/whapi = %d, want 200", settingsResp.StatusCode)
	}

	// The demo's WHAPI does not know whapidesk's default project id: the
	// instructions say to pick the project, the settings page offers it,
	// and until it is picked a customer cannot add a channel.
	if !strings.Contains(out, "open WHAPI Settings and pick the\n  project") {
		t.Errorf("the instructions do not say to pick the project:\n%s", out)
	}
	if !strings.Contains(settingsPage, `data-testid="project-picker-alert"`) ||
		!strings.Contains(settingsPage, `name="project_id" value="`+whapisim.DefaultProjectID+`"`) {
		t.Errorf("the settings page does not offer WHAPI's project to pick:\n%s", settingsPage)
	}
	pc := customerPasswordLine.FindStringSubmatch(out)
	if pc == nil {
		t.Fatalf("stdout has no customer password line:\n%s", out)
	}
	amal := newBrowser(t)
	if status, loc := login(t, amal, s.base, "amal@example.com", pc[1]); status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("customer login = %d %q", status, loc)
	}
	addChannel := func() string {
		t.Helper()
		_, page := get(t, amal, s.base+"/app")
		m := csrfInput.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no _csrf input on /app:\n%s", page)
		}
		resp, err := amal.PostForm(s.base+"/app/channels", url.Values{"name": {"Shop"}, "_csrf": {m[1]}})
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /app/channels = %d", resp.StatusCode)
		}
		return resp.Header.Get("Location")
	}
	if loc := addChannel(); loc != "/app" {
		t.Fatalf("a channel was added before the project was picked (to %s)", loc)
	}
	if _, page := get(t, amal, s.base+"/app"); !strings.Contains(page, "Adding channels is temporarily unavailable.") {
		t.Errorf("the customer is not told why no channel was added:\n%s", page)
	}
	if !strings.Contains(out, `Bruno's line "Front desk" is linked and dropped once the project is picked: it shows on Attention a minute later.`) {
		t.Errorf("the instructions do not tell of the sample disconnected line:\n%s", out)
	}
	// The admin picks the project, as on the settings page.
	pickedAt := time.Now()
	m = csrfInput.FindStringSubmatch(settingsPage)
	if m == nil {
		t.Fatal("no _csrf input on the settings page")
	}
	resp, err := c.PostForm(s.base+"/admin/settings/whapi/project", url.Values{"project_id": {whapisim.DefaultProjectID}, "_csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("picking the project = %d", resp.StatusCode)
	}
	if _, page := get(t, c, s.base+"/admin/settings/whapi"); !strings.Contains(page, "New channels are now created in the project") {
		t.Errorf("the settings page after the pick:\n%s", page)
	}
	if loc := addChannel(); !strings.HasSuffix(loc, "/connect") {
		t.Errorf("after the pick, adding a channel went to %q, want its connect page", loc)
	}
	// Once the project is picked, the demo makes Bruno's sample line and
	// links and drops a phone on it: his dashboard shows it disconnected.
	bruno := newBrowser(t)
	if status, _ := login(t, bruno, s.base, "bruno@example.com", pc[1]); status != http.StatusSeeOther {
		t.Fatalf("Bruno's login = %d", status)
	}
	waitForBody(t, bruno, s.base+"/app", "Bruno's sample line, disconnected", func(page string) bool {
		return strings.Contains(page, ">Front desk<") && sampleDisconnected.MatchString(page)
	})

	raw, err := os.ReadFile(filepath.Join(dir, "demo-partner-token.txt"))
	if err != nil {
		t.Fatalf("no partner token file: %v", err)
	}
	token := strings.TrimSpace(string(raw))
	if len(token) < 100 {
		t.Fatalf("partner token file holds %q", token)
	}
	fi, err := os.Stat(filepath.Join(dir, "demo-partner-token.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("demo-partner-token.txt mode = %o, want 600", mode)
	}
	// The token's signature part, which is random, must appear nowhere.
	secretPart := token[strings.LastIndexByte(token, '.')+1:]
	s.stop(t)

	for where, text := range map[string]string{"stdout": s.stdout.String(), "stderr": s.stderr.String(), "settings page": settingsPage} {
		if strings.Contains(text, token) || strings.Contains(text, secretPart) {
			t.Errorf("the partner token appears in %s", where)
		}
	}
	if strings.Contains(s.stderr.String(), password) {
		t.Error("the admin password appears in the logs")
	}
	// The token is in the token file and in the simulator's state (which
	// stands for WHAPI's own), both 0600, and nowhere else: not in the
	// database, which holds it encrypted.
	all := string(dirBytes(t, dir))
	if strings.Count(all, secretPart) != 2 {
		t.Errorf("the partner token's secret part occurs %d times in the data directory, want 2 (the token file and the simulator's state)", strings.Count(all, secretPart))
	}
	simState, err := os.ReadFile(filepath.Join(dir, "demo-whapisim.json"))
	if err != nil || !strings.Contains(string(simState), secretPart) {
		t.Errorf("the simulator's state file does not hold the partner token (%v)", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "demo-whapisim.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("demo-whapisim.json: %v, want mode 600", err)
	}

	t.Run("second run keeps the data and prints no new password", func(t *testing.T) {
		s2 := startServer(t, "demo", "--db", db)
		out2 := s2.stdout.String()
		if strings.Contains(out2, "Password") || strings.Contains(out2, password) {
			t.Errorf("second run printed a password:\n%s", out2)
		}
		if !strings.Contains(out2, "already seeded") {
			t.Errorf("second run does not say the data is there:\n%s", out2)
		}
		c2 := newBrowser(t)
		if status, _ := login(t, c2, s2.base, "admin@example.com", password); status != http.StatusSeeOther {
			t.Errorf("login with the first run's password = %d, want 303", status)
		}
		s2.stop(t)
		raw2, err := os.ReadFile(filepath.Join(dir, "demo-partner-token.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(raw2)) != token {
			t.Error("the partner token changed between runs")
		}
		if strings.Contains(s2.stdout.String()+s2.stderr.String(), secretPart) {
			t.Error("the partner token appears in the second run's output")
		}
	})

	// Made once, at real times: one line, linked then unlinked after the
	// pick, and the second run made no other.
	t.Run("Bruno's sample line, once", func(t *testing.T) {
		store := openTestStore(t, db)
		u, err := store.UserByEmail(t.Context(), "bruno@example.com")
		if err != nil {
			t.Fatal(err)
		}
		checkSampleLine(t, store, u.ID, pickedAt)
	})

	t.Run("seeded customers", func(t *testing.T) {
		store := openTestStore(t, db)
		for _, email := range []string{"amal@example.com", "bruno@example.com", "chen@example.com"} {
			u, err := store.UserByEmail(t.Context(), email)
			if err != nil || u.Role != models.RoleCustomer {
				t.Errorf("UserByEmail(%s) = %v, %v; want a customer", email, u, err)
			}
		}
		// The Outbox shows mails from the start: an invitation and the
		// admin's daily summary, queued (no SMTP in the demo).
		mails, _, err := store.Mails(t.Context(), 100, 0)
		kinds := map[string]int{}
		for _, m := range mails {
			kinds[m.Kind]++
		}
		if err != nil || kinds[models.MailInvitation] != 1 || kinds[models.MailAdminDigest] != 1 {
			t.Errorf("the demo's outbox holds %v (%v), want an invitation and a daily summary", kinds, err)
		}
		tok, err := store.PartnerToken(t.Context())
		if err != nil || tok != "Bearer "+token {
			t.Errorf("PartnerToken = %d chars, %v; want the token file's token", len(tok), err)
		}
	})

	// The database deleted alone: the new demo sets the simulator's old
	// state aside, so its WHAPI holds none of the old demo's channels.
	t.Run("a new database starts the simulator over", func(t *testing.T) {
		state := filepath.Join(dir, "demo-whapisim.json")
		channels := func(raw []byte) int {
			t.Helper()
			var st struct {
				Channels []json.RawMessage `json:"channels"`
			}
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatalf("the simulator's state: %v", err)
			}
			return len(st.Channels)
		}
		old, err := os.ReadFile(state)
		if err != nil {
			t.Fatal(err)
		}
		if channels(old) == 0 {
			t.Fatal("the first run's state holds no channel")
		}
		for _, f := range []string{db, db + "-wal", db + "-shm"} {
			if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
		s3 := startServer(t, "demo", "--db", db)
		s3.stop(t)
		if !strings.Contains(s3.stderr.String(), "set aside") {
			t.Errorf("the log does not say the old state was set aside:\n%s", s3.stderr.String())
		}
		if kept, err := os.ReadFile(state + ".old"); err != nil || string(kept) != string(old) {
			t.Errorf("the old state is not kept as .old (%v)", err)
		}
		fresh, err := os.ReadFile(state)
		if err != nil {
			t.Fatal(err)
		}
		if n := channels(fresh); n != 0 {
			t.Errorf("the new demo's simulator holds %d channels of the old demo's", n)
		}
	})
}

// sampleDisconnected is the link line of a dropped phone on a customer's
// dashboard.
var sampleDisconnected = regexp.MustCompile(`data-testid="link-line">Disconnected `)

// waitForBody loads u with c until cond holds on the page, for up to two
// minutes (the demo's background work is slow on a busy machine).
func waitForBody(t *testing.T, c *http.Client, u, what string, cond func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, page := get(t, c, u)
		if cond(page) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s on %s: not there after two minutes:\n%s", what, u, page)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkSampleLine checks the demo's sample line in the database: Bruno
// (userID) has one channel, "Front desk", on a free trial and not linked,
// whose history links a phone and then unlinks it, both after the project
// was picked (pickedAt) — never backdated — and nothing more.
func checkSampleLine(t *testing.T, store *models.Store, userID int64, pickedAt time.Time) {
	t.Helper()
	names, err := store.ChannelNames(t.Context(), userID)
	if err != nil || len(names) != 1 {
		t.Fatalf("Bruno's channels: %v, %v; want the sample line alone", names, err)
	}
	var id int64
	for cid, name := range names {
		if id = cid; name != "Front desk" {
			t.Errorf("Bruno's line is named %q, want Front desk", name)
		}
	}
	ch, err := store.ChannelByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Linked || ch.Status != models.ChannelTrial || ch.WhapiID == nil {
		t.Errorf("the sample line: status %s, linked %v, at WHAPI %v; want a trial line at WHAPI, not linked", ch.Status, ch.Linked, ch.WhapiID != nil)
	}
	evs, err := store.ChannelEvents(t.Context(), id, 100)
	if err != nil {
		t.Fatal(err)
	}
	var links []models.ChannelEvent // oldest first
	for _, ev := range slices.Backward(evs) {
		if ev.LinkChanged() {
			links = append(links, ev)
		}
	}
	if len(links) != 2 || !links[0].NewLinked || links[1].NewLinked {
		t.Fatalf("the sample line's link changes: %+v; want linked, then unlinked", links)
	}
	notBefore := pickedAt.Truncate(time.Second)
	if links[0].At.Before(notBefore) || links[1].At.Before(links[0].At) || links[1].At.After(time.Now()) {
		t.Errorf("the sample's link at %s and unlink at %s, want both after the pick at %s and in that order",
			links[0].At, links[1].At, pickedAt)
	}
}

// The demo's disconnect alert comes after the setting's minimum, a
// minute, so that its sample line reaches the Attention list soon; an
// operator's setting wins, and serve keeps its default.
func TestDemoAlertDelay(t *testing.T) {
	for _, tc := range []struct {
		cmd, env string
		args     []string
		want     time.Duration
	}{
		{"demo", "", nil, time.Minute},
		{"serve", "", nil, 5 * time.Minute},
		{"demo", "3m", nil, 3 * time.Minute},
		{"demo", "", []string{"--disconnect-alert-after", "2m"}, 2 * time.Minute},
	} {
		t.Setenv("WHAPIDESK_DISCONNECT_ALERT_AFTER", tc.env)
		args := append([]string{"--db", "x.db"}, tc.args...)
		cfg, err := parseServeFlags(tc.cmd, args, &testenv.LogBuffer{})
		if err != nil || cfg.DisconnectAlertAfter != tc.want {
			t.Errorf("%s %v with WHAPIDESK_DISCONNECT_ALERT_AFTER=%q: %s, %v; want %s", tc.cmd, tc.args, tc.env, cfg.DisconnectAlertAfter, err, tc.want)
		}
	}
}

func TestBackupCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "w.db")
	var out, errb bytes.Buffer
	ctx := context.Background()
	makeInstall(t, db)
	if err := run(ctx, []string{"create-admin", "--db", db, "--email", "a@example.com", "--password", "long enough password"}, strings.NewReader(""), &out, &errb); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "copy.db")
	if err := run(ctx, []string{"backup", "--db", db, dest}, strings.NewReader(""), &out, &errb); err != nil {
		t.Fatal(err)
	}
	// The copy serves the same data (with the same key, beside it).
	if err := os.Rename(dest, filepath.Join(dir, "restored.db")); err != nil {
		t.Fatal(err)
	}
	cfg := Config{DBPath: filepath.Join(dir, "restored.db")}
	store, err := openStore(ctx, cfg, newLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Authenticate(ctx, "a@example.com", "long enough password"); err != nil {
		t.Fatalf("the restored copy lost the admin: %v", err)
	}
	if err := run(ctx, []string{"backup", "--db", db, filepath.Join(dir, "restored.db")}, strings.NewReader(""), &out, &errb); err == nil {
		t.Fatal("backup overwrote an existing file")
	}
}

// WHAPIDESK_GATE_HOSTS is read into the hosts the WHAPI client may send a
// channel's gate calls to; an entry that is not a host stops the start
// with a message naming it.
func TestGateHostsSetting(t *testing.T) {
	cfg, err := parseServeFlags("serve", []string{"--gate-hosts", " gate2.example.com, *.example.net ,10.0.0.7:8443"}, &testenv.LogBuffer{})
	if err != nil || strings.Join(cfg.GateHosts, "|") != "gate2.example.com|*.example.net|10.0.0.7:8443" {
		t.Fatalf("GateHosts %q, %v", cfg.GateHosts, err)
	}
	for _, bad := range []string{"https://gate2.example.com", "gate2.example.com/x", "*.com"} {
		_, err := parseServeFlags("serve", []string{"--gate-hosts", bad}, &testenv.LogBuffer{})
		if err == nil || !strings.Contains(err.Error(), "config: gate host") {
			t.Errorf("--gate-hosts %q: %v, want an error naming it", bad, err)
		}
	}
}
