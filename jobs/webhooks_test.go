package jobs_test

import (
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"whapidesk/internal/webhookout"
	"whapidesk/jobs"
	"whapidesk/models"
)

// receiver is a real HTTP endpoint that checks every request's signature
// against its secrets and answers with what answer says.
type receiver struct {
	srv *httptest.Server

	mu      sync.Mutex
	secrets [][]byte
	got     []received
	answer  func(n int, w http.ResponseWriter, r *http.Request) // n counts from 1
}

type received struct {
	id, typ  string
	verified []bool // per secret
	sigs     int    // v1= entries
	at       time.Time
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		}
		_ = json.Unmarshal(body, &ev)
		sig := r.Header.Get(webhookout.SignatureHeader)
		rc.mu.Lock()
		got := received{id: ev.ID, typ: ev.Type, sigs: strings.Count(sig, "v1="), at: time.Now()}
		for _, s := range rc.secrets {
			got.verified = append(got.verified, webhookout.Verify(s, sig, body, time.Now(), 0) == nil)
		}
		if r.Header.Get(webhookout.IDHeader) != ev.ID {
			got.id = "header " + r.Header.Get(webhookout.IDHeader) + " != body " + ev.ID
		}
		rc.got = append(rc.got, got)
		n := len(rc.got)
		rc.mu.Unlock()
		if rc.answer != nil {
			rc.answer(n, w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func (rc *receiver) trust(secret string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secrets = append(rc.secrets, []byte(secret))
}

// hookQueue starts a queue that delivers webhooks (private targets allowed
// unless strict) with backoff, and hands it to the workflows.
func (e *mailEnv) hookQueue(t *testing.T, logs *syncBuffer, strict bool, backoff time.Duration, roots ...*x509.CertPool) *jobs.Queue {
	t.Helper()
	e.svc.SetWebhookAllowPrivate(true)
	opts := webhookout.Options{AllowPrivate: !strict, Timeout: time.Second}
	if len(roots) > 0 {
		opts.RootCAs = roots[0]
	}
	d := webhookout.New(opts)
	t.Cleanup(d.Close)
	cfg := jobs.Config{NoPeriodic: true, Outbox: e.store, Webhooks: e.store, Deliverer: d,
		WebhookBackoff: func(int) time.Duration { return backoff }}
	q := open(t, e.db, &countingWork{}, logs, cfg)
	e.svc.SetMailQueue(q)
	e.svc.SetWebhookQueue(q)
	return q
}

func (e *mailEnv) endpoint(t *testing.T, rc *receiver, events ...string) (*models.WebhookEndpoint, string) {
	t.Helper()
	ep, secret, err := e.svc.CreateWebhookEndpoint(t.Context(), e.admin, rc.srv.URL+"/hooks", events)
	if err != nil {
		t.Fatal(err)
	}
	rc.trust(secret)
	return ep, secret
}

func (e *mailEnv) customer(t *testing.T, email string) *models.User {
	t.Helper()
	u, err := e.svc.CreateUser(t.Context(), e.admin, models.NewUser{Email: email, Password: "long enough pw", Role: models.RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *mailEnv) waitDelivery(t *testing.T, endpointID int64, want models.WebhookState) models.WebhookDelivery {
	t.Helper()
	var d models.WebhookDelivery
	waitFor(t, 30*time.Second, "the delivery is "+string(want), func() bool {
		ds, err := e.store.WebhookDeliveries(t.Context(), endpointID, 10)
		if err != nil || len(ds) == 0 {
			return false
		}
		d = ds[0]
		return d.State == want
	})
	return d
}

// A customer created reaches a real receiver signed with the endpoint's
// secret. The receiver fails it first with a 500, then makes it time out;
// it is tried again after the backoff each time, with the same event id,
// and the endpoint's attempts log shows each attempt's status, latency
// and error. The secret is in no log line.
func TestWebhookIsSignedAndRetriedAfter500AndTimeout(t *testing.T) {
	e := newMailEnv(t)
	release := make(chan struct{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			http.Error(w, "database down", http.StatusInternalServerError)
		case 2:
			select { // hold the answer past the sender's timeout
			case <-r.Context().Done():
			case <-release:
			}
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	defer close(release)
	logs := &syncBuffer{}
	const backoff = 400 * time.Millisecond
	e.hookQueue(t, logs, false, backoff)
	ep, secret := e.endpoint(t, rc, webhookout.CustomerCreated)
	u := e.customer(t, "lina@example.com")

	d := e.waitDelivery(t, ep.ID, models.WebhookDelivered)
	got := rc.requests()
	if len(got) != 3 || d.Attempts != 3 {
		t.Fatalf("%d requests, %d attempts, want 3 and 3: %+v", len(got), d.Attempts, got)
	}
	for i, g := range got {
		if g.id != d.EventID || g.typ != webhookout.CustomerCreated || len(g.verified) != 1 || !g.verified[0] || g.sigs != 1 {
			t.Errorf("request %d: %+v, want event %s signed with the secret", i+1, g, d.EventID)
		}
		if i > 0 && g.at.Sub(got[i-1].at) < backoff*4/5 {
			t.Errorf("request %d came %s after the one before, under the backoff %s", i+1, g.at.Sub(got[i-1].at), backoff)
		}
	}
	if !strings.Contains(d.Payload, `"email":"lina@example.com"`) || !strings.Contains(d.Payload, `"id":`+jsonInt(u.ID)) {
		t.Errorf("payload %s", d.Payload)
	}
	as, err := e.store.WebhookAttempts(t.Context(), ep.ID, 10)
	if err != nil || len(as) != 3 {
		t.Fatalf("attempts %+v (%v)", as, err)
	}
	// Newest first: delivered, timed out, 500.
	if as[0].StatusCode != 204 || as[0].Error != "" || as[1].StatusCode != 0 || !strings.Contains(as[1].Error, "did not answer") ||
		as[2].StatusCode != 500 || !strings.Contains(as[2].Error, "500") || !strings.Contains(as[2].Error, "database down") {
		t.Errorf("attempts log %+v", as)
	}
	if as[1].LatencyMS < 900 { // the sender's timeout is a second
		t.Errorf("the timed-out attempt's latency is %d ms", as[1].LatencyMS)
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), strings.TrimPrefix(secret, webhookout.SecretPrefix)) {
		t.Error("the secret is in the log")
	}
	if !strings.Contains(logs.String(), "webhook delivered") {
		t.Errorf("no log line of the delivery: %s", logs.String())
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// A 4xx other than 408/429 is a refusal: failed at once, not retried.
// Failures a retry may help are given up 24 hours after the first attempt.
func TestWebhookRefusedOrOutOfTimeFails(t *testing.T) {
	e := newMailEnv(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	})
	e.hookQueue(t, &syncBuffer{}, false, 25*time.Hour) // the next attempt would be past the 24 hours
	ep, _ := e.endpoint(t, rc, webhookout.CustomerCreated)
	e.customer(t, "a@example.com")
	d := e.waitDelivery(t, ep.ID, models.WebhookFailed)
	if d.Attempts != 1 || d.LastStatus != 400 || !strings.Contains(d.LastError, "refuses") {
		t.Errorf("refused delivery %+v", d)
	}
	e.customer(t, "b@example.com")
	waitFor(t, 30*time.Second, "the second delivery failed", func() bool {
		ds, _ := e.store.WebhookDeliveries(t.Context(), ep.ID, 10)
		return len(ds) == 2 && ds[0].State == models.WebhookFailed
	})
	ds, _ := e.store.WebhookDeliveries(t.Context(), ep.ID, 10)
	if ds[0].Attempts != 1 || ds[0].LastStatus != 502 || !strings.Contains(ds[0].LastError, "24 hours") {
		t.Errorf("given-up delivery %+v", ds[0])
	}
	if n := len(rc.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

// Without the setting, a private target is refused when delivered to
// (registered while it was allowed, or resolving to one later): the
// delivery fails and nothing reaches it.
func TestWebhookToPrivateTargetIsRefusedAtDelivery(t *testing.T) {
	e := newMailEnv(t)
	rc := newReceiver(t, nil)
	// An https receiver whose certificate the sender trusts: only the
	// address is wrong.
	rc.srv.Close()
	rc.srv = httptest.NewTLSServer(rc.srv.Config.Handler)
	t.Cleanup(rc.srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(rc.srv.Certificate())
	e.hookQueue(t, &syncBuffer{}, true, 100*time.Millisecond, roots)
	ep, _ := e.endpoint(t, rc, webhookout.CustomerCreated)
	e.customer(t, "c@example.com")
	d := e.waitDelivery(t, ep.ID, models.WebhookFailed)
	if len(rc.requests()) != 0 || !strings.Contains(d.LastError, "loopback") {
		t.Errorf("delivery %+v; %d requests reached the private target", d, len(rc.requests()))
	}
}

// After a rotation each request is signed with the new secret and, for
// the grace period, the old one: a receiver holding either verifies it.
// The test event reaches an endpoint whatever events it chose.
func TestRotatedSecretSignsBesideTheOldOne(t *testing.T) {
	e := newMailEnv(t)
	rc := newReceiver(t, nil)
	e.hookQueue(t, &syncBuffer{}, false, 100*time.Millisecond)
	ep, _ := e.endpoint(t, rc, webhookout.ChannelDeleted)
	next, err := e.svc.RotateWebhookSecret(t.Context(), e.admin, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	rc.trust(next)
	if err := e.svc.SendTestWebhook(t.Context(), e.admin, ep.ID); err != nil {
		t.Fatal(err)
	}
	d := e.waitDelivery(t, ep.ID, models.WebhookDelivered)
	got := rc.requests()
	if len(got) != 1 || got[0].typ != webhookout.WebhookTest || got[0].sigs != 2 || !got[0].verified[0] || !got[0].verified[1] {
		t.Fatalf("requests %+v", got)
	}
	if !strings.Contains(d.Payload, `"data":{}`) {
		t.Errorf("test payload %s", d.Payload)
	}
}
