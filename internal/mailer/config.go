package mailer

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Security is how a connection to the SMTP server is protected.
type Security int

const (
	// StartTLSIfOffered: plain TCP, upgraded with STARTTLS when the server
	// offers it (smtp:// without credentials: a local relay). With
	// credentials STARTTLS is required all the same: the password is never
	// sent in clear, whatever this says.
	StartTLSIfOffered Security = iota
	// StartTLSRequired: plain TCP that must be upgraded with STARTTLS before
	// anything else is said (smtp:// with credentials).
	StartTLSRequired
	// ImplicitTLS: TLS from the first byte (smtps://).
	ImplicitTLS
)

func (s Security) String() string {
	switch s {
	case StartTLSIfOffered:
		return "STARTTLS if offered"
	case StartTLSRequired:
		return "STARTTLS required"
	case ImplicitTLS:
		return "implicit TLS"
	}
	return "unknown"
}

// Default timeouts, used when a Config leaves them zero.
const (
	// DefaultDialTimeout bounds the TCP connect (and, for smtps, the TLS
	// handshake).
	DefaultDialTimeout = 10 * time.Second
	// DefaultTimeout bounds one whole send, from dial to the server's reply
	// to the message; the caller's context can only shorten it.
	DefaultTimeout = 60 * time.Second
)

// Config says how to reach the SMTP server. ParseURL makes one from
// WHAPIDESK_SMTP_URL; its String, GoString and LogValue never show the
// password, so a Config can be logged.
type Config struct {
	Host     string
	Port     int
	Security Security
	// Username and Password, both set or both empty. With them the sender
	// authenticates (AUTH PLAIN, or LOGIN if the server offers only that),
	// and only over TLS.
	Username string
	Password string
	// RootCAs, when set, are the certificate authorities the server's
	// certificate is checked against instead of the system's: for tests, and
	// for operators whose relay has a certificate from a private CA. The
	// certificate is always verified; there is no way to skip that.
	RootCAs *x509.CertPool
	// DialTimeout and Timeout: see DefaultDialTimeout and DefaultTimeout.
	DialTimeout time.Duration
	Timeout     time.Duration
	// HELO is the name the sender gives in EHLO; empty: this machine's
	// host name.
	HELO string
}

// Address is a mailbox: an e-mail address and, optionally, a display name.
type Address struct {
	Name  string
	Email string
}

// String is the address as a From or To header would show it, with the name
// encoded when it needs to be.
func (a Address) String() string {
	return (&mail.Address{Name: a.Name, Address: a.Email}).String()
}

// ParseURL reads WHAPIDESK_SMTP_URL:
//
//	smtp://user:pass@host:587   STARTTLS required (credentials are never sent in clear)
//	smtps://user:pass@host:465  TLS from the first byte
//	smtp://host:25              a relay without credentials: STARTTLS if it offers it
//
// User name and password are percent-decoded as in any URL (a password with
// "@", ":", "/" or "%" must be percent-encoded). Without a port, smtps uses 465,
// smtp with credentials 587 and smtp without 25. Its errors name what is wrong
// and never contain the password.
func ParseURL(raw string) (Config, error) {
	var c Config
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return c, errors.New("the SMTP URL is empty; expected smtp://user:password@host:587, smtps://user:password@host:465 or smtp://host:25")
	}
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return c, errors.New("the SMTP URL has no scheme; expected smtp://… or smtps://…")
	}
	switch strings.ToLower(scheme) {
	case "smtp":
	case "smtps":
		c.Security = ImplicitTLS
	default:
		if !plainScheme(scheme) {
			// What stands before "://" may be a piece of a mistyped
			// password: never show it.
			return c, errors.New("the SMTP URL does not start with smtp:// or smtps://")
		}
		return c, fmt.Errorf("the SMTP URL's scheme %q is not supported; use smtp:// (STARTTLS) or smtps:// (implicit TLS)", scheme)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's own message quotes the URL, or a piece of it that may
		// be the password: never pass it on.
		return c, errors.New("the SMTP URL is not a valid URL (is a special character in the user name or password, such as @ : / ? # %, percent-encoded?)")
	}
	if u.Opaque != "" {
		return c, errors.New("the SMTP URL must be smtp://host:port, with two slashes")
	}
	if u.Path != "" && u.Path != "/" {
		return c, errors.New("the SMTP URL has a path; it takes only [user:password@]host[:port] (is a / in the password percent-encoded as %2F?)")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return c, errors.New("the SMTP URL has a query or a fragment; it takes only [user:password@]host[:port] (is a ? or # in the password percent-encoded?)")
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
		switch {
		case c.Username == "" && c.Password == "":
			// "smtp://@host": no credentials.
		case c.Username == "":
			return c, errors.New("the SMTP URL has a password but no user name")
		case c.Password == "":
			return c, errors.New("the SMTP URL has a user name but no password; give both (user:password@host) or neither")
		}
	}
	if c.Username != "" && c.Security == StartTLSIfOffered {
		c.Security = StartTLSRequired
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return c, errors.New("the SMTP URL has no host")
	}
	if strings.ContainsAny(c.Host, " \t\r\n/\\") || strings.HasPrefix(c.Host, "unix:") {
		return c, errors.New("the SMTP URL's host is not a host name or an IP address")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			// Not quoted: a password mistyped without its "@host" would
			// read as the port.
			return c, errors.New("the SMTP URL's port is not a number from 1 to 65535")
		}
		c.Port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return c, errors.New("the SMTP URL has an empty port after the host")
	}
	if c.Port == 0 {
		switch {
		case c.Security == ImplicitTLS:
			c.Port = 465
		case c.Username != "":
			c.Port = 587
		default:
			c.Port = 25
		}
	}
	return c, nil
}

// plainScheme reports whether s looks like a URL scheme someone typed on
// purpose (http, smtp+tls, submission…): short, a letter and then letters,
// digits, "+", "-" or ".". Only such a scheme is named in an error.
func plainScheme(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// ParseFrom reads WHAPIDESK_MAIL_FROM: one address, optionally with a display
// name ("Acme Support <support@example.com>" or "support@example.com").
func ParseFrom(raw string) (Address, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Address{}, errors.New("the mail from-address is empty; expected an address such as support@example.com or \"Acme Support <support@example.com>\"")
	}
	if strings.ContainsAny(raw, "\r\n") {
		return Address{}, errors.New("the mail from-address contains a line break")
	}
	list, err := mail.ParseAddressList(raw)
	if err != nil {
		return Address{}, fmt.Errorf("the mail from-address %q is not an e-mail address (expected support@example.com or \"Acme Support <support@example.com>\"): %v", raw, err)
	}
	if len(list) != 1 {
		return Address{}, fmt.Errorf("the mail from-address %q holds %d addresses; give exactly one", raw, len(list))
	}
	a := list[0]
	if !strings.Contains(a.Address, "@") || strings.HasPrefix(a.Address, "@") || strings.HasSuffix(a.Address, "@") {
		return Address{}, fmt.Errorf("the mail from-address %q is not an e-mail address", raw)
	}
	return Address{Name: a.Name, Email: a.Address}, nil
}

// Redacted is the server's address as a URL, with "xxxxx" for the password.
func (c Config) Redacted() string {
	scheme := "smtp"
	if c.Security == ImplicitTLS {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port))}
	if c.Username != "" {
		u.User = url.UserPassword(c.Username, "xxxxx")
	}
	return u.String()
}

// String is Redacted: a Config printed with %v or %s never shows the password.
func (c Config) String() string { return c.Redacted() }

// GoString keeps %#v from printing the password too.
func (c Config) GoString() string { return "mailer.Config{" + c.Redacted() + "}" }

// LogValue is what slog shows for a Config: no password.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("server", c.Redacted()),
		slog.String("security", c.Security.String()),
	)
}

// withDefaults fills the zero timeouts.
func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// validate checks a Config built by hand the way ParseURL would.
func (c Config) validate() error {
	if c.Host == "" {
		return errors.New("mailer: the SMTP server has no host")
	}
	if strings.ContainsAny(c.Host, " \t\r\n/\\") || strings.HasPrefix(c.Host, "unix:") {
		return errors.New("mailer: the SMTP server's host is not a host name or an IP address")
	}
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("mailer: the SMTP server's port %d is not from 1 to 65535", c.Port)
	}
	if (c.Username == "") != (c.Password == "") {
		return errors.New("mailer: give both a user name and a password for the SMTP server, or neither")
	}
	switch c.Security {
	case StartTLSIfOffered, StartTLSRequired, ImplicitTLS:
	default:
		return errors.New("mailer: unknown SMTP security setting")
	}
	return nil
}
