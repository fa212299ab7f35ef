package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/provision"
)

// recorder is a browser that keeps every response it gets — status line,
// headers (cookies included) and body — for the secrets search.
type recorder struct {
	t         *testing.T
	c         *http.Client
	base      string
	csrf      string // the page's <meta name="csrf-token">, once a page was read
	responses *[]string
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)"`)

func (r *recorder) do(method, path, contentType string, body io.Reader) (int, string) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.base+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if method != http.MethodGet && r.csrf != "" {
		req.Header.Set("X-CSRF-Token", r.csrf)
	}
	resp, err := r.c.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s %s → %s\n", method, path, resp.Status)
	_ = resp.Header.Write(&head)
	*r.responses = append(*r.responses, head.String()+"\n"+string(b))
	if m := csrfMeta.FindStringSubmatch(string(b)); m != nil {
		r.csrf = m[1]
	}
	return resp.StatusCode, string(b)
}

func (r *recorder) get(path string, want int) string {
	r.t.Helper()
	status, body := r.do(http.MethodGet, path, "", nil)
	if status != want {
		r.t.Fatalf("GET %s = %d, want %d\n%s", path, status, want, body)
	}
	return body
}

func (r *recorder) postForm(path string, form url.Values, want int) string {
	r.t.Helper()
	status, body := r.do(http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if status != want {
		r.t.Fatalf("POST %s = %d, want %d\n%s", path, status, want, body)
	}
	return body
}

// sendJSON sends a JSON body with the session cookie and X-CSRF-Token, and
// decodes the answer into out (when not nil).
func (r *recorder) sendJSON(method, path string, in any, want int, out any) {
	r.t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		r.t.Fatal(err)
	}
	status, body := r.do(method, path, "application/json", bytes.NewReader(b))
	if status != want {
		r.t.Fatalf("%s %s = %d, want %d\n%s", method, path, status, want, body)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(body), out); err != nil {
			r.t.Fatalf("%s %s: %v\n%s", method, path, err, body)
		}
	}
}

// login signs in through the form (the pre-login CSRF token included).
func (r *recorder) login(email, password string) {
	r.t.Helper()
	page := r.get("/login", http.StatusOK)
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		r.t.Fatal("no _csrf input on the login page")
	}
	r.postForm("/login", url.Values{"email": {email}, "password": {password}, "_csrf": {m[1]}}, http.StatusSeeOther)
}

var (
	anyPasswordLine = regexp.MustCompile(`(?m)^\s*Password\s+(\S+)\s*$`)
	formInputValue  = func(name string) *regexp.Regexp {
		return regexp.MustCompile(`name="` + name + `"[^>]*?value="([^"]*)"`)
	}
)

// TestSecretsNeverInPlainText runs the demo flow against the real server —
// with its own address as the public URL, so every channel gets a webhook
// of the (built-in) WHAPI's — the admin saves the partner token (form and
// JSON API), creates channels for customers through the JSON API, credits
// days and extends a channel; a customer opens the connect page and its
// QR; WHAPI posts an event to a channel's webhook — then stops the server,
// writes a backup, and searches everything the app wrote for the partner
// token, every channel token and every webhook secret: the logs, every
// response (status, headers, body), the database, its WAL and the backup.
// Zero hits.
func TestSecretsNeverInPlainText(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	s := startServer(t, "demo", "--db", db, "--public-url", selfURL)
	pw := anyPasswordLine.FindAllStringSubmatch(s.stdout.String(), -1)
	if len(pw) != 2 {
		t.Fatalf("want the admin's and the customers' password lines in stdout:\n%s", s.stdout)
	}
	adminPW, customerPW := pw[0][1], pw[1][1]
	raw, err := os.ReadFile(filepath.Join(dir, "demo-partner-token.txt"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))

	var responses []string
	admin := &recorder{t: t, c: newBrowser(t), base: s.base, responses: &responses}
	admin.login("admin@example.com", adminPW)
	page := admin.get("/admin/settings/whapi", http.StatusOK)
	form := url.Values{"partner_token": {token}, "_csrf": {csrfInput.FindStringSubmatch(page)[1]}}
	for _, name := range []string{"project_id", "low_balance_threshold", "topup_window_days"} {
		m := formInputValue(name).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no %s input on the settings page", name)
		}
		form.Set(name, m[1])
	}
	if status, body := admin.do(http.MethodPost, "/admin/settings/whapi", "application/x-www-form-urlencoded", strings.NewReader(form.Encode())); status >= 400 {
		t.Fatalf("POST /admin/settings/whapi = %d\n%s", status, body)
	}
	admin.get("/admin/settings/whapi", http.StatusOK)
	admin.sendJSON(http.MethodPut, "/api/settings/whapi", map[string]any{"partner_token": "Bearer " + token}, http.StatusOK, nil)
	admin.get("/api/settings/whapi", http.StatusOK)

	var users struct {
		Items []struct {
			ID    int64  `json:"id"`
			Email string `json:"email"`
		} `json:"items"`
	}
	admin.sendJSON(http.MethodGet, "/api/users", nil, http.StatusOK, &users)
	ids := map[string]int64{}
	for _, u := range users.Items {
		ids[u.Email] = u.ID
	}
	amal, bruno := ids["amal@example.com"], ids["bruno@example.com"]
	if amal == 0 || bruno == 0 {
		t.Fatalf("demo customers not listed: %v", ids)
	}
	admin.sendJSON(http.MethodPost, fmt.Sprintf("/api/users/%d/days", amal), map[string]any{"days": 30, "comment": "secrets test"}, http.StatusOK, nil)
	var channelIDs []int64
	var ch struct {
		ID int64 `json:"id"`
	}
	admin.sendJSON(http.MethodPost, "/api/channels", map[string]any{"name": "Sales", "user_id": amal}, http.StatusCreated, &ch)
	channelIDs = append(channelIDs, ch.ID)
	// Bruno's channel is the demo's sample line, made once the save above
	// picked the project; it is used once the demo has linked and dropped
	// its phone, so the two do not interleave.
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(s.stderr.String(), "the demo linked and dropped a phone on its sample line"); {
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not make its sample line:\n%s", s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var brunos struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	admin.sendJSON(http.MethodGet, fmt.Sprintf("/api/channels?user_id=%d", bruno), nil, http.StatusOK, &brunos)
	if len(brunos.Items) != 1 {
		t.Fatalf("Bruno's channels: %+v, want the demo's sample line", brunos.Items)
	}
	channelIDs = append(channelIDs, brunos.Items[0].ID)
	// Bruno's channel: his days are allocated by hand, so this is its first
	// extend (WHAPI takes one extend of a channel every five minutes, and
	// Amal's got its first days on create).
	admin.sendJSON(http.MethodPost, fmt.Sprintf("/api/channels/%d/extend", channelIDs[1]), map[string]any{"days": 5, "comment": "secrets test"}, http.StatusOK, nil)
	for _, p := range []string{"/admin", "/admin/channels", "/admin/channels.csv", "/admin/audit", fmt.Sprintf("/admin/users/%d", amal),
		fmt.Sprintf("/api/channels/%d", channelIDs[0]), "/api/channels", fmt.Sprintf("/api/users/%d/ledger", amal)} {
		admin.get(p, http.StatusOK)
	}

	customer := &recorder{t: t, c: newBrowser(t), base: s.base, responses: &responses}
	customer.login("amal@example.com", customerPW)
	id := channelIDs[0]
	customer.get("/app", http.StatusOK)
	customer.get(fmt.Sprintf("/app/channels/%d/connect", id), http.StatusOK)
	customer.get(fmt.Sprintf("/app/channels/%d/connect/status", id), http.StatusOK)
	customer.do(http.MethodGet, fmt.Sprintf("/app/channels/%d/qr.png", id), "", nil)
	customer.get(fmt.Sprintf("/api/channels/%d/qr", id), http.StatusOK)
	customer.get("/api/channels", http.StatusOK)

	// Each channel's webhook, as WHAPI holds it (read from the built-in
	// simulator with the channel's token, from the database opened beside
	// the server); WHAPI posts a link to one.
	hookSecrets := webhookSecrets(t, s.base, db, len(channelIDs))
	link := `{"user":{"id":"15551234567","name":"Amal"},"event":{"type":"users","event":"post"}}`
	for _, secret := range hookSecrets {
		resp, err := http.Post(s.base+"/hooks/whapi/"+secret, "application/json", strings.NewReader(link))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook = %d %s", resp.StatusCode, b)
		}
		var head bytes.Buffer // the answer, without the address the test posted to
		fmt.Fprintf(&head, "POST /hooks/whapi/[its secret] → %s\n", resp.Status)
		_ = resp.Header.Write(&head)
		responses = append(responses, head.String()+"\n"+string(b))
	}

	// The WAL holds the recent writes while the server runs: read it now,
	// since a clean shutdown checkpoints it into the database and removes it.
	files := map[string][]byte{}
	readInto := func(label, path string) {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		files[label] = b
	}
	readInto("database while serving", db)
	readInto("WAL while serving", db+"-wal")
	if len(files["WAL while serving"]) == 0 {
		t.Error("no WAL while serving: the search would not cover it")
	}
	s.stop(t)

	store, err := openStore(t.Context(), Config{DBPath: db}, newLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := store.ListChannels(t.Context(), models.ChannelFilter{IncludeGone: true})
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"partner token": token, "partner token's signature": token[strings.LastIndexByte(token, '.')+1:]}
	for _, r := range rows {
		tok, err := store.ChannelToken(&r.Channel)
		if err != nil || len(tok) < 8 {
			t.Fatalf("channel %d token: %d chars, %v", r.ID, len(tok), err)
		}
		secrets[fmt.Sprintf("channel %d token", r.ID)] = tok
	}
	if len(rows) != len(channelIDs) {
		t.Fatalf("%d channels in the database, want %d", len(rows), len(channelIDs))
	}
	for i, sec := range hookSecrets {
		secrets[fmt.Sprintf("webhook secret %d", i)] = sec
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	backupPath := filepath.Join(t.TempDir(), "backup.db")
	mustRun(t, "", "backup", "--db", db, backupPath)
	readInto("database", db)
	readInto("WAL", db+"-wal")
	readInto("backup", backupPath)
	if len(files["backup"]) == 0 {
		t.Fatal("the backup is empty")
	}

	where := map[string]string{"stdout": s.stdout.String(), "stderr": s.stderr.String()}
	for i, r := range responses {
		where[fmt.Sprintf("response %d (%s)", i, strings.SplitN(r, "\n", 2)[0])] = r
	}
	for label, b := range files {
		where[label] = string(b)
	}
	// Positive controls: the search reads real bytes — the sealed values are
	// in the database, and the token file (written for the demo admin) holds
	// the token in plain text.
	if !strings.Contains(where["backup"], "v1:") {
		t.Error("no sealed value in the backup: the search reads the wrong bytes")
	}
	if !strings.Contains(string(raw), secrets["partner token"]) {
		t.Error("the positive control failed")
	}
	for _, sec := range hookSecrets { // what is kept of a webhook secret: its hash
		if !strings.Contains(where["backup"], models.SecretHash(sec)) {
			t.Error("a webhook secret's hash is not in the backup: the search reads the wrong bytes")
		}
	}
	if !strings.Contains(where["stderr"], "path=/hooks/whapi/…") {
		t.Error("the request log does not show the webhook's requests: the search of the logs means nothing")
	}
	hits := 0
	for name, secret := range secrets {
		// Plain text, and its standard base64 (a header or a JSON []byte would use it).
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
			for label, text := range where {
				if strings.Contains(text, form) {
					hits++
					t.Errorf("the %s appears in %s", name, label)
				}
			}
		}
	}
	t.Logf("searched %d responses, the logs, %d files (%d bytes) for %d secrets: %d hits",
		len(responses), len(files), func() (n int) {
			for _, b := range files {
				n += len(b)
			}
			return n
		}(), len(secrets), hits)
}

// seedSecrets saves a partner token and two channel tokens in the database
// at db (opened the way the commands open it) and returns them.
func seedSecrets(t *testing.T, db string) []string {
	t.Helper()
	makeInstall(t, db)
	mustRun(t, "", "create-admin", "--db", db, "--email", "admin@example.com", "--password", adminPassword)
	store := openTestStore(t, db)
	ctx := t.Context()
	partner := "Bearer rotate-partner-" + randomKeyBase64(t, 12)
	if _, _, err := store.UpdateSettings(ctx, models.SystemActor, models.SettingsChange{PartnerToken: &partner, Hint: "Bearer …"}); err != nil {
		t.Fatal(err)
	}
	store.SetPasswordCost(4)
	u, err := store.CreateUser(ctx, models.NewUser{Email: "c@example.com", Password: adminPassword, Role: models.RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	p, err := store.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: "P", MaxChannels: 5, DaysPerPeriod: 30, PeriodDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.ActivatePlan(ctx, models.SystemActor, u.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	secrets := []string{partner}
	for i := range 2 {
		_, op, err := store.ReserveChannel(ctx, models.SystemActor, u.ID, fmt.Sprintf("line %d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		tok := "rotate-channel-" + randomKeyBase64(t, 12)
		if _, err := store.ConfirmCreate(ctx, op.ID, models.RemoteChannel{WhapiID: fmt.Sprintf("W%d", i), Token: tok, Mode: "trial", ActiveTill: time.Now().Add(72 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, tok)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	return secrets
}

// checkSecrets opens db with the key the commands would use now and checks
// the partner token reads back.
func checkSecrets(t *testing.T, db string, want []string) {
	t.Helper()
	store, err := openStore(t.Context(), Config{DBPath: db, SecretKey: os.Getenv("WHAPIDESK_SECRET_KEY")}, newLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	got, err := store.PartnerToken(t.Context())
	if err != nil || got != want[0] {
		t.Errorf("PartnerToken after rotation = %q, %v; want %q", got, err, want[0])
	}
	rows, _, err := store.ListChannels(t.Context(), models.ChannelFilter{IncludeGone: true})
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for _, r := range rows {
		tok, err := store.ChannelToken(&r.Channel)
		if err != nil {
			t.Errorf("channel %d token after rotation: %v", r.ID, err)
		}
		tokens = append(tokens, tok)
	}
	if strings.Join(sortedCopy(tokens), " ") != strings.Join(sortedCopy(want[1:]), " ") {
		t.Errorf("channel tokens after rotation = %q, want %q", tokens, want[1:])
	}
	ids, err := store.SecretKeyIDs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[store.Cipher().KeyID()] == 0 {
		t.Errorf("secrets by key id = %v, want all under %s", ids, store.Cipher().KeyID())
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestRotateKeyCommandWithKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "w.db")
	want := seedSecrets(t, db)
	keyPath := filepath.Join(dir, "secret.key")
	oldText, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	oldKey, err := models.ParseKey(string(oldText))
	if err != nil {
		t.Fatal(err)
	}
	oldCipher, _ := models.NewCipher(oldKey)

	out := mustRun(t, "", "rotate-key", "--db", db)
	if !strings.Contains(out, "Re-encrypted 3 secrets") {
		t.Errorf("stdout = %q, want the count", out)
	}
	newText, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(newText, oldText) {
		t.Fatal("secret.key did not change")
	}
	if strings.Contains(out, strings.TrimSpace(string(newText))) || strings.Contains(out, strings.TrimSpace(string(oldText))) {
		t.Error("rotate-key printed a key although it lives in a file")
	}
	oldPath := keyPath + ".old-" + oldCipher.KeyID()
	kept, err := os.ReadFile(oldPath)
	if err != nil || !bytes.Equal(kept, oldText) {
		t.Errorf("old key file %s: %v (same content: %v)", oldPath, err, bytes.Equal(kept, oldText))
	}
	for _, p := range []string{keyPath, oldPath} {
		if m := fileMode(t, p); m != 0o600 {
			t.Errorf("%s mode = %o, want 600", filepath.Base(p), m)
		}
	}
	if names := fileNames(t, dir); strings.Contains(strings.Join(names, " "), ".new") || strings.Contains(strings.Join(names, " "), ".tmp") {
		t.Errorf("temporary files left: %v", names)
	}
	checkSecrets(t, db, want)

	// The old key no longer reads the secrets.
	store, err := models.Open(t.Context(), models.Database{Path: db}, oldCipher, provision.States())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.PartnerToken(t.Context()); !errors.Is(err, models.ErrDecrypt) {
		t.Errorf("PartnerToken with the old key: %v, want ErrDecrypt", err)
	}
	_ = store.Close()

	// A second rotation works the same way.
	mustRun(t, "", "rotate-key", "--db", db)
	checkSecrets(t, db, want)
}

// A rotation that committed the database but crashed before the key file
// was replaced finishes on the next run, with the staged key.
func TestRotateKeyCommandResumesAfterACrash(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "w.db")
	want := seedSecrets(t, db)
	stagedText := randomKeyBase64(t, models.KeySize)
	staged, _ := models.ParseKey(stagedText)
	next, _ := models.NewCipher(staged)
	if err := os.WriteFile(filepath.Join(dir, "secret.key.new"), []byte(stagedText+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := openTestStore(t, db)
	if n, err := store.RotateSecrets(t.Context(), next); err != nil || n != 3 {
		t.Fatalf("RotateSecrets = %d, %v", n, err)
	}
	_ = store.Close()
	// secret.key is still the old key: the crash came before the rename.

	other := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(other, []byte(randomKeyBase64(t, models.KeySize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "", "rotate-key", "--db", db, "--new-key-file", other); err == nil {
		t.Error("rotate-key with another key while one is staged succeeded, want an error")
	}

	out := mustRun(t, "", "rotate-key", "--db", db)
	if !strings.Contains(out, "Resuming") || !strings.Contains(out, "Re-encrypted 0 secrets") {
		t.Errorf("stdout = %q, want a resumed rotation with nothing left to re-encrypt", out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "secret.key"))
	if err != nil || strings.TrimSpace(string(got)) != stagedText {
		t.Errorf("secret.key is not the staged key (%v)", err)
	}
	checkSecrets(t, db, want)
}

func TestRotateKeyCommandWithEnvironmentKey(t *testing.T) {
	t.Setenv("WHAPIDESK_SECRET_KEY", randomKeyBase64(t, models.KeySize))
	dir := t.TempDir()
	db := filepath.Join(dir, "w.db")
	want := seedSecrets(t, db)

	out := mustRun(t, "", "rotate-key", "--db", db)
	newKey := lastLine(out)
	if _, err := models.ParseKey(newKey); err != nil {
		t.Fatalf("the last line is not a key: %q (%v)\n%s", newKey, err, out)
	}
	if !strings.Contains(out, "WHAPIDESK_SECRET_KEY") {
		t.Errorf("stdout does not tell to set WHAPIDESK_SECRET_KEY:\n%s", out)
	}
	if names := fileNames(t, dir); strings.Contains(strings.Join(names, " "), "secret.key") {
		t.Errorf("key files written although the key is in the environment: %v", names)
	}
	t.Setenv("WHAPIDESK_SECRET_KEY", newKey)
	checkSecrets(t, db, want)

	// --new-key-file chooses the key (and a re-run with it is safe).
	chosen := randomKeyBase64(t, models.KeySize)
	f := filepath.Join(t.TempDir(), "new.key")
	if err := os.WriteFile(f, []byte(chosen+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := lastLine(mustRun(t, "", "rotate-key", "--db", db, "--new-key-file", f)); got != chosen {
		t.Errorf("last line = %q, want the chosen key", got)
	}
	out = mustRun(t, "", "rotate-key", "--db", db, "--new-key-file", f) // crashed before the admin changed the variable
	if !strings.Contains(out, "Re-encrypted 0 secrets") {
		t.Errorf("re-run: %q, want nothing re-encrypted", out)
	}
	t.Setenv("WHAPIDESK_SECRET_KEY", chosen)
	checkSecrets(t, db, want)
}

func TestRotateKeyCommandRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, _, err := runCmd(t, "", "rotate-key", "--db", filepath.Join(dir, "none.db")); err == nil {
		t.Error("rotate-key without a database succeeded")
	}
	if names := fileNames(t, dir); len(names) != 0 {
		t.Errorf("files created: %v", names)
	}
	db := filepath.Join(dir, "w.db")
	seedSecrets(t, db)
	if err := os.Remove(filepath.Join(dir, "secret.key")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "", "rotate-key", "--db", db); err == nil {
		t.Error("rotate-key without the key file succeeded (it would have made a new key)")
	}
	if _, err := os.Stat(filepath.Join(dir, "secret.key")); !errors.Is(err, os.ErrNotExist) {
		t.Error("rotate-key created a key file")
	}
	if _, _, err := runCmd(t, "", "rotate-key", "--db", db, "extra"); err == nil {
		t.Error("rotate-key with an extra argument succeeded")
	}
}

// webhookSecrets returns the secret of each of the n channels' webhooks,
// as the built-in simulator (serving at base) holds them: the channel
// tokens are read from the database, opened beside the running server.
func webhookSecrets(t *testing.T, base, db string, n int) []string {
	t.Helper()
	store, err := openStore(t.Context(), Config{DBPath: db}, newLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rows, _, err := store.ListChannels(t.Context(), models.ChannelFilter{})
	if err != nil || len(rows) != n {
		t.Fatalf("%d channels, %v", len(rows), err)
	}
	var out []string
	for _, r := range rows {
		tok, err := store.ChannelToken(&r.Channel)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, base+simPrefix+"/settings", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ Webhooks []struct{ URL string } }
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil || len(st.Webhooks) != 1 {
			t.Fatalf("channel %d's webhooks at WHAPI: %+v %v", r.ID, st, err)
		}
		sec, ok := strings.CutPrefix(st.Webhooks[0].URL, base+"/hooks/whapi/")
		if !ok || len(sec) < 32 {
			t.Fatalf("channel %d's webhook is not the app's", r.ID)
		}
		out = append(out, sec)
	}
	return out
}
