package webhookout

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultTimeout bounds one delivery, from the connect to the end of the
// answer, when Options leaves Timeout zero.
const DefaultTimeout = 10 * time.Second

// UserAgent is sent with every delivery.
const UserAgent = "whapidesk-webhooks/1"

const (
	// maxResponseRead is the most of an answer's body that is read; the
	// rest is never downloaded.
	maxResponseRead = 4 << 10
	// maxSnippet is the most of it kept in an Attempt, for the log.
	maxSnippet = 256
)

// Options configure a Deliverer.
type Options struct {
	// AllowPrivate lets deliveries reach loopback, private and link-local
	// addresses, and plain http endpoints
	// (WHAPIDESK_WEBHOOK_ALLOW_PRIVATE=1: tests and the demo only).
	AllowPrivate bool
	// Timeout bounds one delivery; zero means DefaultTimeout. The caller's
	// context can only shorten it.
	Timeout time.Duration
	// RootCAs are the certificate authorities trusted for https endpoints;
	// nil means the system's.
	RootCAs *x509.CertPool
	// Resolver looks up endpoint names; nil means the system's. Whatever it
	// answers is checked again as it is dialled.
	Resolver *net.Resolver
	// Now is the clock the signature's timestamp is read from; nil means
	// time.Now.
	Now func() time.Time
}

// Deliverer sends deliveries. It is safe for concurrent use and keeps
// connections to endpoints alive between deliveries; make one and share it.
type Deliverer struct {
	allowPrivate bool
	timeout      time.Duration
	now          func() time.Time
	client       *http.Client
}

// New returns a Deliverer.
func New(opts Options) *Deliverer {
	d := &Deliverer{allowPrivate: opts.AllowPrivate, timeout: opts.Timeout, now: opts.Now}
	if d.timeout <= 0 {
		d.timeout = DefaultTimeout
	}
	if d.now == nil {
		d.now = time.Now
	}
	dialer := &net.Dialer{Timeout: d.timeout, KeepAlive: 30 * time.Second, Resolver: opts.Resolver}
	if !opts.AllowPrivate {
		// Control runs once per address tried, after DNS and before the
		// connect, with the IP about to be dialled: what is checked is
		// what is reached, whatever DNS said a moment before.
		dialer.Control = checkDialled
	}
	transport := &http.Transport{
		// No proxy from the environment: through a proxy, the address
		// checked would be the proxy's, not the endpoint's.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    d.timeout,
		ResponseHeaderTimeout:  d.timeout,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           50,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	d.client = &http.Client{
		Transport: transport,
		// A redirect is never followed: it could lead anywhere, a private
		// address included, and the signed event would go with it. The
		// 3xx is the attempt's answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return d
}

// Close drops the idle connections kept for later deliveries.
func (d *Deliverer) Close() { d.client.CloseIdleConnections() }

// Attempt is the outcome of one delivery, for the endpoint's log and the
// worker's next step.
type Attempt struct {
	// Status is the endpoint's HTTP status, 0 when it gave none.
	Status int
	// Latency is from the start of the request to the end of the answer
	// (or the failure).
	Latency time.Duration
	// Err is nil when the endpoint took the event (a 2xx). Otherwise it
	// says why, in words fit for the endpoint's page: never the URL (its
	// query may hold a token), never the secret, never an internal address.
	Err error
	// Retry: a later attempt may succeed (408, 429, 5xx, a 3xx, a timeout,
	// a connection that failed). False when delivered, or when the endpoint
	// said no for good (410 Gone, another 4xx) or the target is refused.
	Retry bool
	// Gone: the endpoint answered 410 Gone, asking to receive no more.
	Gone bool
	// RetryAfter is the wait the endpoint asked for with Retry-After (on a
	// 429 or 503), zero when none; at most GiveUpAfter.
	RetryAfter time.Duration
	// Body is the start of the endpoint's answer, at most 256 bytes on one
	// line, for the log.
	Body string
}

// Delivered reports whether the endpoint took the event.
func (a Attempt) Delivered() bool { return a.Err == nil }

// Deliver sends ev to endpoint once: a POST of ev.Encode() with
// Content-Type: application/json, User-Agent: whapidesk-webhooks/1, the
// Webhook-Id header (the event's id) and Webhook-Signature signed with
// secret — and, during a rotation's grace period, with each of previous
// too (see SignAll). The timestamp is the time of this attempt, so every
// retry is signed afresh.
//
// 2xx is delivered. 410 Gone is permanent, and Gone is set so the caller
// can stop sending to the endpoint. 408 and 429 are retried; any other 4xx
// is permanent (the endpoint refuses this event). 3xx, 5xx, other codes,
// timeouts and connection errors are retried. An address that Validate
// refuses, or that resolves to a private address, is permanent: it will
// not change by waiting.
func (d *Deliverer) Deliver(ctx context.Context, endpoint *url.URL, secret []byte, ev Event, previous ...[]byte) Attempt {
	if endpoint == nil {
		return Attempt{Err: &URLError{Msg: "the endpoint has no address", Problem: URLNoEndpoint}}
	}
	u, err := ValidateURL(endpoint.String(), d.allowPrivate)
	if err != nil {
		return Attempt{Err: err}
	}
	body, err := ev.Encode()
	if err != nil {
		return Attempt{Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return Attempt{Err: errors.New("the request could not be built from the endpoint's address")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(IDHeader, ev.ID)
	req.Header.Set(SignatureHeader, SignAll(d.now(), body, append([][]byte{secret}, previous...)...))

	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		return Attempt{Latency: time.Since(start), Err: d.transportError(ctx, err), Retry: !errors.Is(err, ErrPrivateTarget)}
	}
	// The status is the endpoint's word; the body is only for the log, so
	// an answer cut short (or one that never ends) changes nothing, and no
	// more than maxResponseRead bytes of it are downloaded.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseRead))
	resp.Body.Close()
	a := Attempt{Status: resp.StatusCode, Latency: time.Since(start), Body: snippet(head)}
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return a
	case code == http.StatusGone:
		a.Gone = true
		a.Err = errors.New("the endpoint answered 410 Gone: it asks for no more events")
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests:
		a.Retry = true
		a.Err = fmt.Errorf("the endpoint answered %s; a retry may help", statusLine(code))
	case code >= 400 && code < 500:
		a.Err = fmt.Errorf("the endpoint answered %s: it refuses this event, so a retry will not help", statusLine(code))
	case code >= 300 && code < 400:
		a.Retry = true
		a.Err = fmt.Errorf("the endpoint answered %d, a redirect, which is not followed: give the final address as the endpoint", code)
	default:
		a.Retry = true
		a.Err = fmt.Errorf("the endpoint answered %s; a retry may help", statusLine(code))
	}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		a.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), d.now())
	}
	return a
}

// statusLine is "404 Not Found", or the bare code when it has no name.
func statusLine(code int) string {
	if text := http.StatusText(code); text != "" {
		return strconv.Itoa(code) + " " + text
	}
	return strconv.Itoa(code)
}

// transportError words a failed exchange without the URL (url.Error's text
// repeats it, query and all).
func (d *Deliverer) transportError(ctx context.Context, err error) error {
	var target *TargetError
	if errors.As(err, &target) {
		return target
	}
	var dns *net.DNSError
	var ne net.Error
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return fmt.Errorf("the endpoint did not answer within %v; a retry may help", d.timeout)
	case errors.Is(err, context.Canceled):
		return errors.New("the delivery was cancelled before the endpoint answered; a retry may help")
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return errors.New("the endpoint's host name does not exist (DNS); a retry may help")
		}
		return errors.New("the endpoint's host name could not be looked up (DNS); a retry may help")
	case errors.As(err, &certErr):
		return errors.New("the endpoint's TLS certificate is not valid for its host name or not trusted; a retry may help")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("the connection to the endpoint failed: %v; a retry may help", err)
}

// snippet keeps the start of an answer on one line, valid UTF-8, at most
// maxSnippet bytes.
func snippet(b []byte) string {
	var out strings.Builder
	space := false
	for len(b) > 0 && out.Len() < maxSnippet {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		if r == utf8.RuneError && size <= 1 {
			r = '\uFFFD'
		}
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			space = out.Len() > 0
			continue
		}
		if space {
			out.WriteByte(' ')
			space = false
		}
		if out.Len()+utf8.RuneLen(r) > maxSnippet {
			break
		}
		out.WriteRune(r)
	}
	return out.String()
}

// retryAfter reads a Retry-After header: seconds or an HTTP date. It is
// capped at GiveUpAfter; a missing, past or unreadable one is zero.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(GiveUpAfter/time.Second) {
			return GiveUpAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, GiveUpAfter))
}
