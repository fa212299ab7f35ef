package whapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/net/publicsuffix"
)

// A channel's gate host. WHAPI reports with each channel the gate that
// serves it (its apiUrl, e.g. "https://gate.whapi.cloud/"), and a channel
// may live on another gate host than the configured one. Calls for the
// channel carry its token, so they go to its apiUrl only when that host may
// receive it:
//
//   - the configured gate itself (same scheme, host and port), or
//   - an https host on the configured gate's domain (its registrable
//     domain: *.whapi.cloud for https://gate.whapi.cloud), on the configured
//     gate's port (443 unless it names another), or
//   - an https host the allowlist names (WithGateHosts).
//
// An apiUrl with credentials in it is never used. Anything else is refused:
// logged once, without a token, and the configured gate is used.

// maxRefusedGates bounds how many refused apiUrls a Client remembers (to
// log each once): a stream of odd answers cannot grow its memory.
const maxRefusedGates = 256

// gateRule is one allowlist entry: a host (or, with wildcard, any host
// under it) on a port.
type gateRule struct {
	host     string
	wildcard bool
	port     string
}

// matches reports whether an https host and port fit the rule.
func (r gateRule) matches(host, port string) bool {
	if port != r.port {
		return false
	}
	if r.wildcard {
		return strings.HasSuffix(host, "."+r.host)
	}
	return host == r.host
}

// WithGateHosts lets a channel's gate calls go to the https hosts listed,
// beside the configured gate's domain (see Client.Gate). Each entry is a
// host name or address, with a port when not 443 ("gate2.example.com",
// "10.0.0.7:8443", "[::1]:8443"), or "*.example.com" for every host under
// example.com. Entries that are not such hosts are ignored; check a setting
// with ParseGateHosts first.
func WithGateHosts(entries ...string) Option {
	return func(c *Client) {
		for _, e := range entries {
			if r, err := parseGateRule(e); err == nil {
				c.gateHosts = append(c.gateHosts, r)
			}
		}
	}
}

// ParseGateHosts reads a comma-separated list of gate hosts as
// WithGateHosts takes them (blank entries are skipped) and returns the
// entries, or an error naming the first that is not a host.
func ParseGateHosts(list string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if _, err := parseGateRule(e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// parseGateRule reads one allowlist entry.
func parseGateRule(entry string) (gateRule, error) {
	e := strings.TrimSpace(entry)
	bad := func(why string) (gateRule, error) {
		return gateRule{}, errors.New("gate host " + strconv.Quote(sanitize(e, 80)) + ": " + why)
	}
	if strings.Contains(e, "://") {
		return bad("write the host alone, without a scheme (https is implied)")
	}
	r := gateRule{}
	if rest, ok := strings.CutPrefix(e, "*."); ok {
		r.wildcard, e = true, rest
	}
	u, err := url.Parse("https://" + e)
	if err != nil || u.Host != e || u.User != nil || u.Hostname() == "" {
		return bad("not a host name or address, with an optional :port")
	}
	r.host, r.port = canonicalHost(u.Hostname()), effectivePort(u)
	if n, err := strconv.Atoi(r.port); err != nil || n < 1 || n > 65535 {
		return bad("the port must be a number from 1 to 65535")
	}
	if r.wildcard && (net.ParseIP(r.host) != nil || !strings.Contains(r.host, ".")) {
		return bad("a wildcard needs a domain with a dot, like *.example.com")
	}
	return r, nil
}

// canonicalHost is a host name as compared: lower case, without a
// trailing dot.
func canonicalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// effectivePort is the URL's port, or its scheme's default.
func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "http" {
		return "80"
	}
	return "443"
}

// gateDomain is the registrable domain of the configured gate's host
// ("whapi.cloud" for gate.whapi.cloud) and the port its hosts must use;
// "" when the gate is an address or a name without one (localhost).
func gateDomain(gate *url.URL) (domain, port string) {
	if gate == nil {
		return "", ""
	}
	host := canonicalHost(gate.Hostname())
	if net.ParseIP(host) != nil {
		return "", ""
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return "", ""
	}
	port = gate.Port()
	if port == "" || gate.Scheme != "https" {
		port = "443"
	}
	return d, port
}

// gateRefusal says why the apiUrl u (nil: not an absolute http(s) URL) may
// not receive a channel's token; "" when it may.
func (c *Client) gateRefusal(u *url.URL) string {
	if u == nil {
		return "not an absolute http(s) URL"
	}
	if u.User != nil {
		return "credentials in the URL"
	}
	host, port := canonicalHost(u.Hostname()), effectivePort(u)
	if g := c.gate; g != nil && u.Scheme == g.Scheme && host == canonicalHost(g.Hostname()) && port == effectivePort(g) {
		return "" // the configured gate itself
	}
	if u.Scheme != "https" {
		return "not https"
	}
	for _, r := range c.gateHosts {
		if r.matches(host, port) {
			return ""
		}
	}
	if c.domain != "" && port == c.domainPort && (host == c.domain || strings.HasSuffix(host, "."+c.domain)) {
		return ""
	}
	return "host not on the configured gate's domain nor in the allowed gate hosts"
}

// gateBase returns the base URL of a gate call for a channel whose apiUrl
// is apiURL: that URL when it may receive the token, else the configured
// gate (nil if that is not usable either). A refusal is logged once per
// apiUrl, with its scheme and host only, tokens removed.
func (c *Client) gateBase(ctx context.Context, apiURL string, secrets []string) *url.URL {
	u := parseBase(apiURL)
	why := c.gateRefusal(u)
	if why == "" {
		return u
	}
	if c.noteRefusedGate(apiURL) {
		attrs := []slog.Attr{slog.String("reason", why)}
		if u != nil {
			attrs = append(attrs, slog.String("scheme", u.Scheme), slog.String("host", redact(sanitize(u.Host, 100), secrets)))
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "whapi: a channel's gate address was refused; using the configured gate", attrs...)
	}
	return c.gate
}

// refusedGates remembers the apiUrls already logged as refused.
type refusedGates struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

// noteRefusedGate reports whether apiURL is refused for the first time
// (then it is logged).
func (c *Client) noteRefusedGate(apiURL string) bool {
	r := &c.refused
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.seen[apiURL]; ok {
		return false
	}
	if r.seen == nil {
		r.seen = map[string]struct{}{}
	}
	if len(r.seen) < maxRefusedGates {
		r.seen[apiURL] = struct{}{}
	}
	return true
}
