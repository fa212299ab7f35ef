package whapisim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// t0 is the start of every test clock (a fixed instant, so tests are
// reproducible).
func t0() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) }

const testPartnerToken = "eyJhbGciOiJIUzI1NiJ9.partner-token.sig"

// env is one simulator behind a real HTTP server, driven by a test clock.
type env struct {
	t     *testing.T
	clock *Clock
	sim   *Sim
	srv   *httptest.Server
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	clock := NewClock(t0())
	if opts.PartnerToken == "" {
		opts.PartnerToken = testPartnerToken
	}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	sim := New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{t: t, clock: clock, sim: sim, srv: srv}
}

// wireChannel is the manager's Channel as the tests expect it on the wire.
type wireChannel struct {
	ID         string  `json:"id"`
	APIURL     string  `json:"apiUrl"`
	CreationTS int64   `json:"creationTS"`
	OwnerID    string  `json:"ownerId"`
	ActiveTill int64   `json:"activeTill"`
	Token      string  `json:"token"`
	Server     int     `json:"server"`
	Stopped    bool    `json:"stopped"`
	Trial      *int64  `json:"trial"`
	Blocked    *bool   `json:"blocked"`
	Status     *string `json:"status"`
	Mode       string  `json:"mode"`
	Name       string  `json:"name"`
	ProjectID  string  `json:"projectId"`
	Phone      string  `json:"phone"`
}

type wireError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details string `json:"details"`
	} `json:"error"`
}

type wireHealth struct {
	ChannelID string `json:"channel_id"`
	StartAt   int64  `json:"start_at"`
	Uptime    int64  `json:"uptime"`
	Version   string `json:"version"`
	Status    struct {
		Code int    `json:"code"`
		Text string `json:"text"`
	} `json:"status"`
	User *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"user"`
}

type wireQR struct {
	Status  string `json:"status"`
	Base64  string `json:"base64"`
	Rowdata string `json:"rowdata"`
	Expire  *int   `json:"expire"`
}

// resp is a complete answer.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// rawRequest sends a request with the given Authorization header ("" = none)
// and body (nil = none; string or []byte as is; anything else as JSON). A
// body is sent as application/json.
func (e *env) rawRequest(method, path, auth string, body any) (resp, error) {
	return e.rawRequestCtx(context.Background(), method, path, auth, body)
}

// rawRequestCtx is rawRequest with a context.
func (e *env) rawRequestCtx(ctx context.Context, method, path, auth string, body any) (resp, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	r, err := e.srv.Client().Do(req)
	if err != nil {
		return resp{}, err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return resp{}, err
	}
	return resp{status: r.StatusCode, header: r.Header, body: b}, nil
}

func (e *env) request(method, path, auth string, body any) resp {
	e.t.Helper()
	r, err := e.rawRequest(method, path, auth, body)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// manager calls the Partner API with the partner token.
func (e *env) manager(method, path string, body any) resp {
	e.t.Helper()
	return e.request(method, path, "Bearer "+testPartnerToken, body)
}

// gate calls the gate API with a channel token.
func (e *env) gate(token, method, path string) resp {
	e.t.Helper()
	return e.request(method, path, "Bearer "+token, nil)
}

// create makes a channel in the default project and returns it.
func (e *env) create(name string) wireChannel {
	e.t.Helper()
	r := e.manager("PUT", "/channels", map[string]any{"name": name, "projectId": "default"})
	if r.status != http.StatusOK {
		e.t.Fatalf("create %q: %d %s", name, r.status, r.body)
	}
	var ch wireChannel
	decode(e.t, r, &ch)
	return ch
}

func (e *env) health(token string) wireHealth {
	e.t.Helper()
	r := e.gate(token, "GET", "/health?wakeup=false")
	if r.status != http.StatusOK {
		e.t.Fatalf("health: %d %s", r.status, r.body)
	}
	var h wireHealth
	decode(e.t, r, &h)
	return h
}

func (e *env) getChannel(id string) wireChannel {
	e.t.Helper()
	r := e.manager("GET", "/channels/"+id, nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("get %s: %d %s", id, r.status, r.body)
	}
	var ch wireChannel
	decode(e.t, r, &ch)
	return ch
}

func decode(t *testing.T, r resp, v any) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json (body %s)", ct, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// wantError checks a WHAPI error answer with the given status.
func wantError(t *testing.T, r resp, status int) wireError {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	var e wireError
	decode(t, r, &e)
	if e.Error.Code != status || e.Error.Message == "" {
		t.Fatalf("error body = %s, want code %d and a message", r.body, status)
	}
	return e
}

func wantSuccess(t *testing.T, r resp) {
	t.Helper()
	if r.status != http.StatusOK || string(r.body) != `{"success":true}` {
		t.Fatalf("got %d %s, want 200 {\"success\":true}", r.status, r.body)
	}
}
