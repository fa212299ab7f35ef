package whapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults of a Client.
const (
	// DefaultTimeout bounds one Client call, retries included.
	DefaultTimeout = 15 * time.Second
	// DefaultRetries is how many times a failed GET is retried.
	DefaultRetries = 2
	// DefaultRetryBase is the first backoff delay before a retry.
	DefaultRetryBase = 200 * time.Millisecond
	// MaxListCount is the largest page WHAPI serves on GET /channels/list.
	MaxListCount = 500
)

const (
	// maxAnswer limits how much of an answer is read (QR answers are ~50 KB).
	maxAnswer = 1 << 20
	// maxRetryDelay caps one backoff delay.
	maxRetryDelay = 10 * time.Second
	// maxMessage caps the length of an upstream error message we keep.
	maxMessage = 300
	// userAgent identifies the client to WHAPI.
	userAgent = "whapidesk-whapi/1"
)

// TokenSource gives the partner token at call time. It is read from the
// settings on every call, so a replaced token takes effect at once.
//
// The returned value is the full Authorization header value as stored, e.g.
// "Bearer eyJ…". The client sends it byte for byte; it never adds or removes
// "Bearer ". An empty value is ErrNoToken.
type TokenSource interface {
	// PartnerToken returns the Authorization header value to send.
	PartnerToken(ctx context.Context) (string, error)
}

// TokenSourceFunc adapts a function to a TokenSource.
type TokenSourceFunc func(ctx context.Context) (string, error)

// PartnerToken calls f.
func (f TokenSourceFunc) PartnerToken(ctx context.Context) (string, error) { return f(ctx) }

// Option configures a Client in New.
type Option func(*Client)

// WithHTTPClient makes the Client send requests with hc (nil is ignored). The
// default is a client of its own that does not follow redirects.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// WithTimeout sets the timeout of one call, retries included, applied on top
// of the caller's context (default DefaultTimeout; d <= 0 is ignored).
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithLogger sets the logger of the per-request log lines (default
// slog.Default(); nil is ignored).
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}

// WithRetries sets how many times a GET is retried after a transport failure,
// a 5xx answer or a 2xx whose body says it failed (n < 0 means 0), and the first backoff delay (base <= 0
// means DefaultRetryBase). The delay doubles on each retry, with jitter.
// PUT, POST, PATCH and DELETE are never retried. Defaults: DefaultRetries,
// DefaultRetryBase.
func WithRetries(n int, base time.Duration) Option {
	return func(c *Client) {
		c.retries = max(n, 0)
		if base > 0 {
			c.retryBase = base
		} else {
			c.retryBase = DefaultRetryBase
		}
	}
}

// Client calls WHAPI's manager (partner) and gate (channel) APIs. It is safe
// for concurrent use.
type Client struct {
	manager   *url.URL // nil if managerURL was not a usable URL
	gate      *url.URL // nil if gateURL was not a usable URL
	tokens    TokenSource
	http      *http.Client
	timeout   time.Duration
	log       *slog.Logger
	retries   int
	retryBase time.Duration

	// A channel's own gate host (gatehost.go): the allowlist, the
	// configured gate's domain and port, and the apiUrls refused so far.
	gateHosts          []gateRule
	domain, domainPort string
	refused            refusedGates
}

// New returns a Client for the manager API at managerURL (e.g.
// "https://manager.whapi.cloud") and the gate API at gateURL (e.g.
// "https://gate.whapi.cloud/"); both may end with a slash and may carry a path
// prefix. tokens gives the partner token on each manager call. A URL that is
// not an absolute http(s) URL makes every call to that API fail with
// ErrInvalidInput.
func New(managerURL, gateURL string, tokens TokenSource, opts ...Option) *Client {
	c := &Client{
		manager:   parseBase(managerURL),
		gate:      parseBase(gateURL),
		tokens:    tokens,
		timeout:   DefaultTimeout,
		log:       slog.Default(),
		retries:   DefaultRetries,
		retryBase: DefaultRetryBase,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(c)
		}
	}
	c.domain, c.domainPort = gateDomain(c.gate)
	if c.http == nil {
		c.http = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// WHAPI does not redirect. Following a redirect would turn a PUT
			// into a GET (301/302) and forward the token, so a redirect is
			// answered as it is: an unexpected status, ErrUpstream.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c
}

// parseBase parses a base URL; nil if it is not an absolute http(s) URL.
func parseBase(raw string) *url.URL {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	if !strings.HasPrefix(u.Path, "/") {
		u.Path, u.RawPath = "/"+u.Path, ""
	}
	return u
}

// call describes one API call.
type call struct {
	op      string     // for errors and logs, e.g. "create channel"
	method  string     // HTTP method
	gate    bool       // gate API (channel token) instead of manager (partner token)
	apiURL  string     // gate: the channel's apiUrl ("" = the configured gate)
	host    string     // set by do: the channel's own gate host, when not the configured gate
	segs    []string   // path segments, already escaped
	query   url.Values // nil for none; never a token
	logPath string     // path to log instead of the real one (hides a phone number)
	body    any        // JSON body; nil for none
	token   string     // gate: the raw channel token
	hide    []string   // more secrets to keep out of any text (besides the token)
	// partner, when set, is the partner token to send instead of the
	// TokenSource's: a candidate being checked before it is saved
	// (ProjectsWithToken). Like the stored one, it is the full header value.
	partner string
	// date, when set, receives the Date header of the answer that
	// succeeded (zero when it had none, or none that parses).
	date *time.Time
}

// answer is an HTTP answer, its body already read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do performs c (with retries for GET) and decodes a 2xx answer into out. out
// nil means an action answer, {"success": true}.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	base, which := c.manager, "manager"
	if cl.gate {
		base, which = c.gate, "gate"
	}
	own := cl.gate && strings.TrimSpace(cl.apiURL) != "" // the channel names its gate
	if base == nil && !own {
		return invalidInput(cl.op, "the "+which+" URL is not an absolute http(s) URL")
	}
	auth, secrets, err := c.authorization(ctx, cl)
	if err != nil {
		return err
	}
	secrets = append(secrets, cl.hide...)
	if own {
		if base = c.gateBase(ctx, cl.apiURL, secrets); base == nil {
			return invalidInput(cl.op, "the gate URL is not an absolute http(s) URL")
		}
		if base != c.gate {
			cl.host = base.Host
		}
	}
	var payload []byte
	if cl.body != nil {
		if payload, err = json.Marshal(cl.body); err != nil {
			return &callError{op: cl.op, text: "cannot encode the request", kind: ErrInvalidInput, cause: err}
		}
	}
	target := base.JoinPath(cl.segs...)
	if len(cl.query) > 0 {
		target.RawQuery = cl.query.Encode()
	}
	logPath := cl.logPath
	if logPath == "" {
		logPath = target.EscapedPath()
	} else {
		logPath = strings.TrimSuffix(base.EscapedPath(), "/") + logPath
	}

	attempts := 1
	if cl.method == http.MethodGet {
		attempts += c.retries
	}
	var last error
	for attempt := 1; ; attempt++ {
		start := time.Now()
		ans, terr := c.send(ctx, cl.method, target.String(), auth, payload)
		elapsed := time.Since(start)

		var retryable bool
		switch {
		case terr != nil:
			last = transportError(ctx, cl.op, terr, secrets)
			// A retry is useless once our context is done.
			retryable = ctx.Err() == nil
			c.logAttempt(ctx, cl, logPath, attempt, 0, elapsed, last)
		case ans.status >= 200 && ans.status < 300:
			err := decodeAnswer(cl.op, ans, out, secrets)
			if !errors.Is(err, ErrFailedIn2xx) {
				c.logAttempt(ctx, cl, logPath, attempt, ans.status, elapsed, nil)
				if err == nil && cl.date != nil {
					*cl.date = answerDate(ans.header)
				}
				return err
			}
			// A success status whose body says it failed: like a 5xx, the
			// outcome is unknown, and a GET may be asked again.
			last, retryable = err, true
			c.logAttempt(ctx, cl, logPath, attempt, ans.status, elapsed, last)
		default:
			last = apiError(cl.op, ans, secrets)
			retryable = ans.status >= 500
			c.logAttempt(ctx, cl, logPath, attempt, ans.status, elapsed, last)
		}
		if !retryable || attempt >= attempts || !c.backoff(ctx, attempt) {
			return last
		}
	}
}

// authorization returns the Authorization header value for cl, and the
// secrets to keep out of any text.
func (c *Client) authorization(ctx context.Context, cl call) (string, []string, error) {
	if cl.gate {
		tok := cl.token
		if tok == "" {
			return "", nil, &callError{op: cl.op, text: "no channel token", kind: ErrNoToken}
		}
		if len(tok) > 4096 || !visibleASCII(tok) {
			// E.g. "Bearer abc…": the gate methods take the raw token.
			return "", nil, invalidInput(cl.op, "the channel token must be the raw token (no spaces, no \"Bearer \")")
		}
		return "Bearer " + tok, []string{tok}, nil
	}
	val := cl.partner
	if val == "" {
		if c.tokens == nil {
			return "", nil, &callError{op: cl.op, text: "no partner token source", kind: ErrNoToken}
		}
		var err error
		if val, err = c.tokens.PartnerToken(ctx); err != nil {
			return "", nil, &callError{op: cl.op, text: "partner token unavailable", kind: ErrNoToken, cause: err}
		}
	}
	if val == "" {
		return "", nil, &callError{op: cl.op, text: "no partner token configured", kind: ErrNoToken}
	}
	if !validHeaderValue(val) {
		return "", nil, invalidInput(cl.op, "the stored partner token contains characters not allowed in a header")
	}
	secrets := []string{val}
	// Also hide the credential without its scheme ("Bearer "), in case an
	// upstream message echoes only that part.
	if _, cred, ok := strings.Cut(strings.TrimSpace(val), " "); ok && strings.TrimSpace(cred) != "" {
		secrets = append(secrets, strings.TrimSpace(cred))
	}
	return val, secrets, nil
}

// send makes one HTTP attempt and reads (a bounded part of) the answer. The
// error is a transport error: no complete answer.
func (c *Client) send(ctx context.Context, method, target, auth string, payload []byte) (answer, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// answerDate is the time an answer's Date header states (RFC 9110: when
// the server made it, by the server's clock), or zero without one that
// parses.
func answerDate(h http.Header) time.Time {
	t, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return time.Time{}
	}
	return t
}

// transportError classifies a failure without an answer: ErrTimeout when the
// deadline passed or the call was cancelled, ErrUnreachable otherwise. The
// URL (from *url.Error) is left out of the text.
func transportError(ctx context.Context, op string, err error, secrets []string) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	var nerr net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return &callError{op: op, text: "call cancelled before an answer (outcome unknown)", kind: ErrTimeout, cause: context.Canceled}
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return &callError{op: op, text: "no answer in time (outcome unknown)", kind: ErrTimeout, cause: context.DeadlineExceeded}
	case errors.As(err, &nerr) && nerr.Timeout():
		return &callError{op: op, text: "no answer in time (outcome unknown): " + redact(err.Error(), secrets), kind: ErrTimeout, cause: err}
	default:
		return &callError{op: op, text: "no answer (outcome unknown): " + redact(err.Error(), secrets), kind: ErrUnreachable, cause: err}
	}
}

// apiError builds the error for an answer with a non-2xx status, or for a
// 2xx answer whose body says the call failed. WHAPI's message is kept
// without any secret, on one line, at most maxMessage runes.
func apiError(op string, ans answer, secrets []string) *APIError {
	e := &APIError{Op: op, Status: ans.status}
	var msg string
	e.Code, msg, e.Shape = parseErrorBody(ans.body, ans.header.Get("Content-Type"))
	e.Message = sanitize(redact(msg, secrets), maxMessage)
	if d, ok := parseRetryAfter(ans.header.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter = d
	} else if ans.status == http.StatusTooManyRequests {
		e.RetryAfter = DefaultRetryAfter
	}
	return e
}

// decodeAnswer decodes a 2xx answer into out, or checks an action answer
// when out is nil. A body that says the call failed (an "error" member, or
// "success": false) is an *APIError that unwraps to ErrFailedIn2xx; a
// malformed answer is ErrUpstream.
func decodeAnswer(op string, ans answer, out any, secrets []string) error {
	if len(ans.body) > maxAnswer {
		return &callError{op: op, text: "answer larger than 1 MiB", kind: ErrUpstream}
	}
	if failedIn2xx(ans.body) {
		return apiError(op, ans, secrets)
	}
	if out == nil {
		// Decision: a 2xx is success unless the body says it failed (above).
		// An empty body (or 204) is accepted; WHAPI documents {"success":true}.
		if len(bytes.TrimSpace(ans.body)) == 0 {
			return nil
		}
		var sa successAnswer
		if err := json.Unmarshal(ans.body, &sa); err != nil {
			return malformed(op, err)
		}
		return nil
	}
	if err := json.Unmarshal(ans.body, out); err != nil {
		return malformed(op, err)
	}
	return nil
}

// malformed returns the ErrUpstream error of an answer that is not the JSON
// we expect.
func malformed(op string, cause error) error {
	text := "malformed answer"
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(cause, &se):
		text += " (not JSON)"
	case errors.As(cause, &te):
		text += " (field " + sanitize(te.Field, 60) + " has the wrong type)"
	}
	return &callError{op: op, text: text, kind: ErrUpstream, cause: cause}
}

// upstream returns an ErrUpstream error for a 2xx answer that lacks what we
// need.
func upstream(op, text string) error {
	return &callError{op: op, text: text, kind: ErrUpstream}
}

// backoff waits before retry number n (1-based). It returns false, without
// waiting, if the wait would outlast the call's deadline, and false if the
// context ends while waiting.
func (c *Client) backoff(ctx context.Context, n int) bool {
	d := c.retryBase
	for i := 1; i < n && d < maxRetryDelay; i++ {
		d *= 2
	}
	d = min(d, maxRetryDelay)
	// Jitter: a uniform delay in [d/2, d].
	d = d/2 + rand.N(d/2+1)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// logAttempt writes one log line per HTTP attempt: method, path, status,
// duration. Never headers, bodies, queries or tokens.
func (c *Client) logAttempt(ctx context.Context, cl call, path string, attempt, status int, elapsed time.Duration, err error) {
	level := slog.LevelInfo
	switch {
	case err == nil && cl.method == http.MethodGet:
		level = slog.LevelDebug
	case status == 0, status >= 500, status == http.StatusUnauthorized,
		status == http.StatusForbidden, status == http.StatusTooManyRequests,
		errors.Is(err, ErrFailedIn2xx):
		level = slog.LevelWarn
	}
	if !c.log.Enabled(ctx, level) {
		return
	}
	api := "manager"
	if cl.gate {
		api = "gate"
	}
	attrs := []slog.Attr{
		slog.String("api", api),
		slog.String("op", cl.op),
		slog.String("method", cl.method),
		slog.String("path", path),
		slog.Int("status", status),
		slog.Int64("duration_ms", elapsed.Milliseconds()),
		slog.Int("attempt", attempt),
	}
	if cl.host != "" {
		attrs = append(attrs, slog.String("host", cl.host))
	}
	if status == 0 && err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	// The shape and code of an error body, never its text: they tell a
	// proxy's page from WHAPI's own answer.
	var ae *APIError
	if errors.As(err, &ae) {
		attrs = append(attrs, slog.String("body", string(ae.Shape)), slog.Int("code", ae.Code))
	}
	c.log.LogAttrs(ctx, level, "whapi request", attrs...)
}

// redact replaces every secret in s.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// sanitize makes an upstream string safe to show in an error: control
// characters become spaces, invalid UTF-8 is dropped, and it is cut to at
// most n runes.
func sanitize(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n]) + "…"
	}
	return s
}

// visibleASCII reports whether s is made only of printable ASCII without
// spaces.
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s can be sent as a header value: no
// control characters other than tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < 0x20 && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}
