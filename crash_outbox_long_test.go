//go:build long

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"whapidesk/internal/testsmtp"
	"whapidesk/internal/webhookout"
	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// The outbox's crash test (issue 16, the Proof). The real binary serves on
// a SQLite file, sending mail to a real SMTP server (go-smtp) and webhooks
// to a real HTTP receiver, both in this process so they outlive the app.
// 100 invitations are made through the API: 100 mails and 100
// customer.created deliveries, each queued in its cause's transaction. The
// app is SIGKILLed while they are being delivered, then started again.
//
// What is asserted, exactly:
//   - every one of the 100 mails (by its outbox Message-ID) and the 100
//     events (by event id, each signature verified with the endpoint's
//     secret) arrives;
//   - nothing arrives that was not queued, and an item arrives twice only
//     if it was in flight at the kill (its row "sending"): the app cannot
//     know whether the receiver took it, so it is sent again with the same
//     Message-ID or event id — the receiver tells the repeat by that id;
//   - every outbox row ends "sent" and every delivery "delivered".
//
// Timing: once 20 events are in, the webhook receiver holds each request
// unanswered until the restart, so deliveries are in flight at the kill
// (one left "sending" is sent again once models.WebhookLease, a minute,
// has passed). The SMTP server, once 30
// mails are in, answers "421 try again later" until the restart: the
// mails then wait on the queue's backoff, and the kill waits for the
// moment every one of them has been tried and none is being sent. Should
// one still be caught in flight (a mail queued just then, an admin's
// alert), it is sent again only after models.MailLease: the test allows
// for that, and says so in its log.
func TestLongCrashOutbox(t *testing.T) {
	const n = 100
	began := time.Now()
	ctx := context.Background()
	dir := t.TempDir()
	bin := whapideskBinary(t)

	smtpSrv := testsmtp.Start(t, testsmtp.Options{})
	hooks := newCrashReceiver(20)
	hookSrv := httptest.NewServer(hooks)
	t.Cleanup(hookSrv.Close)
	sim := whapisim.New(whapisim.Options{PartnerToken: "crash-outbox-partner-token", StartupDelay: -1})
	ws := httptest.NewServer(sim)
	t.Cleanup(ws.Close)

	key := randomKeyBase64(t, models.KeySize)
	db := filepath.Join(dir, "w.db")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WHAPIDESK_") && !strings.HasPrefix(kv, "WHAPI_") {
			env = append(env, kv)
		}
	}
	env = append(env, "WHAPIDESK_SECRET_KEY="+key, "WHAPI_MANAGER_URL="+ws.URL, "WHAPI_GATE_URL="+ws.URL,
		"WHAPIDESK_SMTP_URL="+smtpSrv.URL(), "WHAPIDESK_MAIL_FROM=Crash Desk <desk@example.com>",
		"WHAPIDESK_WEBHOOK_ALLOW_PRIVATE=1", "WHAPIDESK_PUBLIC_URL=https://desk.example.com")
	command := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("whapidesk %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
		}
		return out.String()
	}
	made, err := openStore(ctx, Config{DBPath: db, SecretKey: key}, newLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if err := made.Close(); err != nil {
		t.Fatal(err)
	}
	command("create-admin", "--db", db, "--email", crashAdmin, "--password", adminPassword)
	apiKey := lastLine(command("apikey", "create", "--db", db, "--email", crashAdmin, "--name", "crash outbox"))

	child := startCrashChild(t, bin, db, env)
	api := newCrashAPI(child.base, apiKey)
	defer api.close()
	var ep struct {
		ID     int64
		Secret string
	}
	api.must(t, 201, "POST", "/api/webhooks", map[string]any{"url": hookSrv.URL + "/in", "events": []string{webhookout.CustomerCreated}}, &ep)
	hooks.setSecret(ep.Secret)

	// 100 invitations, 8 at a time: each queues a mail and a delivery.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			status, b, err := api.call("POST", "/api/users", map[string]any{"email": fmt.Sprintf("c%03d@example.com", i), "name": "Crash", "role": "customer"})
			if err != nil || status != 201 {
				errs <- fmt.Errorf("invitation %d: %d %v %s", i, status, err, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Kill once both are well under way.
	smtpSrv.RefuseMailAfter(30, &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "try again later"})
	waitUntil(t, 2*time.Minute, "30 mails and 20 events delivered, more events in flight", func() bool {
		return len(smtpSrv.MessageIDs()) >= 30 && hooks.count() >= 20 && hooks.holding() > 0
	})
	// The kill comes in a quiet moment of the mail queue: every mail not
	// sent has been tried (and refused) and none is being sent, so the next
	// try is the queue's backoff (30 s) away. A kill then finds no mail
	// "sending" (one found would be sent again only after models.MailLease):
	// the events held unanswered are what it catches in flight.
	watch, err := sql.Open("sqlite3", "file:"+db+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	waitUntil(t, 2*time.Minute, "every mail not sent tried once, none being sent", func() bool {
		var untried, sending int64
		err := watch.QueryRow(`SELECT COUNT(*) FILTER (WHERE state = 'queued' AND attempts = 0),
			COUNT(*) FILTER (WHERE state = 'sending') FROM mail_outbox`).Scan(&untried, &sending)
		return err == nil && untried == 0 && sending == 0
	})
	child.kill(t)
	killedAt := time.Now()
	mailsAtKill, hooksAtKill := len(smtpSrv.MessageIDs()), hooks.count()

	store := openCrashStore(t, db, key)
	t.Cleanup(func() { _ = store.Close() })
	inFlightMail := rowsIn(t, store, "SELECT message_id FROM mail_outbox WHERE state = 'sending'")
	inFlightHooks := rowsIn(t, store, "SELECT event_id FROM webhook_deliveries WHERE state = 'sending'")
	t.Logf("killed after %s: %d mails and %d events received; in flight: %d mails, %d events",
		time.Since(began).Round(time.Second), mailsAtKill, hooksAtKill, len(inFlightMail), len(inFlightHooks))
	if mailsAtKill >= n || hooksAtKill >= n {
		t.Fatalf("everything was delivered before the kill (%d mails, %d events): the test proves nothing", mailsAtKill, hooksAtKill)
	}

	smtpSrv.Recover()
	hooks.openGate()
	child = startCrashChild(t, bin, db, env)
	within := 3 * time.Minute
	if len(inFlightMail) > 0 {
		within += models.MailLease
		t.Logf("a mail was in flight at the kill: it is sent again after its %s lease", models.MailLease)
	}
	waitUntil(t, within, "every mail and event delivered", func() bool {
		return len(smtpSrv.MessageIDs()) >= n && len(hooks.ids()) >= n && outboxCount(t, store,
			"SELECT (SELECT COUNT(*) FROM mail_outbox WHERE state <> 'sent') + (SELECT COUNT(*) FROM webhook_deliveries WHERE state <> 'delivered')") == 0
	})
	child.term(t)
	t.Logf("all delivered %s after the kill (%s in all)", time.Since(killedAt).Round(time.Second), time.Since(began).Round(time.Second))

	// Every mail queued is checked, the invitations and whatever else the
	// app queued meanwhile (the admins' alerts and daily summary).
	queuedMail := rowsIn(t, store, "SELECT message_id FROM mail_outbox")
	invitations := rowsIn(t, store, "SELECT message_id FROM mail_outbox WHERE kind = 'invitation'")
	queuedHooks := rowsIn(t, store, "SELECT event_id FROM webhook_deliveries")
	if len(invitations) != n || len(queuedHooks) != n {
		t.Fatalf("%d invitations and %d deliveries queued, want %d each", len(invitations), len(queuedHooks), n)
	}
	checkOnce(t, "mail", smtpSrv.MessageIDs(), queuedMail, inFlightMail)
	checkOnce(t, "event", hooks.ids(), queuedHooks, inFlightHooks)
	if bad := hooks.unverified(); bad != 0 {
		t.Errorf("%d webhook requests failed their signature check", bad)
	}
}

// checkOnce: every queued id arrived; none arrived that was not queued;
// one arrived twice only if it was in flight at the kill.
func checkOnce(t *testing.T, what string, got map[string]int, queued, inFlight []string) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range queued {
		want[id] = true
	}
	flying := map[string]bool{}
	for _, id := range inFlight {
		flying[id] = true
	}
	twice := 0
	for id, k := range got {
		switch {
		case !want[id]:
			t.Errorf("a %s that was never queued arrived: %s", what, id)
		case k > 1 && !flying[id]:
			t.Errorf("%s %s arrived %d times, and was not in flight at the kill", what, id, k)
		case k > 1:
			twice++
		}
	}
	for id := range want {
		if got[id] == 0 {
			t.Errorf("%s %s never arrived", what, id)
		}
	}
	t.Logf("%ss: %d queued, %d arrived, %d in flight at the kill, %d of those arrived twice (same id)", what, len(queued), len(got), len(inFlight), twice)
}

func rowsIn(t *testing.T, store *models.Store, q string) []string {
	t.Helper()
	var out []string
	if err := store.DB().Raw(q).Scan(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

func outboxCount(t *testing.T, store *models.Store, q string) int64 {
	t.Helper()
	var n int64
	if err := store.DB().Raw(q).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crashReceiver is the reseller's endpoint: it verifies each request's
// signature and counts event ids.
type crashReceiver struct {
	mu      sync.Mutex
	secret  []byte
	seen    map[string]int
	invalid int
	// Once gateAt events are in, each request is held unanswered (in
	// flight) until the gate opens or the sender goes away.
	gateAt int
	held   int
	open   chan struct{}
}

func newCrashReceiver(gateAt int) *crashReceiver {
	return &crashReceiver{seen: map[string]int{}, gateAt: gateAt, open: make(chan struct{})}
}

func (r *crashReceiver) openGate() { close(r.open) }

func (r *crashReceiver) holding() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

func (r *crashReceiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = []byte(s)
}

func (r *crashReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	var ev struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &ev)
	r.mu.Lock()
	shut := len(r.seen) >= r.gateAt
	if shut {
		r.held++
	}
	r.mu.Unlock()
	if shut {
		select {
		case <-r.open:
		case <-req.Context().Done():
			return // the sender is gone (killed, or timed out): not taken
		}
	}
	r.mu.Lock()
	if webhookout.Verify(r.secret, req.Header.Get(webhookout.SignatureHeader), body, time.Now(), 0) != nil || ev.ID == "" ||
		req.Header.Get(webhookout.IDHeader) != ev.ID {
		r.invalid++
		r.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	r.seen[ev.ID]++
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *crashReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *crashReceiver) ids() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.seen {
		out[k] = v
	}
	return out
}

func (r *crashReceiver) unverified() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.invalid
}
