package whapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"whapidesk/whapi"
)

// channelToken is a channel token as WHAPI issues them (32 alphanumerics).
const channelToken = "Zq8Wm2Xc4Vb6Nn1Mk3Jh5Gf7Dd9Ss0Aa"

// jwtToken returns a random JWT-shaped partner token of about 1,300
// characters, without the "Bearer " scheme.
func jwtToken(t *testing.T) string {
	t.Helper()
	payload := make([]byte, 930)
	sig := make([]byte, 32)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	if _, err := rand.Read(sig); err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	tok := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString(sig)
	if n := len(tok); n < 1250 || n > 1350 {
		t.Fatalf("token length %d, want about 1,300", n)
	}
	return tok
}

// tokenBox is a TokenSource whose token can be replaced, like the settings.
type tokenBox struct {
	mu  sync.Mutex
	val string
	err error
}

func (b *tokenBox) set(v string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.val = v
}

func (b *tokenBox) PartnerToken(context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.val, b.err
}

// hit is one request the test server received.
type hit struct {
	Method      string
	Path        string
	RawQuery    string
	Auth        []string
	Accept      string
	ContentType string
	Body        []byte
}

// recorder records the requests of a test server.
type recorder struct {
	mu   sync.Mutex
	hits []hit
}

func (rc *recorder) add(h hit) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hits = append(rc.hits, h)
}

func (rc *recorder) all() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hit(nil), rc.hits...)
}

func (rc *recorder) count() int { return len(rc.all()) }

func (rc *recorder) last(t *testing.T) hit {
	t.Helper()
	all := rc.all()
	if len(all) == 0 {
		t.Fatal("the server got no request")
	}
	return all[len(all)-1]
}

// newServer starts a test server that records each request, then calls h.
func newServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *recorder) {
	t.Helper()
	rc := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.add(hit{
			Method:      r.Method,
			Path:        r.URL.Path,
			RawQuery:    r.URL.RawQuery,
			Auth:        r.Header.Values("Authorization"),
			Accept:      r.Header.Get("Accept"),
			ContentType: r.Header.Get("Content-Type"),
			Body:        body,
		})
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, rc
}

// answerWith returns a handler that answers status with body.
func answerWith(status int, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// fixture reads testdata/name.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// quiet is a logger that drops everything.
func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// bufferLogger logs JSON lines at Debug level into a buffer.
type bufferLogger struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *bufferLogger) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *bufferLogger) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *bufferLogger) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newClient returns a client for srv (manager and gate on the same server)
// with the partner token "Bearer <random jwt>", no retries and a quiet log,
// unless opts say otherwise.
func newClient(t *testing.T, srv *httptest.Server, opts ...whapi.Option) (*whapi.Client, *tokenBox) {
	t.Helper()
	tokens := &tokenBox{val: "Bearer " + jwtToken(t)}
	all := append([]whapi.Option{whapi.WithLogger(quiet()), whapi.WithRetries(0, 0), whapi.WithTimeout(whapi.DefaultTimeout)}, opts...)
	return whapi.New(srv.URL, srv.URL, tokens, all...), tokens
}
