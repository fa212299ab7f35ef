package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// Sender sends mails through one SMTP server, one connection per mail. It is
// safe for concurrent use.
type Sender struct {
	cfg  Config
	from Address
}

// Result is what the server said when it took the mail.
type Result struct {
	// Reply is the server's final reply, e.g. "250 2.0.0 Ok: queued as 4BQ3…",
	// for the outbox to record.
	Reply string
	// MessageID is the Message-ID the mail carried, without angle brackets.
	MessageID string
}

// New makes a Sender for cfg (from ParseURL) that sends as from (from
// ParseFrom).
func New(cfg Config, from Address) (*Sender, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	f, err := checkAddress("from-address", from)
	if err != nil {
		return nil, fmt.Errorf("mailer: %w", err)
	}
	return &Sender{cfg: cfg.withDefaults(), from: f}, nil
}

// Send delivers m to the server: connect, TLS, AUTH, MAIL FROM, RCPT TO,
// DATA. It returns once the server has answered the message, or fails with
// an *Error that says whether a retry may help. The whole exchange is
// bounded by the Config's Timeout and by ctx, whichever ends first; the
// connect by DialTimeout besides.
func (s *Sender) Send(ctx context.Context, m Message) (Result, error) {
	msg, err := s.build(m)
	if err != nil {
		return Result{}, permanent(StepMessage, err)
	}
	id, _ := checkMessageID(m.MessageID)
	// The envelope as go-mail writes it: <address>, from the From and To
	// headers (there is no Cc or Bcc).
	from, err := msg.GetSender(false)
	if err != nil {
		return Result{}, permanent(StepMessage, err)
	}
	rcpts, err := msg.GetRecipients()
	if err != nil {
		return Result{}, permanent(StepMessage, err)
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	c, err := s.connect(ctx)
	if err != nil {
		return Result{}, err
	}
	defer func() { _ = c.Close() }() // after QUIT, or after a failure: nothing to report

	fail := func(step Step, err error) (Result, error) {
		e := classify(step, err, ctx.Err())
		e.MaybeDelivered = step == StepDataEnd && e.Code == 0
		return Result{}, e
	}
	if err := c.Mail(from); err != nil {
		return fail(StepMailFrom, err)
	}
	for _, rcpt := range rcpts {
		if err := c.Rcpt(rcpt); err != nil {
			return fail(StepRcptTo, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fail(StepData, err)
	}
	if _, err := msg.WriteTo(w); err != nil {
		return fail(StepData, err)
	}
	if err := w.Close(); err != nil {
		return fail(StepDataEnd, err)
	}
	reply := "250"
	if dc, ok := w.(*smtp.DataCloser); ok && dc.ServerResponse() != "" {
		reply += " " + oneLine(dc.ServerResponse())
	}
	// The mail is the server's now. A failed QUIT changes nothing: it must
	// not make the outbox send the mail again.
	_ = c.Quit()
	return Result{Reply: reply, MessageID: id}, nil
}

// Check connects, says EHLO, upgrades to TLS and authenticates as Send
// would, then quits without sending anything: for a start-up or doctor
// check of WHAPIDESK_SMTP_URL.
func (s *Sender) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }() // after QUIT
	if err := c.Quit(); err != nil {
		return classify(StepConnect, err, ctx.Err())
	}
	return nil
}

// connect dials, reads the greeting, says EHLO, starts TLS (required,
// offered, or from the first byte) and authenticates, all through go-mail.
func (s *Sender) connect(ctx context.Context) (*smtp.Client, error) {
	deadline, _ := ctx.Deadline()
	dialed := &dialedConn{}
	auth := &strictAuth{user: s.cfg.Username, pass: s.cfg.Password}
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		// go-mail's per-command deadline; the connection itself never
		// lets one reach past ctx's deadline (boundConn).
		gomail.WithTimeout(max(time.Until(deadline), time.Millisecond)),
		gomail.WithTLSConfig(s.tlsConfig()),
		gomail.WithDialContextFunc(s.dialFunc(ctx, dialed)),
	}
	if s.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.cfg.HELO))
	}
	if s.cfg.Security == ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		// Opportunistic in go-mail's terms: STARTTLS whenever it is
		// offered. Where TLS is required, its absence is refused below
		// (and by strictAuth, before AUTH), with ErrNoTLS.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuthCustom(auth))
	}
	mc, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, permanent(StepConnect, err)
	}
	c, err := mc.DialToSMTPClientWithContext(ctx)
	if err != nil {
		// go-mail leaves the connection open when EHLO, STARTTLS or AUTH
		// fails: close it here.
		dialed.close()
		step := StepConnect
		if auth.started() {
			step = StepAuth
		}
		return nil, classify(step, err, ctx.Err())
	}
	if s.cfg.Security == StartTLSRequired {
		if _, err := c.GetTLSConnectionState(); err != nil {
			_ = c.Close()
			return nil, classify(StepConnect, ErrNoTLS, nil)
		}
	}
	return c, nil
}

func (s *Sender) tlsConfig() *tls.Config {
	return &tls.Config{
		ServerName: s.cfg.Host,
		RootCAs:    s.cfg.RootCAs,
		MinVersion: tls.VersionTLS12,
	}
}

// dialedConn remembers the connection go-mail was given, to close it.
type dialedConn struct {
	mu   sync.Mutex
	conn net.Conn
}

func (d *dialedConn) set(c net.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conn = c
}

func (d *dialedConn) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		_ = d.conn.Close()
	}
}

// dialFunc connects for go-mail: TCP within DialTimeout, the connection
// bound to the send's context, and for smtps the TLS handshake. It dials
// the configured host and port itself (go-mail's address would lack the
// brackets an IPv6 address needs).
func (s *Sender) dialFunc(sendCtx context.Context, dialed *dialedConn) gomail.DialContextFunc {
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
		defer cancel()
		d := net.Dialer{}
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		conn := bindConn(sendCtx, raw)
		dialed.set(conn)
		if s.cfg.Security != ImplicitTLS {
			return conn, nil
		}
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, err
		}
		return tc, nil
	}
}

// boundConn is a connection that no deadline can carry past its context's
// deadline, and that stops reading and writing when the context ends: so a
// server that answers each command just in time, or never, cannot hold a
// send longer than its timeout.
type boundConn struct {
	net.Conn
	ctx  context.Context
	mu   sync.Mutex
	stop func() bool
}

// longAgo is a deadline in the past: set, it fails every read and write.
var longAgo = time.Unix(1, 0)

func bindConn(ctx context.Context, c net.Conn) *boundConn {
	b := &boundConn{Conn: c, ctx: ctx}
	_ = b.SetDeadline(time.Time{})
	b.stop = context.AfterFunc(ctx, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		_ = b.Conn.SetDeadline(longAgo)
	})
	return b
}

func (b *boundConn) bound(t time.Time) time.Time {
	if b.ctx.Err() != nil {
		return longAgo
	}
	if d, ok := b.ctx.Deadline(); ok && (t.IsZero() || d.Before(t)) {
		return d
	}
	return t
}

func (b *boundConn) SetDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Conn.SetDeadline(b.bound(t))
}

func (b *boundConn) SetReadDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Conn.SetReadDeadline(b.bound(t))
}

func (b *boundConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Conn.SetWriteDeadline(b.bound(t))
}

func (b *boundConn) Close() error {
	if b.stop != nil {
		b.stop()
	}
	return b.Conn.Close()
}

// ErrNoAuthMechanism: the server offers neither AUTH PLAIN nor AUTH LOGIN.
var ErrNoAuthMechanism = errors.New("the SMTP server offers neither AUTH PLAIN nor AUTH LOGIN")

// strictAuth is AUTH PLAIN (or LOGIN, when the server offers only that) that
// refuses to start on a connection without TLS — unlike go-mail's own, which
// lets a password go in clear to "localhost". Refusing in Start means the
// AUTH command is never written.
type strictAuth struct {
	user, pass string
	mu         sync.Mutex
	began      bool
	inner      smtp.Auth
}

func (a *strictAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	a.mu.Lock()
	a.began = true
	a.mu.Unlock()
	if !server.TLS {
		return "", nil, ErrNoTLS
	}
	switch {
	case slices.Contains(server.Auth, "PLAIN"):
		a.inner = smtp.PlainAuth("", a.user, a.pass, server.Name, false)
	case slices.Contains(server.Auth, "LOGIN"):
		a.inner = smtp.LoginAuth(a.user, a.pass, server.Name, false)
	default:
		return "", nil, ErrNoAuthMechanism
	}
	return a.inner.Start(server)
}

func (a *strictAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.inner.Next(fromServer, more)
}

func (a *strictAuth) started() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.began
}
