package whapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. Every error returned by a Client method wraps exactly one
// of them; test with errors.Is. An extend's refusal may also wrap one of
// the two refinements below (ErrTooSoon, ErrBalanceShort), beside the
// sentinel of its status.
var (
	// ErrUnauthorized means WHAPI rejected the token (HTTP 401 or 403).
	ErrUnauthorized = errors.New("whapi: unauthorized")
	// ErrNotFound means WHAPI does not know the channel or project (HTTP 404).
	ErrNotFound = errors.New("whapi: not found")
	// ErrRateLimited means WHAPI asked us to slow down (HTTP 429); see
	// APIError.RetryAfter for how long to wait.
	ErrRateLimited = errors.New("whapi: rate limited")
	// ErrConflict means the request does not fit the channel's state (HTTP
	// 409), e.g. asking for a QR code when the channel is already linked.
	ErrConflict = errors.New("whapi: conflict")
	// ErrRefused means WHAPI refused the request with another 4xx status, e.g.
	// 400 when the partner balance has too few days. The request was not
	// applied.
	ErrRefused = errors.New("whapi: request refused")
	// ErrUpstream means WHAPI failed (5xx), or answered with something that is
	// not the documented JSON. The request may have been applied.
	ErrUpstream = errors.New("whapi: upstream error")
	// ErrFailedIn2xx means WHAPI answered with a success status (2xx) but its
	// body says the call failed: it carries an "error" member, or "success":
	// false. The error is an *APIError whose Status is that 2xx status.
	// Whether the request was applied is unknown (OutcomeUnknown is true):
	// the answer is neither the documented success nor a documented refusal,
	// so look at WHAPI's state before counting a change as done or as not
	// done.
	ErrFailedIn2xx = errors.New("whapi: failure in a success answer")
	// ErrTimeout means no answer came before the deadline (or the caller
	// cancelled the call). The request may have been applied.
	ErrTimeout = errors.New("whapi: no answer in time")
	// ErrUnreachable means the connection failed (refused, DNS, reset) before
	// an answer. The request may have been applied; treat it as unknown.
	ErrUnreachable = errors.New("whapi: unreachable")
	// ErrInvalidInput means the client refused the call locally, before
	// sending anything: a malformed id, phone, count, mode, token or URL.
	ErrInvalidInput = errors.New("whapi: invalid input")
	// ErrNoToken means there is no token to send: the TokenSource returned an
	// empty token or failed, or the channel token passed is empty. Nothing was
	// sent.
	ErrNoToken = errors.New("whapi: no token")

	// ErrTooSoon refines an extend's refusal: the same channel was extended
	// moments ago and WHAPI takes no second extend of it yet. The error is
	// an *ExtendTooSoonError saying how long to wait. Nothing was moved.
	ErrTooSoon = errors.New("whapi: channel extended too recently")
	// ErrBalanceShort refines an extend's refusal: WHAPI said the partner's
	// day balance is too small. Nothing was moved.
	ErrBalanceShort = errors.New("whapi: partner balance too small")
)

// DefaultRetryAfter is APIError.RetryAfter for a 429 answer that carries no
// usable Retry-After header. Decision: WHAPI does not document the header; its
// only documented 429 (more than 20 channels created in 30 minutes) resets
// within 30 minutes, and 5 minutes is a conservative first wait.
const DefaultRetryAfter = 5 * time.Minute

// maxRetryAfter caps a Retry-After value so that an absurd header cannot park
// a job for ever.
const maxRetryAfter = 24 * time.Hour

// APIError is an answer from WHAPI with an HTTP error status, or a 2xx
// answer whose body says the call failed (then Unwrap gives ErrFailedIn2xx).
// Unwrap returns the sentinel for the status, so errors.Is(err, ErrNotFound)
// works. Only the HTTP status decides the sentinel: a code in the body
// never does (a 200 carrying {"code":404} is ErrFailedIn2xx, not
// ErrNotFound).
//
// Code, Message and Shape are read from the body, whatever its shape
// (BodyShape). Message is WHAPI's own text (tokens removed, one line, at most
// 300 characters). Error() includes it, so it may be logged; pages and API
// answers must never show it.
type APIError struct {
	// Op names the call, e.g. "create channel".
	Op string
	// Status is the HTTP status code.
	Status int
	// Code is the code of the error body ("error.code", or a top-level
	// "code"), 0 when absent.
	Code int
	// Message is the error body's text: "error.message", a top-level "error"
	// string or "message", a plain-text body, or an HTML page's title; ""
	// when absent.
	Message string
	// Shape is the form the error body took, e.g. ShapeNested (WHAPI's
	// documented body) or ShapeHTML (a proxy's page).
	Shape BodyShape
	// RetryAfter is how long to wait before trying again: from the
	// Retry-After header (seconds or an HTTP date), and DefaultRetryAfter on a
	// 429 without a usable header. It is 0 on other answers without the header.
	RetryAfter time.Duration
}

// Error returns e.g. "whapi: create channel: 404 not found: Specified project
// not found".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("whapi: ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.Status))
	if t := http.StatusText(e.Status); t != "" {
		b.WriteByte(' ')
		b.WriteString(strings.ToLower(t))
	}
	if e.Status >= 200 && e.Status < 300 {
		b.WriteString(", but the answer says it failed")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after ")
		b.WriteString(e.RetryAfter.String())
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap returns the sentinel error that matches Status.
func (e *APIError) Unwrap() error { return sentinelFor(e.Status) }

// sentinelFor maps an HTTP status to its sentinel error (a 2xx only gets
// here when its body says the call failed).
func sentinelFor(status int) error {
	switch {
	case status >= 200 && status < 300:
		return ErrFailedIn2xx
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return ErrUnauthorized
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusConflict:
		return ErrConflict
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status >= 400 && status < 500:
		return ErrRefused
	default:
		// 5xx, and anything unexpected (1xx, a 3xx redirect we do not follow).
		return ErrUpstream
	}
}

// OutcomeUnknown reports whether err leaves it open whether WHAPI applied the
// request: a timeout, a broken connection, a 5xx, a malformed answer, or a
// 2xx whose body says it failed. A caller must check the upstream state
// (e.g. list channels after a lost create) before retrying a call that is
// not idempotent, or before counting it as done. An extend's refusal that
// says why (ErrTooSoon, ErrBalanceShort) is a definite "not applied", even
// under a 503.
func OutcomeUnknown(err error) bool {
	if errors.Is(err, ErrTooSoon) || errors.Is(err, ErrBalanceShort) {
		return false
	}
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnreachable) || errors.Is(err, ErrUpstream) ||
		errors.Is(err, ErrFailedIn2xx)
}

// callError is an error found by the client itself (no HTTP error status):
// local validation, a missing token, a transport failure or a malformed
// answer. Its text never contains a token.
type callError struct {
	op    string
	text  string // what went wrong, already free of secrets
	kind  error  // the sentinel
	cause error  // optional underlying error, for errors.Is/As
}

func (e *callError) Error() string { return "whapi: " + e.op + ": " + e.text }

func (e *callError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// invalidInput returns an ErrInvalidInput error for op.
func invalidInput(op, text string) error {
	return &callError{op: op, text: text, kind: ErrInvalidInput}
}

// parseRetryAfter reads a Retry-After header value: delay-seconds or an
// HTTP date. ok is false when the value is missing, malformed or not in the
// future.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0, false
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now)
	if d <= 0 {
		return 0, false
	}
	return min(d, maxRetryAfter), true
}
