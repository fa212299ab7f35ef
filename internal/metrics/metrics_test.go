package metrics

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func randomToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func scrape(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// An operator's Prometheus reads the metrics with the token, and no one
// reads them without it or with another.
func TestHandlerWantsTheToken(t *testing.T) {
	token := randomToken(t)
	m := New("v1.2.3", func(context.Context) (State, error) {
		return State{DaysAllocated: 30, DaysReturned: 4, PartnerDays: 120, Channels: map[string]int64{"active": 2}, OutboxWaiting: 3}, nil
	})
	srv := httptest.NewServer(m.Handler(token))
	defer srv.Close()
	for _, auth := range []string{"", "Bearer", "Bearer " + randomToken(t), "Basic " + token, token, "Bearer " + token + "x"} {
		code, body := scrape(t, srv.URL, auth)
		if code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", auth, code)
		}
		if strings.Contains(body, "whapidesk_") {
			t.Errorf("Authorization %q: the answer shows the metrics:\n%s", auth, body)
		}
	}
	code, body := scrape(t, srv.URL, "Bearer "+token)
	if code != http.StatusOK {
		t.Fatalf("with the token: status %d, want 200\n%s", code, body)
	}
	for _, want := range []string{
		`whapidesk_build_info{version="v1.2.3"} 1`,
		`whapidesk_days_moved{direction="allocated"} 30`,
		`whapidesk_days_moved{direction="returned"} 4`,
		`whapidesk_partner_days 120`,
		`whapidesk_channels{state="active"} 2`,
		`whapidesk_outbox_waiting 3`,
		`whapidesk_webhook_deliveries_waiting 0`,
		`whapidesk_database_up 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the exposition lacks %q", want)
		}
	}
	if strings.Contains(body, token) {
		t.Error("the exposition shows the token")
	}
}

// A database that cannot be read is a gauge at 0, not a failed scrape.
func TestDatabaseDown(t *testing.T) {
	m := New("dev", func(context.Context) (State, error) { return State{}, io.ErrUnexpectedEOF })
	srv := httptest.NewServer(m.Handler(""))
	defer srv.Close()
	code, body := scrape(t, srv.URL, "")
	if code != http.StatusOK || !strings.Contains(body, "whapidesk_database_up 0") {
		t.Fatalf("status %d, want 200 with whapidesk_database_up 0:\n%s", code, body)
	}
}

// A WHAPI call is labelled by its path's pattern: a channel id or a
// phone number in the path never becomes a label.
func TestEndpointNeverCopiesThePath(t *testing.T) {
	id, phone := "CHAN-"+randomToken(t)[:8], "9715"+"0123456"
	for path, want := range map[string]string{
		"/channels/" + id + "/extend":   "/channels/{id}/extend",
		"/channels/" + id:               "/channels/{id}",
		"/prefix/channels":              "/channels",
		"/channels/list":                "/channels/list",
		"/users/login/" + phone:         "/users/login/{phone}",
		"/health/":                      "/health",
		"/" + id + "/unknown/" + phone:  "other",
		"/projects":                     "/projects",
		"/channels/" + id + "/stop/now": "other",
	} {
		_, got := Endpoint(path)
		if got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", path, got, want)
		}
	}
	m := New("dev", nil)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/extend") {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer upstream.Close()
	c := &http.Client{Transport: m.Transport(nil)}
	for _, p := range []string{"/channels/" + id + "/extend", "/users/login/" + phone} {
		resp, err := c.Get(upstream.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	srv := httptest.NewServer(m.Handler(""))
	defer srv.Close()
	_, body := scrape(t, srv.URL, "")
	for _, want := range []string{
		`whapidesk_whapi_requests_total{api="manager",endpoint="/channels/{id}/extend",method="GET",outcome="server_error"} 1`,
		`whapidesk_whapi_requests_total{api="gate",endpoint="/users/login/{phone}",method="GET",outcome="ok"} 1`,
		`whapidesk_whapi_request_duration_seconds_count{api="gate",endpoint="/users/login/{phone}",method="GET"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the exposition lacks %q:\n%s", want, body)
		}
	}
	for _, secret := range []string{id, phone} {
		if strings.Contains(body, secret) {
			t.Errorf("the exposition shows %q", secret)
		}
	}
}

// A request is counted by its route's pattern, with the status the app's
// error handler sent: an id in the path, or a path no route takes, never
// becomes a label.
func TestEchoCountsByRoutePattern(t *testing.T) {
	m := New("dev", nil)
	e := echo.New()
	e.Use(m.Echo())
	e.GET("/users/:id", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/fail/:id", func(c echo.Context) error { return echo.NewHTTPError(http.StatusConflict, "no") })
	app := httptest.NewServer(e)
	defer app.Close()
	id := randomToken(t)[:12]
	for _, p := range []string{"/users/" + id, "/fail/" + id, "/nowhere/" + id} {
		resp, err := http.Get(app.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	srv := httptest.NewServer(m.Handler(""))
	defer srv.Close()
	_, body := scrape(t, srv.URL, "")
	for _, want := range []string{
		`whapidesk_http_requests_total{method="GET",route="/users/:id",status="200"} 1`,
		`whapidesk_http_requests_total{method="GET",route="/fail/:id",status="409"} 1`,
		`status="404"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the exposition lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, id) {
		t.Errorf("the exposition shows the path's id %q", id)
	}
}
