package whapi_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"whapidesk/whapi"
)

// An extend's refusal says why when it can be told: "too soon" (the
// cool-down WHAPI's changelog announces; a typed error with how long to
// wait) apart from "the partner's balance is short". Neither status is
// documented, so both are read from the status and WHAPI's text; what
// says neither stays a plain refusal (or an unknown outcome), never a
// short balance.
func TestExtendRefusalsAreRecognised(t *testing.T) {
	const (
		soon    = "soon"
		short   = "short"
		refused = "refused"
		unknown = "unknown"
	)
	tests := []struct {
		name       string
		status     int
		retryAfter string
		body       string
		want       string
		wait       time.Duration // for soon
	}{
		{"429 with Retry-After", 429, "120", `{"error":{"code":429,"message":"Too many requests"}}`, soon, 2 * time.Minute},
		{"429 without Retry-After", 429, "", `{"error":{"code":429,"message":"Too many requests"}}`, soon, whapi.ExtendCoolDown},
		{"429 that mentions the balance", 429, "", `{"message":"balance checks are rate limited"}`, soon, whapi.ExtendCoolDown},
		{"empty 429", 429, "", ``, soon, whapi.ExtendCoolDown},
		{"409", 409, "", `{"error":{"code":409,"message":"Conflict"}}`, soon, whapi.ExtendCoolDown},
		{"400 extended recently", 400, "", `{"error":{"code":400,"message":"Channel was extended recently"}}`, soon, whapi.ExtendCoolDown},
		{"403 wait minutes, flat", 403, "", `{"code":403,"error":"Wait 5 minutes between extensions"}`, soon, whapi.ExtendCoolDown},
		{"400 try again later, text", 400, "", "Please try again later", soon, whapi.ExtendCoolDown},
		{"400 with Retry-After", 400, "45", `{"error":{"code":400,"message":"Bad Request"}}`, soon, 45 * time.Second},
		{"400 not enough days (the simulator's)", 400, "", `{"error":{"code":400,"message":"Not enough days on the balance"}}`, short, 0},
		{"402 without text", 402, "", ``, short, 0},
		{"403 insufficient balance", 403, "", `{"message":"Insufficient balance"}`, short, 0},
		{"409 out of days", 409, "", `{"error":{"code":409,"message":"Partner is out of days"}}`, short, 0},
		{"503 no days left", 503, "", `{"error":{"code":503,"message":"No days left"}}`, short, 0},
		{"400 other text", 400, "", `{"error":{"code":400,"message":"Wrong request parameters"}}`, refused, 0},
		{"400 that only says days", 400, "", `{"message":"WHAPI-TEXT days"}`, refused, 0},
		{"404 wait", 404, "", `{"error":{"code":404,"message":"Specified channel not found, wait"}}`, refused, 0},
		{"401 balance", 401, "", `{"error":{"code":401,"message":"balance"}}`, refused, 0},
		{"503 busy, try later", 503, "", `{"error":{"code":503,"message":"All servers are currently busy. Please try again later"}}`, unknown, 0},
		{"proxy's 502 page", 502, "", `<html><head><title>502 Bad Gateway</title></head></html>`, unknown, 0},
		{"balance text under a 200", 200, "", `{"error":{"code":402,"message":"Not enough days"}}`, unknown, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				ct := "application/json"
				if len(tt.body) > 0 && tt.body[0] != '{' && tt.body[0] != '<' {
					ct = "text/plain"
				}
				w.Header().Set("Content-Type", ct)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			c, _ := newClient(t, srv)
			err := c.ExtendChannel(t.Context(), "SHAZAM-3HDYQ", 30, "December")
			var soonErr *whapi.ExtendTooSoonError
			var ae *whapi.APIError
			if !errors.As(err, &ae) || ae.Status != tt.status {
				t.Fatalf("err %v: want the answer (%d) as *APIError", err, tt.status)
			}
			isSoon, isShort := errors.As(err, &soonErr), errors.Is(err, whapi.ErrBalanceShort)
			switch tt.want {
			case soon:
				if !isSoon || !errors.Is(err, whapi.ErrTooSoon) || isShort {
					t.Fatalf("err %v: want ExtendTooSoonError", err)
				}
				if soonErr.RetryAfter != tt.wait {
					t.Fatalf("RetryAfter %v, want %v", soonErr.RetryAfter, tt.wait)
				}
			case short:
				if !isShort || isSoon || errors.Is(err, whapi.ErrTooSoon) {
					t.Fatalf("err %v: want ErrBalanceShort only", err)
				}
			default:
				if isSoon || isShort || errors.Is(err, whapi.ErrTooSoon) {
					t.Fatalf("err %v: neither too soon nor a short balance", err)
				}
			}
			if got := whapi.OutcomeUnknown(err); got != (tt.want == unknown) {
				t.Fatalf("OutcomeUnknown = %t for %v", got, err)
			}
		})
	}
}
