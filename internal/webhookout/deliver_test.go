package webhookout_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/webhookout"
)

// received is one request as the receiver saw it, and what Verify said.
type received struct {
	header    http.Header
	body      []byte
	verifyErr error
}

// receiver is a real HTTP endpoint that checks every delivery's signature
// with Verify, as a reseller's system would, then answers with answer.
type receiver struct {
	*httptest.Server
	secret []byte
	got    chan received
}

// newReceiver starts a receiver on 127.0.0.1 (tls: https with httptest's
// certificate, valid for 127.0.0.1 and *.example.com).
func newReceiver(t *testing.T, tls bool, answer http.HandlerFunc) *receiver {
	t.Helper()
	r := &receiver{secret: []byte(webhookout.NewSecret()), got: make(chan received, 16)}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.got <- received{
			header:    req.Header.Clone(),
			body:      body,
			verifyErr: webhookout.Verify(r.secret, req.Header.Get(webhookout.SignatureHeader), body, time.Now(), 0),
		}
		answer(w, req)
	})
	if tls {
		r.Server = httptest.NewTLSServer(h)
	} else {
		r.Server = httptest.NewServer(h)
	}
	t.Cleanup(r.Close)
	return r
}

// status answers every delivery with code.
func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// url is the receiver's address with path and query.
func (r *receiver) url(t *testing.T, pathQuery string) *url.URL {
	t.Helper()
	u, err := url.Parse(r.URL + pathQuery)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// one waits for the one delivery the receiver got; Deliver has returned
// before, so it is there or it never came.
func (r *receiver) one(t *testing.T) received {
	t.Helper()
	select {
	case got := <-r.got:
		return got
	default:
		t.Fatal("the receiver got no delivery")
		return received{}
	}
}

func (r *receiver) none(t *testing.T) {
	t.Helper()
	select {
	case got := <-r.got:
		t.Fatalf("the receiver got a delivery: %s", got.body)
	default:
	}
}

func linked(t *testing.T) webhookout.Event {
	t.Helper()
	return webhookout.Event{
		ID:   webhookout.NewEventID(),
		Type: webhookout.ChannelLinked,
		Time: time.Date(2026, 12, 7, 14, 3, 12, 0, time.FixedZone("CET", 3600)),
		Data: json.RawMessage(`{"id": 42, "name": "Sales line", "status": "active", "linked": true}`),
	}
}

// deliverWithin runs Deliver and fails the test if it has not returned
// within limit — a guard against a hang, never a pause.
func deliverWithin(t *testing.T, limit time.Duration, d *webhookout.Deliverer, u *url.URL, secret []byte, ev webhookout.Event) webhookout.Attempt {
	t.Helper()
	ch := make(chan webhookout.Attempt, 1)
	go func() { ch <- d.Deliver(t.Context(), u, secret, ev) }()
	select {
	case a := <-ch:
		return a
	case <-time.After(limit):
		t.Fatalf("Deliver has not returned after %v: it has no working timeout", limit)
		return webhookout.Attempt{}
	}
}

func TestDeliverSignedEvent(t *testing.T) {
	rcv := newReceiver(t, false, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "thanks\n\tqueued")
	})
	d := webhookout.New(webhookout.Options{AllowPrivate: true})
	t.Cleanup(d.Close)
	ev := linked(t)

	a := d.Deliver(t.Context(), rcv.url(t, "/hooks/in?src=desk"), rcv.secret, ev)
	if !a.Delivered() || a.Err != nil || a.Retry || a.Status != http.StatusAccepted {
		t.Fatalf("Attempt = %+v, want delivered with 202", a)
	}
	if a.Latency <= 0 {
		t.Errorf("Latency = %v, want the time it took", a.Latency)
	}
	if a.Body != "thanks queued" {
		t.Errorf("Body = %q, want the answer's start on one line", a.Body)
	}
	got := rcv.one(t)
	if got.verifyErr != nil {
		t.Errorf("the receiver's Verify: %v", got.verifyErr)
	}
	for name, want := range map[string]string{
		"Content-Type": "application/json",
		"User-Agent":   "whapidesk-webhooks/1",
		"Webhook-Id":   ev.ID,
	} {
		if v := got.header.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	want, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(got.body) != string(want) {
		t.Errorf("body = %s\nwant %s", got.body, want)
	}
	var payload struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		CreatedAt time.Time       `json:"created_at"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(got.body, &payload); err != nil {
		t.Fatal(err)
	}
	if payload.ID != ev.ID || payload.Type != "channel.linked" || !payload.CreatedAt.Equal(ev.Time) ||
		!strings.HasSuffix(string(got.body), `"created_at":"2026-12-07T13:03:12Z","data":{"id":42,"name":"Sales line","status":"active","linked":true}}`) {
		t.Errorf("payload = %s; want the event's id, type, time in UTC and data", got.body)
	}
}

// TestDeliverOutcomes: what each answer means for the retry schedule.
func TestDeliverOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		answer    http.HandlerFunc
		status    int
		retry     bool
		gone      bool
		says      string
		retryWait time.Duration
	}{
		{"200", status(200), 200, false, false, "", 0},
		{"204", status(204), 204, false, false, "", 0},
		{"500 is retried", status(500), 500, true, false, "500 Internal Server Error", 0},
		{"502 is retried", status(502), 502, true, false, "502", 0},
		{"an unnamed 5xx is retried", status(599), 599, true, false, "answered 599; a retry may help", 0},
		{"503 with Retry-After", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(503)
		}, 503, true, false, "503", 2 * time.Minute},
		{"410 stops for good", status(410), 410, false, true, "410 Gone", 0},
		{"429 is retried", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "90")
			w.WriteHeader(429)
		}, 429, true, false, "429 Too Many Requests", 90 * time.Second},
		{"408 is retried", status(408), 408, true, false, "408", 0},
		{"400 is permanent", status(400), 400, false, false, "400 Bad Request: it refuses this event, so a retry will not help", 0},
		{"401 is permanent", status(401), 401, false, false, "401", 0},
		{"404 is permanent", status(404), 404, false, false, "404", 0},
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere?token=LocTok77", http.StatusFound)
		}, 302, true, false, "redirect, which is not followed", 0},
		{"permanent redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data", http.StatusPermanentRedirect)
		}, 308, true, false, "redirect, which is not followed", 0},
	}
	d := webhookout.New(webhookout.Options{AllowPrivate: true})
	t.Cleanup(d.Close)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, false, tt.answer)
			a := d.Deliver(t.Context(), rcv.url(t, "/in?token=QryTok55"), rcv.secret, linked(t))
			if a.Status != tt.status || a.Retry != tt.retry || a.Gone != tt.gone || a.RetryAfter != tt.retryWait {
				t.Errorf("Attempt = %+v; want status %d, retry %v, gone %v, retry after %v", a, tt.status, tt.retry, tt.gone, tt.retryWait)
			}
			if tt.says == "" {
				if a.Err != nil {
					t.Errorf("Err = %v, want delivered", a.Err)
				}
			} else if a.Err == nil || !strings.Contains(a.Err.Error(), tt.says) {
				t.Errorf("Err = %v, want it to say %q", a.Err, tt.says)
			} else {
				for _, leak := range []string{"QryTok55", "LocTok77", "169.254", string(rcv.secret)} {
					if strings.Contains(a.Err.Error(), leak) {
						t.Errorf("Err %q shows %q", a.Err, leak)
					}
				}
			}
			// Exactly one request: the redirect's target was never asked.
			if got := rcv.one(t); got.verifyErr != nil {
				t.Errorf("the receiver's Verify: %v", got.verifyErr)
			}
			rcv.none(t)
		})
	}
}

func TestDeliverSlowReceiverTimesOut(t *testing.T) {
	release := make(chan struct{})
	rcv := newReceiver(t, false, func(w http.ResponseWriter, r *http.Request) {
		select { // answers only after the client has given up
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before rcv.Close
	d := webhookout.New(webhookout.Options{AllowPrivate: true, Timeout: 200 * time.Millisecond})
	t.Cleanup(d.Close)

	a := deliverWithin(t, 30*time.Second, d, rcv.url(t, "/slow"), rcv.secret, linked(t))
	if a.Delivered() || !a.Retry || a.Status != 0 {
		t.Fatalf("Attempt = %+v, want a failed attempt to retry, with no status", a)
	}
	if !strings.Contains(a.Err.Error(), "did not answer within 200ms") {
		t.Errorf("Err = %v, want it to say the endpoint did not answer in time", a.Err)
	}
	if a.Latency <= 0 {
		t.Errorf("Latency = %v, want the time it waited", a.Latency)
	}
}

func TestDeliverReadsOnlyTheStartOfTheAnswer(t *testing.T) {
	rcv := newReceiver(t, false, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, "<html>\n"+strings.Repeat("é", 1<<20))
	})
	d := webhookout.New(webhookout.Options{AllowPrivate: true})
	t.Cleanup(d.Close)
	a := deliverWithin(t, 30*time.Second, d, rcv.url(t, "/"), rcv.secret, linked(t))
	if a.Status != 500 || !a.Retry {
		t.Fatalf("Attempt = %+v, want 500 to retry", a)
	}
	if len(a.Body) > 256 || !strings.HasPrefix(a.Body, "<html> éé") {
		t.Errorf("Body has %d bytes (%.40q…), want at most 256 of the answer's start", len(a.Body), a.Body)
	}
}

func TestDeliverConnectionRefusedIsRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	d := webhookout.New(webhookout.Options{AllowPrivate: true})
	u, _ := url.Parse("http://" + addr + "/in?token=QryTok55")
	a := deliverWithin(t, 30*time.Second, d, u, []byte(webhookout.NewSecret()), linked(t))
	if a.Delivered() || !a.Retry || a.Status != 0 {
		t.Fatalf("Attempt = %+v, want a failed attempt to retry", a)
	}
	if !strings.Contains(a.Err.Error(), "connection") || strings.Contains(a.Err.Error(), "QryTok55") {
		t.Errorf("Err = %v, want the connection's failure without the URL", a.Err)
	}
}

// TestDeliverRefusesPrivateTargets: without AllowPrivate, a receiver on this
// machine is never reached — named by its IP, or by a host name whose DNS
// answer is 127.0.0.1 (found only as the connection is made). With it, the
// same receiver gets the event.
func TestDeliverRefusesPrivateTargets(t *testing.T) {
	rcv := newReceiver(t, true, status(200))
	_, port, _ := net.SplitHostPort(rcv.Listener.Addr().String())
	roots := x509.NewCertPool()
	roots.AddCert(rcv.Certificate())
	dns := fakeDNS(t, map[string]string{"hooks.example.com.": "127.0.0.1"})
	secret := rcv.secret

	byName := rcv.url(t, "")
	byName.Host = net.JoinHostPort("hooks.example.com", port)
	byName.RawQuery = "token=QryTok55"
	byIP := rcv.url(t, "/in?token=QryTok55")

	strict := webhookout.New(webhookout.Options{RootCAs: roots, Resolver: dns})
	t.Cleanup(strict.Close)

	t.Run("a name that resolves to loopback", func(t *testing.T) {
		if _, err := webhookout.ValidateURL(byName.String(), false); err != nil {
			t.Fatalf("ValidateURL refused %v before any lookup: %v", byName, err)
		}
		a := deliverWithin(t, 30*time.Second, strict, byName, secret, linked(t))
		if a.Delivered() || a.Retry || a.Status != 0 {
			t.Fatalf("Attempt = %+v, want refused for good", a)
		}
		if !errors.Is(a.Err, webhookout.ErrPrivateTarget) {
			t.Errorf("Err = %v, want ErrPrivateTarget", a.Err)
		}
		msg := a.Err.Error()
		if !strings.Contains(msg, "resolves to a loopback address, which webhooks may not reach") {
			t.Errorf("Err = %q, want it to say why", msg)
		}
		for _, leak := range []string{"127.0.0.1", port, "QryTok55", "hooks.example.com", string(secret)} {
			if strings.Contains(msg, leak) {
				t.Errorf("Err %q shows %q", msg, leak)
			}
		}
		rcv.none(t)
	})
	t.Run("the IP itself", func(t *testing.T) {
		a := deliverWithin(t, 30*time.Second, strict, byIP, secret, linked(t))
		if a.Delivered() || a.Retry {
			t.Fatalf("Attempt = %+v, want refused for good", a)
		}
		if !strings.Contains(a.Err.Error(), "a loopback address, which webhooks may not reach") {
			t.Errorf("Err = %v, want it to say why", a.Err)
		}
		rcv.none(t)
	})
	t.Run("delivered with AllowPrivate", func(t *testing.T) {
		open := webhookout.New(webhookout.Options{AllowPrivate: true, RootCAs: roots, Resolver: dns})
		t.Cleanup(open.Close)
		for _, u := range []*url.URL{byName, byIP} {
			a := deliverWithin(t, 30*time.Second, open, u, secret, linked(t))
			if !a.Delivered() || a.Status != 200 {
				t.Fatalf("Attempt to %s = %+v, want delivered", u.Host, a)
			}
			if got := rcv.one(t); got.verifyErr != nil {
				t.Errorf("the receiver's Verify: %v", got.verifyErr)
			}
		}
	})
}

func TestDeliverRefusesWhatCannotBeSent(t *testing.T) {
	d := webhookout.New(webhookout.Options{AllowPrivate: true})
	rcv := newReceiver(t, false, status(200))
	u := rcv.url(t, "/in")
	good := linked(t)
	tests := []struct {
		name string
		ev   webhookout.Event
		says string
	}{
		{"no id", webhookout.Event{Type: good.Type, Time: good.Time}, "event id"},
		{"an id with a newline", webhookout.Event{ID: "evt_1\r\nX-Evil: 1", Type: good.Type, Time: good.Time}, "printable ASCII"},
		{"an unknown type", webhookout.Event{ID: "evt_1", Type: "channel.exploded", Time: good.Time}, "unknown event type"},
		{"no time", webhookout.Event{ID: "evt_1", Type: good.Type}, "no time"},
		{"data not an object", webhookout.Event{ID: "evt_1", Type: good.Type, Time: good.Time, Data: json.RawMessage(`[1]`)}, "JSON object"},
		{"data not JSON", webhookout.Event{ID: "evt_1", Type: good.Type, Time: good.Time, Data: json.RawMessage(`{nope`)}, "JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := d.Deliver(t.Context(), u, rcv.secret, tt.ev)
			if a.Delivered() || a.Retry || !strings.Contains(a.Err.Error(), tt.says) {
				t.Errorf("Attempt = %+v, want a permanent failure saying %q", a, tt.says)
			}
			rcv.none(t)
		})
	}
	a := d.Deliver(t.Context(), nil, rcv.secret, good)
	if a.Delivered() || a.Retry {
		t.Errorf("nil endpoint: %+v, want a permanent failure", a)
	}
	strict := webhookout.New(webhookout.Options{})
	a = strict.Deliver(t.Context(), u, rcv.secret, good)
	if a.Delivered() || a.Retry || !strings.Contains(a.Err.Error(), "https://") {
		t.Errorf("plain http without AllowPrivate: %+v, want refused for good", a)
	}
	rcv.none(t)
}

// TestDeliverSignsWithEverySecretDuringRotation: a receiver that still has
// the old secret verifies a delivery signed during the grace period.
func TestDeliverSignsWithEverySecretDuringRotation(t *testing.T) {
	rcv := newReceiver(t, false, status(200)) // holds its (old) secret
	d := webhookout.New(webhookout.Options{AllowPrivate: true})
	newSecret := []byte(webhookout.NewSecret())
	a := d.Deliver(t.Context(), rcv.url(t, "/in"), newSecret, linked(t), rcv.secret)
	if !a.Delivered() {
		t.Fatalf("Attempt = %+v", a)
	}
	got := rcv.one(t)
	if got.verifyErr != nil {
		t.Errorf("a receiver with the old secret: %v", got.verifyErr)
	}
	if err := webhookout.Verify(newSecret, got.header.Get(webhookout.SignatureHeader), got.body, time.Now(), 0); err != nil {
		t.Errorf("a receiver with the new secret: %v", err)
	}
}

// TestDeliverCancelled: a caller that gives up (a shutdown) gets a retry.
func TestDeliverCancelled(t *testing.T) {
	rcv := newReceiver(t, false, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	d := webhookout.New(webhookout.Options{AllowPrivate: true})
	ctx, cancel := context.WithCancel(t.Context())
	ch := make(chan webhookout.Attempt, 1)
	go func() { ch <- d.Deliver(ctx, rcv.url(t, "/"), rcv.secret, linked(t)) }()
	<-rcv.got // the request has arrived
	cancel()
	select {
	case a := <-ch:
		if a.Delivered() || !a.Retry || !strings.Contains(a.Err.Error(), "cancelled") {
			t.Errorf("Attempt = %+v, want a cancelled attempt to retry", a)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Deliver ignored its cancelled context")
	}
}

// TestDeliverUntrustedCertificateIsRetried: an https endpoint whose
// certificate is not trusted gets nothing, and the attempt says why.
func TestDeliverUntrustedCertificateIsRetried(t *testing.T) {
	rcv := newReceiver(t, true, status(200))
	d := webhookout.New(webhookout.Options{AllowPrivate: true}) // the system's roots only
	t.Cleanup(d.Close)
	a := deliverWithin(t, 30*time.Second, d, rcv.url(t, "/in"), rcv.secret, linked(t))
	if a.Delivered() || !a.Retry || a.Status != 0 {
		t.Fatalf("Attempt = %+v, want a failed attempt to retry", a)
	}
	if !strings.Contains(a.Err.Error(), "TLS certificate") {
		t.Errorf("Err = %v, want it to name the certificate", a.Err)
	}
	rcv.none(t)
}
