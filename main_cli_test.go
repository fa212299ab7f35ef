package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi/whapisim"
)

// makeInstall makes the database at db (and, without WHAPIDESK_SECRET_KEY,
// its key file) as serve makes them: the other commands never do.
func makeInstall(t *testing.T, db string) {
	t.Helper()
	cfg := Config{DBPath: db, SecretKey: envOr("WHAPIDESK_SECRET_KEY", "")}
	store, err := openStore(t.Context(), cfg, newLogger(io.Discard))
	if err != nil {
		t.Fatalf("make the install: %v", err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
}

// installWithPartner makes an install at db (makeInstall) with the admin
// admin@example.com, an API key of theirs (returned), and the partner
// token saved as WHAPI's panel gives it ("Bearer " in front). The store is
// returned open for the test's own setup: close it before serving.
func installWithPartner(t *testing.T, db, partner string) (apiKey string, store *models.Store) {
	t.Helper()
	makeInstall(t, db)
	mustRun(t, "", "create-admin", "--db", db, "--email", "admin@example.com", "--password", adminPassword)
	apiKey = lastLine(mustRun(t, "", "apikey", "create", "--db", db, "--email", "admin@example.com"))
	store = openTestStore(t, db)
	bearer := "Bearer " + partner
	if _, _, err := store.UpdateSettings(t.Context(), models.SystemActor, models.SettingsChange{PartnerToken: &bearer, Hint: "Bearer …"}); err != nil {
		t.Fatal(err)
	}
	return apiKey, store
}

// The real binary, built once per test binary (as the crash test builds
// it) into a directory removed when the first test that asked ends: each
// test that needs it builds it into its own t.TempDir() the first time it
// is asked in that test.
var (
	binMu    sync.Mutex
	binBuilt = map[string]string{} // test name → binary
)

// whapideskBinary builds the command into t's temporary directory.
func whapideskBinary(t *testing.T) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if bin, ok := binBuilt[t.Name()]; ok {
		return bin
	}
	goTool := "go"
	if g := os.Getenv("GO"); g != "" {
		goTool = g
	}
	bin := filepath.Join(t.TempDir(), "whapidesk")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	binBuilt[t.Name()] = bin
	return bin
}

// cleanEnv is this process's environment without any variable the app
// reads, plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WHAPIDESK_") && !strings.HasPrefix(kv, "WHAPI_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// runBinary runs the binary in dir with args and returns its exit code
// and what it printed.
func runBinary(t *testing.T, bin, dir string, env []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("run %s %q: %v", bin, args, err)
	}
	return code, out.String(), errOut.String()
}

// treeListing lists every file and directory under dir with its size and
// mode: what a command must leave as it found it.
func treeListing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out = append(out, rel+" "+fi.Mode().String()+" "+strings.Repeat("#", int(min(fi.Size(), 64))))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every command that reads a database, run as the real binary from a
// directory that holds no install and without --db, refuses: it exits
// non-zero, names the absolute path it looked at and how to name the
// right one, and leaves the directory exactly as it was — no data
// directory, database, key file or backup. With the database there but
// not its key file, it refuses too, naming the key file, and makes no key.
func TestCommandsRefuseAMissingDatabase(t *testing.T) {
	t.Parallel()
	bin := whapideskBinary(t)
	commands := [][]string{
		{"backup", "nightly.db"},
		{"rotate-key"},
		{"apikey", "list"},
		{"apikey", "create", "--email", "admin@example.com"},
		{"apikey", "revoke", "--id", "1"},
		{"create-admin", "--email", "admin@example.com", "--password", adminPassword},
		{"create-admin", "--email", "admin@example.com"}, // the password would come from stdin
		{"doctor"},
	}

	elsewhere := t.TempDir()
	if err := os.WriteFile(filepath.Join(elsewhere, "notes.txt"), []byte("not an install\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lookedAt := filepath.Join(elsewhere, "data", "whapidesk.db")
	for _, args := range commands {
		t.Run("no database/"+strings.Join(args[:min(2, len(args))], " "), func(t *testing.T) {
			before := treeListing(t, elsewhere)
			code, out, errOut := runBinary(t, bin, elsewhere, cleanEnv(), "a-password-typed-for-nothing\n", args...)
			if code == 0 {
				t.Fatalf("exit 0, want a refusal\nstdout:\n%s\nstderr:\n%s", out, errOut)
			}
			if !strings.Contains(errOut, "no database at "+lookedAt) || !strings.Contains(errOut, "--db") || !strings.Contains(errOut, "WHAPIDESK_DB") {
				t.Errorf("stderr does not name %s and how to name the right one:\n%s", lookedAt, errOut)
			}
			if after := treeListing(t, elsewhere); !slices.Equal(after, before) {
				t.Errorf("the directory changed:\nbefore %q\nafter  %q", before, after)
			}
		})
	}

	// The database is there, its key file is not (and no
	// WHAPIDESK_SECRET_KEY): a fresh key would read none of its tokens.
	install := t.TempDir()
	db := filepath.Join(install, "w.db")
	makeInstall(t, db)
	keyFile := filepath.Join(install, "secret.key")
	if err := os.Rename(keyFile, filepath.Join(install, "kept.key")); err != nil {
		t.Fatal(err)
	}
	for _, args := range commands {
		t.Run("no key file/"+strings.Join(args[:min(2, len(args))], " "), func(t *testing.T) {
			before := treeListing(t, install)
			code, _, errOut := runBinary(t, bin, elsewhere, cleanEnv("WHAPIDESK_DB="+db), "a-password-typed-for-nothing\n", args...)
			if code == 0 {
				t.Fatalf("exit 0, want a refusal\nstderr:\n%s", errOut)
			}
			if !strings.Contains(errOut, "no key file at "+keyFile) {
				t.Errorf("stderr does not name the key file %s:\n%s", keyFile, errOut)
			}
			if after := treeListing(t, install); !slices.Equal(after, before) {
				t.Errorf("the install changed:\nbefore %q\nafter  %q", before, after)
			}
			if _, err := os.Stat(filepath.Join(elsewhere, "nightly.db")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a backup file was written: %v", err)
			}
		})
	}
}

var servingLine = regexp.MustCompile(`whapidesk is serving on this database \(pid (\d+), addr ([^)]+)\): stop it first`)

// rotate-key, run as the real binary while the app serves on the same
// database, is refused with who serves it (pid and address), and changes
// nothing: not the database's secrets, not the key file. A second server
// on the same database is refused too. Once the server stops — its lock
// file stays, but no process holds it — the rotation goes through.
func TestRotateKeyIsRefusedWhileServing(t *testing.T) {
	t.Parallel()
	bin := whapideskBinary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "w.db")
	want := seedSecrets(t, db)
	keyPath := filepath.Join(dir, "secret.key")
	keyBefore, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	idsBefore, err := openTestStore(t, db).SecretKeyIDs(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	s := startServer(t, "serve", "--db", db)
	code, out, errOut := runBinary(t, bin, t.TempDir(), cleanEnv(), "", "rotate-key", "--db", db)
	if code == 0 {
		t.Fatalf("rotate-key while serving: exit 0\n%s", out)
	}
	m := servingLine.FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("stderr does not say who serves:\n%s", errOut)
	}
	if m[1] != strconv.Itoa(os.Getpid()) || "http://"+m[2] != s.base {
		t.Errorf("names pid %s addr %s, want pid %d addr %s", m[1], m[2], os.Getpid(), s.base)
	}
	if keyAfter, _ := os.ReadFile(keyPath); !bytes.Equal(keyAfter, keyBefore) {
		t.Error("the key file changed")
	}
	for _, name := range fileNames(t, dir) {
		if strings.Contains(name, "secret.key.") {
			t.Errorf("rotate-key left %s", name)
		}
	}
	if ids, err := openTestStore(t, db).SecretKeyIDs(t.Context()); err != nil || !maps.Equal(ids, idsBefore) {
		t.Errorf("secrets by key id %v (%v), want %v as before", ids, err, idsBefore)
	}

	// A second server on the same database is refused at once.
	_, _, err = runCmd(t, "", "serve", "--db", db, "--addr", freeAddr(t))
	if err == nil || !strings.Contains(err.Error(), "whapidesk is serving on this database") || !strings.Contains(err.Error(), "stop that one first") {
		t.Errorf("second serve: %v, want a refusal naming the first", err)
	}

	s.stop(t)
	if _, err := os.Stat(lockPath(db)); err != nil {
		t.Fatalf("the lock file is gone: %v", err)
	}
	code, out, errOut = runBinary(t, bin, t.TempDir(), cleanEnv(), "", "rotate-key", "--db", db)
	if code != 0 || !strings.Contains(out, "Re-encrypted 3 secrets") {
		t.Fatalf("rotate-key after the server stopped: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	checkSecrets(t, db, want)
}

// sqliteCount runs a count query on the SQLite file at path, opened
// read-only.
func sqliteCount(t *testing.T, path, query string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s on %s: %v", query, path, err)
	}
	return n
}

// backup checks the copy it wrote before the copy is there: a copy that
// lost rows, or that SQLite finds damaged, fails the command (run returns
// an error, so the binary exits 1) and leaves no file at the target and no
// temporary file. A good copy is one self-contained file, mode 0600, with
// the database's rows — also while the app writes to the database all
// along, since the rows are counted in the snapshot that is copied.
// (Not parallel: it sets the seam backupCopied.)
func TestBackupChecksItsCopy(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "w.db")
	seedSecrets(t, db)
	out := filepath.Join(t.TempDir(), "backups")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	damage := map[string]func(path string) error{
		"rows lost": func(path string) error {
			c, err := sql.Open("sqlite3", "file:"+path)
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Exec("DELETE FROM channels")
			return err
		},
		"pages damaged": func(path string) error {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			// Every page but the first (the header and the schema):
			// the tables' pages are garbage.
			for i := 4096; i < len(b); i++ {
				b[i] = byte(i * 7)
			}
			return os.WriteFile(path, b, 0o600)
		},
	}
	for name, hurt := range damage {
		t.Run(name, func(t *testing.T) {
			backupCopied = hurt
			defer func() { backupCopied = func(string) error { return nil } }()
			dest := filepath.Join(out, "nightly.db")
			stdout, _, err := runCmd(t, "", "backup", "--db", db, dest)
			if err == nil {
				t.Fatalf("backup of a damaged copy succeeded:\n%s", stdout)
			}
			if !strings.Contains(err.Error(), "no backup was written") {
				t.Errorf("err = %v, want it to say no backup was written", err)
			}
			if name == "rows lost" && !strings.Contains(err.Error(), "channels has 0 rows in the copy, 2 in the database") {
				t.Errorf("err = %v, want the table that differs", err)
			}
			if names := fileNames(t, out); len(names) != 0 {
				t.Errorf("files left in the backup directory: %v", names)
			}
		})
	}

	t.Run("a good copy while the app writes", func(t *testing.T) {
		store := openTestStore(t, db)
		ctx, stop := context.WithCancel(t.Context())
		writes := make(chan int)
		go func() {
			n := 0
			for ctx.Err() == nil {
				if err := store.RecordAudit(ctx, models.SystemActor, "test.write", fmt.Sprint(n), "a write during the backup"); err == nil {
					n++
				}
			}
			writes <- n
		}()
		for i := range 5 {
			dest := filepath.Join(out, fmt.Sprintf("copy-%d.db", i))
			mustRun(t, "", "backup", "--db", db, dest)
			if m := fileMode(t, dest); m != 0o600 {
				t.Errorf("%s mode %o, want 600", dest, m)
			}
			if got := sqliteCount(t, dest, "SELECT count(*) FROM channels"); got != 2 {
				t.Errorf("%s has %d channels, want 2", dest, got)
			}
		}
		stop()
		if n := <-writes; n == 0 {
			t.Error("no write went through during the backups")
		}
		names := fileNames(t, out)
		if !slices.Equal(names, []string{"copy-0.db", "copy-1.db", "copy-2.db", "copy-3.db", "copy-4.db"}) {
			t.Errorf("files in the backup directory: %v, want the five copies alone (no journal, no temporary file)", names)
		}
		c, err := sql.Open("sqlite3", "file:"+filepath.Join(out, "copy-4.db")+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var mode string
		if err := c.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "delete" {
			t.Errorf("the copy's journal mode is %q (%v), want delete: one file", mode, err)
		}
	})
}

// A secret key that does not match the database — the key file replaced
// under a stopped app's feet — is told as such, never as "WHAPI could not
// be reached": the app starts and logs an error naming the key file (not
// the key), the settings page says it next to the token, "Test
// connection" says it, the JSON API answers 503 key_mismatch with the same
// words, and no request reaches WHAPI. Pasting the token again (here
// through the API) puts it right.
func TestKeyMismatchIsToldAsSuch(t *testing.T) {
	t.Parallel()
	partner := "mismatch-" + randomKeyBase64(t, 24)
	sim := whapisim.New(whapisim.Options{PartnerToken: partner, StartupDelay: -1, ProjectIDs: []string{models.DefaultProjectID}})
	ws := httptest.NewServer(sim)
	t.Cleanup(ws.Close)

	dir := t.TempDir()
	db := filepath.Join(dir, "w.db")
	apiKey, store := installWithPartner(t, db, partner)
	cust, err := store.CreateUser(t.Context(), models.NewUser{Email: "amal@example.com", Password: adminPassword, Role: models.RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "secret.key")
	otherKey := randomKeyBase64(t, models.KeySize)
	if err := os.WriteFile(keyPath, []byte(otherKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	s := startServer(t, "serve", "--db", db, "--manager-url", ws.URL, "--gate-url", ws.URL)
	var seen []string // every text the admin and the operator are shown
	logs := s.stderr.String()
	seen = append(seen, logs)
	if !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "the secret key does not match this database") ||
		!strings.Contains(logs, "key="+keyPath) {
		t.Errorf("no start-up error naming the key file:\n%s", logs)
	}
	if strings.Contains(logs, otherKey) {
		t.Error("the log holds the key")
	}

	c := newBrowser(t)
	if status, _ := login(t, c, s.base, "admin@example.com", adminPassword); status != http.StatusSeeOther {
		t.Fatalf("login = %d", status)
	}
	resp, page := get(t, c, s.base+"/admin/settings/whapi")
	page = html.UnescapeString(page)
	seen = append(seen, page)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `data-testid="key-mismatch">`+provision.ErrKeyMismatch.Error()) {
		t.Errorf("the settings page (%d) does not say the key does not match next to the token:\n%s", resp.StatusCode, page)
	}
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no _csrf input on the settings page")
	}
	tr, err := c.PostForm(s.base+"/admin/settings/whapi/test", url.Values{"_csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(tr.Body)
	_ = tr.Body.Close()
	tested := html.UnescapeString(string(body))
	seen = append(seen, tested)
	if tr.StatusCode != http.StatusOK || strings.Count(tested, provision.ErrKeyMismatch.Error()) < 2 {
		t.Errorf("Test connection (%d) does not say it in its flash and next to the token:\n%s", tr.StatusCode, tested)
	}

	api := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, answer := api(http.MethodPost, "/api/channels", fmt.Sprintf(`{"user_id": %d, "name": "Shop"}`, cust.ID))
	seen = append(seen, answer)
	var apiErr struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(answer), &apiErr); err != nil || status != http.StatusServiceUnavailable ||
		apiErr.Error.Code != "key_mismatch" || apiErr.Error.Message != provision.ErrKeyMismatch.Error() {
		t.Errorf("POST /api/channels = %d %s, want 503 key_mismatch with the words", status, answer)
	}
	if n := sim.CountRequests("", ""); n != 0 {
		t.Errorf("WHAPI received %d requests, want none: there is no token to send", n)
	}
	seen = append(seen, s.stderr.String())
	for _, text := range seen {
		if strings.Contains(strings.ToLower(text), "could not be reached") || strings.Contains(text, "unreachable") {
			t.Errorf("told as WHAPI unreachable:\n%s", text)
		}
	}

	// The admin pastes the token again: it is sealed with this key.
	if status, answer := api(http.MethodPut, "/api/settings/whapi", fmt.Sprintf(`{"partner_token": %q}`, partner)); status != http.StatusOK {
		t.Fatalf("PUT /api/settings/whapi = %d %s", status, answer)
	}
	if _, page := get(t, c, s.base+"/admin/settings/whapi"); strings.Contains(page, "key-mismatch") {
		t.Error("the settings page still says the key does not match after the token was pasted again")
	}
	s.stop(t)
}
