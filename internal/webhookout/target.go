package webhookout

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// MaxURLLength is the longest endpoint address accepted, in bytes.
const MaxURLLength = 2048

// URLError is why an endpoint's address was refused, in words fit to show
// beside the form's field (English; Problem and Arg let a caller say it
// in the reader's language). It never repeats the address (which may
// carry a token in its query).
type URLError struct {
	Msg string
	// Problem names the refusal (one of URLProblems); Arg is its detail:
	// the scheme written (URLScheme), the longest address (URLTooLong),
	// the kind of address (URLPrivate: a reason of PrivateReasons), or "".
	Problem, Arg string
}

func (e *URLError) Error() string { return e.Msg }

func badURL(problem, arg, format string, args ...any) *URLError {
	return &URLError{Msg: fmt.Sprintf(format, args...), Problem: problem, Arg: arg}
}

// The refusals of ValidateURL (URLError.Problem).
const (
	URLEmpty      = "empty"
	URLTooLong    = "too_long"
	URLInvalid    = "invalid"
	URLNoScheme   = "no_scheme"
	URLPlainHTTP  = "plain_http"
	URLScheme     = "scheme"
	URLNoHost     = "no_host"
	URLUser       = "user"
	URLFragment   = "fragment"
	URLPort       = "port"
	URLLocalhost  = "localhost"
	URLPrivate    = "private"
	URLNoEndpoint = "no_endpoint"
)

// URLProblems are every URLError.Problem, for a translation's test.
func URLProblems() []string {
	return []string{URLEmpty, URLTooLong, URLInvalid, URLNoScheme, URLPlainHTTP, URLScheme, URLNoHost, URLUser,
		URLFragment, URLPort, URLLocalhost, URLPrivate, URLNoEndpoint}
}

// PrivateReasons are every kind of address PrivateReason names.
func PrivateReasons() []string {
	out := []string{"invalid"}
	for _, b := range blocked {
		if !slices.Contains(out, b.reason) {
			out = append(out, b.reason)
		}
	}
	return out
}

// ValidateURL checks an endpoint's address as an admin typed it and returns
// it parsed.
//
// It must be absolute, https (http only when allowPrivate is set — tests and
// the demo, where receivers listen on plain http on this machine; a real
// endpoint gets the event's data and its signature over TLS only), with a
// host, without user:password@ (credentials belong in the receiver's own
// check of the signature, not in an address shown on pages and kept in
// logs), without a #fragment (never sent over HTTP, so it would be a
// mistake), and at most MaxURLLength bytes. A query is allowed.
//
// Without allowPrivate, a host written as an IP address must be public, and
// "localhost" (and names under .localhost, which always mean this machine)
// are refused. Names are not resolved here: whatever they resolve to is
// checked when a delivery connects.
func ValidateURL(raw string, allowPrivate bool) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, badURL(URLEmpty, "", "enter the address of your endpoint, like https://hooks.example.com/whapidesk")
	}
	if len(raw) > MaxURLLength {
		return nil, badURL(URLTooLong, strconv.Itoa(MaxURLLength), "the address is too long: at most %d characters", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, badURL(URLInvalid, "", "this is not a valid address: write it like https://hooks.example.com/whapidesk")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !allowPrivate {
			return nil, badURL(URLPlainHTTP, "", "the address must start with https://: events are only sent encrypted")
		}
	case "":
		return nil, badURL(URLNoScheme, "", "the address must start with https://")
	default:
		return nil, badURL(URLScheme, u.Scheme, "the address must start with https://, not %s://", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return nil, badURL(URLNoHost, "", "the address has no host: write it like https://hooks.example.com/whapidesk")
	}
	if u.User != nil {
		return nil, badURL(URLUser, "", "the address must not contain a user name or password (user:password@)")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, badURL(URLFragment, "", "the address must not contain a # part: it is never sent to the server")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, badURL(URLPort, "", "the port must be a number from 1 to 65535")
		}
	}
	if !allowPrivate {
		host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
		if host == "localhost" || strings.HasSuffix(host, ".localhost") {
			return nil, badURL(URLLocalhost, "", "the address points at this server (localhost): events are only sent to other systems on the internet")
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			if why := PrivateReason(ip); why != "" {
				return nil, badURL(URLPrivate, why, "the address is %s address, which webhooks may not reach: use a public address", article(why))
			}
		}
	}
	u.Scheme = strings.ToLower(u.Scheme)
	return u, nil
}

// ErrPrivateTarget: the endpoint's address, as dialled, is not on the public
// internet. A *TargetError wraps it.
var ErrPrivateTarget = errors.New("webhookout: private target refused")

// TargetError is a refused connection to a private address. Its text says
// which kind of address it was, never the address itself (an internal
// address learnt from DNS is not the admin's to see), nor the URL.
type TargetError struct {
	// Reason is the kind of address: "loopback", "private network", …
	Reason string
}

func (e *TargetError) Error() string {
	return "refused: the endpoint's host resolves to " + article(e.Reason) +
		" address, which webhooks may not reach (only public internet addresses are allowed)"
}

// Unwrap makes errors.Is(err, ErrPrivateTarget) true.
func (e *TargetError) Unwrap() error { return ErrPrivateTarget }

// blocked are the networks refused without allowPrivate, and their names.
// IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible forms are unmapped first;
// NAT64 and 6to4 addresses are judged by the IPv4 address they embed.
var blocked = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified (this-network)"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private network"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved (IETF protocol assignments)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private network"},
	{netip.MustParsePrefix("198.18.0.0/15"), "reserved (benchmarking)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // and 255.255.255.255, broadcast
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("100::/64"), "reserved (discard-only)"},
	{netip.MustParsePrefix("fc00::/7"), "private network"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "private network"}, // site-local, deprecated but still routed by some stacks
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

var (
	nat64    = netip.MustParsePrefix("64:ff9b::/96")
	nat64loc = netip.MustParsePrefix("64:ff9b:1::/48")
	sixTo4   = netip.MustParsePrefix("2002::/16")
	v4compat = netip.MustParsePrefix("::/96")
)

// PrivateReason says which kind of non-public address ip is ("loopback",
// "private network", "link-local", …), or "" when webhooks may reach it.
func PrivateReason(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid"
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return PrivateReason(netip.AddrFrom4([4]byte(b[12:16])))
		case nat64loc.Contains(ip):
			// RFC 8215 local-use NAT64: only this network's translator.
			return "private network"
		case sixTo4.Contains(ip):
			return PrivateReason(netip.AddrFrom4([4]byte(b[2:6])))
		case v4compat.Contains(ip) && ip != netip.IPv6Unspecified() && ip != netip.IPv6Loopback():
			// Deprecated IPv4-compatible form, ::a.b.c.d.
			return PrivateReason(netip.AddrFrom4([4]byte(b[12:16])))
		}
	}
	for _, b := range blocked {
		if b.prefix.Contains(ip) {
			return b.reason
		}
	}
	return ""
}

// checkDialled is a net.Dialer's Control: it runs after DNS, before each
// connect, on the address about to be dialled.
func checkDialled(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Control always gets "ip:port"; anything else is refused rather
		// than guessed at.
		return &TargetError{Reason: "unrecognised"}
	}
	if why := PrivateReason(ap.Addr()); why != "" {
		return &TargetError{Reason: why}
	}
	return nil
}

// article puts "a" or "an" before a reason.
func article(reason string) string {
	if reason != "" && strings.ContainsRune("aeiou", rune(reason[0])) {
		return "an " + reason
	}
	return "a " + reason
}
