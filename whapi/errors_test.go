package whapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"whapidesk/whapi"
)

var allSentinels = []error{
	whapi.ErrUnauthorized, whapi.ErrNotFound, whapi.ErrRateLimited, whapi.ErrConflict, whapi.ErrRefused,
	whapi.ErrUpstream, whapi.ErrTimeout, whapi.ErrUnreachable, whapi.ErrInvalidInput, whapi.ErrNoToken,
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

func TestErrorBodyShapes(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantCode int
		wantMsg  string
	}{
		{"documented", `{"error":{"code":400,"message":"Wrong request parameters","details":"days"}}`, 400, "Wrong request parameters"},
		{"error string", `{"error":"Not enough days on balance"}`, 0, "Not enough days on balance"},
		{"message only", `{"message":"nope"}`, 0, "nope"},
		{"html", `<html><body>502</body></html>`, 0, ""},
		{"control characters", `{"error":{"code":400,"message":"line1\nline2\u0000"}}`, 400, "line1 line2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, answerWith(400, []byte(tt.body)))
			c, _ := newClient(t, srv)
			err := c.ExtendChannel(t.Context(), "SHAZAM-3HDYQ", 30, "top-up")
			var apiErr *whapi.APIError
			if !errors.As(err, &apiErr) || !errors.Is(err, whapi.ErrRefused) {
				t.Fatalf("err = %v, want an *APIError with ErrRefused", err)
			}
			if apiErr.Code != tt.wantCode || apiErr.Message != tt.wantMsg {
				t.Errorf("code %d message %q, want %d %q", apiErr.Code, apiErr.Message, tt.wantCode, tt.wantMsg)
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
		{whapi.ErrInvalidInput, false},
	}
	for _, tt := range tests {
		if got := whapi.OutcomeUnknown(tt.err); got != tt.want {
			t.Errorf("OutcomeUnknown(%v) = %t, want %t", tt.err, got, tt.want)
		}
	}
}
