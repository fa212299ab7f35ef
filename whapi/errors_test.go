package whapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"whapidesk/whapi"
)

var allSentinels = []error{
	whapi.ErrUnauthorized, whapi.ErrNotFound, whapi.ErrRateLimited, whapi.ErrConflict, whapi.ErrRefused,
	whapi.ErrUpstream, whapi.ErrFailedIn2xx, whapi.ErrTimeout, whapi.ErrUnreachable, whapi.ErrInvalidInput, whapi.ErrNoToken,
}

func TestStatusSentinels(t *testing.T) {
	tests := []struct {
		status  int
		want    error
		unknown bool
	}{
		{400, whapi.ErrRefused, false},
		{401, whapi.ErrUnauthorized, false},
		{402, whapi.ErrRefused, false},
		{403, whapi.ErrUnauthorized, false},
		{404, whapi.ErrNotFound, false},
		{406, whapi.ErrRefused, false},
		{409, whapi.ErrConflict, false},
		{422, whapi.ErrRefused, false},
		{429, whapi.ErrRateLimited, false},
		{500, whapi.ErrUpstream, true},
		{502, whapi.ErrUpstream, true},
		{503, whapi.ErrUpstream, true},
		{504, whapi.ErrUpstream, true},
	}
	calls := map[string]func(context.Context, *whapi.Client) error{
		"PUT create channel": func(ctx context.Context, c *whapi.Client) error {
			_, err := c.CreateChannel(ctx, whapi.CreateChannelRequest{Name: "n", ProjectID: "p"})
			return err
		},
		"GET login qr": func(ctx context.Context, c *whapi.Client) error {
			_, err := c.LoginQR(ctx, channelToken)
			return err
		},
	}
	for _, tt := range tests {
		for name, call := range calls {
			t.Run(fmt.Sprintf("%d/%s", tt.status, name), func(t *testing.T) {
				body := fmt.Sprintf(`{"error":{"code":%d,"message":"message %d"}}`, tt.status, tt.status)
				srv, _ := newServer(t, answerWith(tt.status, []byte(body)))
				c, _ := newClient(t, srv)
				err := call(t.Context(), c)
				for _, s := range allSentinels {
					if got := errors.Is(err, s); got != (s == tt.want) {
						t.Errorf("errors.Is(err, %v) = %t; err = %v", s, got, err)
					}
				}
				if got := whapi.OutcomeUnknown(err); got != tt.unknown {
					t.Errorf("OutcomeUnknown = %t, want %t", got, tt.unknown)
				}
				var apiErr *whapi.APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("err %T is not an *APIError", err)
				}
				if apiErr.Status != tt.status || apiErr.Code != tt.status || apiErr.Message != fmt.Sprintf("message %d", tt.status) {
					t.Errorf("APIError = %+v", *apiErr)
				}
			})
		}
	}
}

func TestAPIErrorText(t *testing.T) {
	srv, _ := newServer(t, answerWith(404, fixture(t, "error_project_not_found.json")))
	c, _ := newClient(t, srv)
	_, err := c.CreateChannel(t.Context(), whapi.CreateChannelRequest{Name: "n", ProjectID: "HPN0H0hFDL1GFg154PI"})
	const want = "whapi: create channel: 404 not found: Specified project not found"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}

	tests := []struct {
		err  *whapi.APIError
		want string
	}{
		{&whapi.APIError{Op: "login qr", Status: 409, Code: 409, Message: "Channel already authenticated"},
			"whapi: login qr: 409 conflict: Channel already authenticated"},
		{&whapi.APIError{Op: "extend channel", Status: 503}, "whapi: extend channel: 503 service unavailable"},
		{&whapi.APIError{Op: "create channel", Status: 429, RetryAfter: 5 * time.Minute},
			"whapi: create channel: 429 too many requests (retry after 5m0s)"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// answerTyped answers status with body under the given Content-Type (none
// when ctype is "").
func answerTyped(status int, ctype, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// nginxPage is the page nginx answers when the server behind it fails.
func nginxPage(status int) string {
	title := fmt.Sprintf("%d %s", status, http.StatusText(status))
	return "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
		"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
}

// Every shape an error answer takes is read into one *APIError: status,
// code, message and shape, with the sentinel of the status.
func TestErrorBodyShapes(t *testing.T) {
	const jsonType, textType, htmlType = "application/json", "text/plain; charset=utf-8", "text/html"
	tests := []struct {
		name      string
		status    int
		ctype     string
		body      string
		wantCode  int
		wantMsg   string
		wantShape whapi.BodyShape
		want      error
	}{
		{"documented", 400, jsonType, `{"error":{"code":400,"message":"Wrong request parameters","details":"days"}}`, 400, "Wrong request parameters", whapi.ShapeNested, whapi.ErrRefused},
		{"documented, code as text", 404, jsonType, `{"error":{"code":"404","message":"Specified channel not found"}}`, 404, "Specified channel not found", whapi.ShapeNested, whapi.ErrNotFound},
		{"documented without message", 500, jsonType, `{"error":{"code":500}}`, 500, "", whapi.ShapeNested, whapi.ErrUpstream},
		{"flat", 402, jsonType, `{"code":402,"error":"Not enough days on balance"}`, 402, "Not enough days on balance", whapi.ShapeFlat, whapi.ErrRefused},
		{"flat without code", 400, jsonType, `{"error":"Not enough days on balance"}`, 0, "Not enough days on balance", whapi.ShapeFlat, whapi.ErrRefused},
		{"flat code other than the status", 400, jsonType, `{"code":1002,"error":"channel is busy"}`, 1002, "channel is busy", whapi.ShapeFlat, whapi.ErrRefused},
		{"error flag beside a message", 409, jsonType, `{"error":true,"message":"Channel already authenticated"}`, 0, "Channel already authenticated", whapi.ShapeFlat, whapi.ErrConflict},
		{"message only", 403, jsonType, `{"message":"Forbidden"}`, 0, "Forbidden", whapi.ShapeMessage, whapi.ErrUnauthorized},
		{"message and code", 503, jsonType, `{"code":503,"message":"Service Unavailable"}`, 503, "Service Unavailable", whapi.ShapeMessage, whapi.ErrUpstream},
		{"success false", 400, jsonType, `{"success":false}`, 0, "", whapi.ShapeSuccessFalse, whapi.ErrRefused},
		{"other JSON", 500, jsonType, `{"status":"fail"}`, 0, "", whapi.ShapeJSON, whapi.ErrUpstream},
		{"JSON array", 500, jsonType, `["fail"]`, 0, "", whapi.ShapeJSON, whapi.ErrUpstream},
		{"plain text", 502, textType, "upstream connect error or disconnect/reset before headers\n", 0, "upstream connect error or disconnect/reset before headers", whapi.ShapeText, whapi.ErrUpstream},
		{"plain text said to be JSON", 429, jsonType, "Too Many Requests", 0, "Too Many Requests", whapi.ShapeText, whapi.ErrRateLimited},
		{"broken JSON", 500, jsonType, `{"error":{"code":500,`, 0, `{"error":{"code":500,`, whapi.ShapeText, whapi.ErrUpstream},
		{"html 502", 502, htmlType, nginxPage(502), 0, "502 Bad Gateway", whapi.ShapeHTML, whapi.ErrUpstream},
		{"html 504", 504, htmlType, nginxPage(504), 0, "504 Gateway Timeout", whapi.ShapeHTML, whapi.ErrUpstream},
		{"html without a type", 502, "", "<!DOCTYPE html><html><head><TITLE>example.com | 502: Bad gateway</TITLE></head></html>", 0, "example.com | 502: Bad gateway", whapi.ShapeHTML, whapi.ErrUpstream},
		{"html heading, entities", 504, htmlType, "<html><body><h1>Gateway <b>Timeout</b> &amp; more</h1></body></html>", 0, "Gateway Timeout & more", whapi.ShapeHTML, whapi.ErrUpstream},
		{"html without a title", 502, htmlType, `<html><body>502</body></html>`, 0, "", whapi.ShapeHTML, whapi.ErrUpstream},
		{"empty", 502, "", "", 0, "", whapi.ShapeEmpty, whapi.ErrUpstream},
		{"only spaces", 504, textType, " \r\n", 0, "", whapi.ShapeEmpty, whapi.ErrUpstream},
		{"control characters", 400, jsonType, `{"error":{"code":400,"message":"line1\nline2\u0000"}}`, 400, "line1 line2", whapi.ShapeNested, whapi.ErrRefused},
		{"long text is cut", 500, textType, strings.Repeat("x", 1000), 0, strings.Repeat("x", 300) + "…", whapi.ShapeText, whapi.ErrUpstream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, answerTyped(tt.status, tt.ctype, tt.body))
			c, _ := newClient(t, srv)
			err := c.ExtendChannel(t.Context(), "SHAZAM-3HDYQ", 30, "top-up")
			var apiErr *whapi.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an *APIError", err)
			}
			for _, s := range allSentinels {
				if got := errors.Is(err, s); got != (s == tt.want) {
					t.Errorf("errors.Is(err, %v) = %t; err = %v", s, got, err)
				}
			}
			if apiErr.Status != tt.status || apiErr.Code != tt.wantCode || apiErr.Message != tt.wantMsg || apiErr.Shape != tt.wantShape {
				t.Errorf("got status %d code %d message %q shape %q, want %d %d %q %q",
					apiErr.Status, apiErr.Code, apiErr.Message, apiErr.Shape, tt.status, tt.wantCode, tt.wantMsg, tt.wantShape)
			}
		})
	}
}

// A 2xx answer whose body carries an "error" member or "success": false is
// a failure with an unknown outcome, on every call: an *APIError with the
// 2xx status that unwraps to ErrFailedIn2xx (and to nothing else). A code
// in such a body never picks another sentinel.
func TestFailureIn2xx(t *testing.T) {
	calls := map[string]func(context.Context, *whapi.Client) error{
		"extend": func(ctx context.Context, c *whapi.Client) error { return c.ExtendChannel(ctx, "SHAZAM-3HDYQ", 30, "c") },
		"set mode": func(ctx context.Context, c *whapi.Client) error {
			return c.SetMode(ctx, "SHAZAM-3HDYQ", whapi.ModeLive)
		},
		"delete": deleteChannel,
		"logout": func(ctx context.Context, c *whapi.Client) error { return c.Logout(ctx, channelToken) },
		"create": func(ctx context.Context, c *whapi.Client) error {
			_, err := c.CreateChannel(ctx, whapi.CreateChannelRequest{Name: "n", ProjectID: "p"})
			return err
		},
		"get channel": getChannel,
		"projects":    func(ctx context.Context, c *whapi.Client) error { _, err := c.Projects(ctx); return err },
		"login qr":    func(ctx context.Context, c *whapi.Client) error { _, err := c.LoginQR(ctx, channelToken); return err },
	}
	tests := []struct {
		name      string
		status    int
		body      string
		wantCode  int
		wantMsg   string
		wantShape whapi.BodyShape
	}{
		{"documented error", 200, `{"error":{"code":402,"message":"Not enough days"}}`, 402, "Not enough days", whapi.ShapeNested},
		{"flat error", 200, `{"code":402,"error":"Not enough days"}`, 402, "Not enough days", whapi.ShapeFlat},
		{"not found in the body", 200, `{"error":{"code":404,"message":"Specified channel not found"}}`, 404, "Specified channel not found", whapi.ShapeNested},
		{"success false", 200, `{"success":false}`, 0, "", whapi.ShapeSuccessFalse},
		{"success false with a message", 200, `{"success":false,"message":"try later"}`, 0, "try later", whapi.ShapeMessage},
		{"error beside success true", 200, `{"success":true,"error":"partly failed"}`, 0, "partly failed", whapi.ShapeFlat},
		{"empty error string", 200, `{"error":""}`, 0, "", whapi.ShapeFlat},
		{"empty error object", 200, `{"error":{}}`, 0, "", whapi.ShapeNested},
		{"error beside channel data", 200, `{"id":"SHAZAM-3HDYQ","status":"OK","error":{"code":500,"message":"sync failed"}}`, 500, "sync failed", whapi.ShapeNested},
		{"201", 201, `{"error":"x"}`, 0, "x", whapi.ShapeFlat},
		{"202", 202, `{"success":false}`, 0, "", whapi.ShapeSuccessFalse},
	}
	for _, tt := range tests {
		for name, call := range calls {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				srv, rec := newServer(t, answerWith(tt.status, []byte(tt.body)))
				c, _ := newClient(t, srv, whapi.WithRetries(1, time.Millisecond))
				err := call(t.Context(), c)
				var apiErr *whapi.APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("err = %v, want an *APIError", err)
				}
				for _, s := range allSentinels {
					if got := errors.Is(err, s); got != (s == whapi.ErrFailedIn2xx) {
						t.Errorf("errors.Is(err, %v) = %t; err = %v", s, got, err)
					}
				}
				if !whapi.OutcomeUnknown(err) {
					t.Error("OutcomeUnknown = false")
				}
				if apiErr.Status != tt.status || apiErr.Code != tt.wantCode || apiErr.Message != tt.wantMsg || apiErr.Shape != tt.wantShape {
					t.Errorf("got status %d code %d message %q shape %q, want %d %d %q %q",
						apiErr.Status, apiErr.Code, apiErr.Message, apiErr.Shape, tt.status, tt.wantCode, tt.wantMsg, tt.wantShape)
				}
				if !strings.Contains(err.Error(), "the answer says it failed") {
					t.Errorf("Error() = %q does not say the 2xx failed", err)
				}
				want := 1
				if m := rec.last(t).Method; m == http.MethodGet {
					want = 2 // a GET is asked again, as after a 5xx
				}
				if n := rec.count(); n != want {
					t.Errorf("sent %d times, want %d", n, want)
				}
			})
		}
	}
}

// Answers that say nothing failed stay successes.
func TestNoFailureIn2xx(t *testing.T) {
	for _, body := range []string{`{"success":true}`, `{"success":true,"error":null}`, `{"error":false,"success":true}`, `{"result":"ok"}`, ``} {
		t.Run(body, func(t *testing.T) {
			srv, _ := newServer(t, answerWith(200, []byte(body)))
			c, _ := newClient(t, srv)
			if err := c.ExtendChannel(t.Context(), "SHAZAM-3HDYQ", 30, "c"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header string
		want   time.Duration
		date   bool // header is want from the answer's time, as an HTTP date
	}{
		{"seconds", 429, "120", 2 * time.Minute, false},
		{"absent", 429, "", whapi.DefaultRetryAfter, false},
		{"garbage", 429, "soon", whapi.DefaultRetryAfter, false},
		{"zero", 429, "0", whapi.DefaultRetryAfter, false},
		{"negative", 429, "-5", whapi.DefaultRetryAfter, false},
		{"absurd", 429, "9999999999", 24 * time.Hour, false},
		{"http date", 429, "", 90 * time.Second, true},
		{"503 with header", 503, "30", 30 * time.Second, false},
		{"503 without header", 503, "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				header := tt.header
				if tt.date {
					header = time.Now().Add(tt.want).UTC().Format(http.TimeFormat)
				}
				if header != "" {
					w.Header().Set("Retry-After", header)
				}
				answerWith(tt.status, []byte(`{"error":{"code":429,"message":"Too Many Requests"}}`))(w, r)
			})
			c, _ := newClient(t, srv)
			start := time.Now()
			_, err := c.CreateChannel(t.Context(), whapi.CreateChannelRequest{Name: "n", ProjectID: "p"})
			took := time.Since(start)
			var apiErr *whapi.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if tt.status == 429 && !errors.Is(err, whapi.ErrRateLimited) {
				t.Errorf("err = %v, want ErrRateLimited", err)
			}
			// An HTTP date has whole seconds, and the client reads it a
			// little after the server wrote it: at most that call's time.
			low := tt.want
			if tt.date {
				low = tt.want - time.Second - took
			}
			if apiErr.RetryAfter < low || apiErr.RetryAfter > tt.want {
				t.Errorf("RetryAfter = %v, want %v (from %v)", apiErr.RetryAfter, tt.want, low)
			}
		})
	}
}

func TestOutcomeUnknown(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("other"), false},
		{whapi.ErrTimeout, true},
		{fmt.Errorf("provision: %w", whapi.ErrUnreachable), true},
		{&whapi.APIError{Status: 500}, true},
		{&whapi.APIError{Status: 400}, false},
		{&whapi.APIError{Status: 429}, false},
		{&whapi.APIError{Status: 200, Code: 400}, true},
		{fmt.Errorf("provision: %w", whapi.ErrFailedIn2xx), true},
		{whapi.ErrInvalidInput, false},
	}
	for _, tt := range tests {
		if got := whapi.OutcomeUnknown(tt.err); got != tt.want {
			t.Errorf("OutcomeUnknown(%v) = %t, want %t", tt.err, got, tt.want)
		}
	}
}
