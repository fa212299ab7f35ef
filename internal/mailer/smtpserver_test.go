package mailer_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"whapidesk/internal/mailer"
)

// The SMTP server of these tests is go-smtp's: a real implementation of the
// protocol, listening on 127.0.0.1 over TCP, whose backend records what it
// was given. Nothing of the sender is replaced.

// tlsMode is how the test server offers TLS.
type tlsMode int

const (
	noTLS    tlsMode = iota // plain, no STARTTLS offered
	startTLS                // plain, STARTTLS offered
	implicit                // TLS from the first byte (smtps)
)

// serverOpts says how a test server behaves.
type serverOpts struct {
	tls tlsMode
	// users: the accounts AUTH PLAIN/LOGIN accepts. nil: AUTH not offered
	// and not required.
	users map[string]string
	// allowInsecureAuth: offer and accept AUTH without TLS, as a careless
	// relay would (go-smtp refuses by default).
	allowInsecureAuth bool
	// rcpt, when set, answers RCPT TO instead of accepting it.
	rcpt func(to string) error
	// data, when set, sees DATA first; if it reports handled, its error is
	// the answer and nothing is recorded (it must then consume r or close
	// the connection), else the mail is recorded as usual.
	data func(c *smtp.Conn, r io.Reader) (handled bool, err error)
}

// received is one mail the server accepted.
type received struct {
	from string
	to   []string
	data []byte
	tls  bool // the connection was encrypted when the mail came
	user string
}

// testServer is a running go-smtp server and what it saw.
type testServer struct {
	host string
	port int
	cert *x509.Certificate // the server's self-signed certificate
	pool *x509.CertPool    // a pool that trusts it

	mu         sync.Mutex
	mails      []received
	auths      []authAttempt
	sessions   int
	logouts    int
	transcript bytes.Buffer // every byte both ways, as go-smtp's Debug writes it
	opts       serverOpts
}

type authAttempt struct {
	mech, user, pass string
	tls              bool
}

func startServer(t *testing.T, opts serverOpts) *testServer {
	t.Helper()
	ts := &testServer{opts: opts}
	cert, pool := selfSigned(t)
	ts.cert, ts.pool = cert.Leaf, pool

	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		ts.mu.Lock()
		ts.sessions++
		ts.mu.Unlock()
		return &session{ts: ts, conn: c}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout = time.Minute
	s.WriteTimeout = time.Minute
	s.AllowInsecureAuth = opts.allowInsecureAuth
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.Debug = lockedWriter{&ts.mu, &ts.transcript}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch opts.tls {
	case startTLS:
		s.TLSConfig = tlsCfg
	case implicit:
		l = tls.NewListener(l, tlsCfg)
	}
	addr := l.Addr().(*net.TCPAddr)
	ts.host, ts.port = "127.0.0.1", addr.Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(l)
	}()
	t.Cleanup(func() {
		// Every test: the sender closed each connection it opened,
		// whatever happened.
		ts.waitAllClosed(t)
		// go-smtp's Close closes only the listeners Serve has registered,
		// which may not have happened yet: close ours too.
		_ = s.Close()
		_ = l.Close()
		<-done
	})
	return ts
}

// config is a sender configuration for this server.
func (ts *testServer) config(sec mailer.Security, user, pass string) mailer.Config {
	return mailer.Config{
		Host: ts.host, Port: ts.port, Security: sec,
		Username: user, Password: pass,
		RootCAs: ts.pool,
	}
}

func (ts *testServer) received() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.mails...)
}

func (ts *testServer) authAttempts() []authAttempt {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]authAttempt(nil), ts.auths...)
}

func (ts *testServer) sessionCount() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.sessions
}

// waitAllClosed waits until every connection the server had is closed
// (go-smtp ends a session when its connection ends). A sender that leaves a
// connection open fails here.
func (ts *testServer) waitAllClosed(t *testing.T) {
	t.Helper()
	guard := time.Now().Add(30 * time.Second)
	for {
		ts.mu.Lock()
		open := ts.sessions - ts.logouts
		ts.mu.Unlock()
		if open == 0 {
			return
		}
		if time.Now().After(guard) {
			t.Fatalf("%d connections are still open: the sender did not close them", open)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (ts *testServer) transcriptText() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.transcript.String()
}

// clientCommands are the transcript's lines that a client sends as commands
// (the server's replies start with a code).
func (ts *testServer) clientCommands() []string {
	var cmds []string
	for _, line := range strings.Split(ts.transcriptText(), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] >= '0' && line[0] <= '9' {
			continue
		}
		cmds = append(cmds, line)
	}
	return cmds
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// session is one SMTP session of the test server.
type session struct {
	ts   *testServer
	conn *smtp.Conn
	from string
	to   []string
	user string
}

func (s *session) isTLS() bool {
	_, ok := s.conn.TLSConnectionState()
	return ok
}

func (s *session) AuthMechanisms() []string {
	if s.ts.opts.users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		s.ts.mu.Lock()
		s.ts.auths = append(s.ts.auths, authAttempt{mech: mech, user: user, pass: pass, tls: s.isTLS()})
		s.ts.mu.Unlock()
		if want, ok := s.ts.opts.users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.ts.opts.users != nil && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.ts.opts.rcpt != nil {
		if err := s.ts.opts.rcpt(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	if s.ts.opts.data != nil {
		if handled, err := s.ts.opts.data(s.conn, r); handled {
			return err
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.ts.mu.Lock()
	s.ts.mails = append(s.ts.mails, received{from: s.from, to: s.to, data: b, tls: s.isTLS(), user: s.user})
	s.ts.mu.Unlock()
	return nil
}

func (s *session) Reset() { s.from, s.to = "", nil }
func (s *session) Logout() error {
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	s.ts.logouts++
	return nil
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, valid for an
// hour, and a pool that trusts it (and nothing else).
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mailer test relay"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// silentListener accepts connections on 127.0.0.1 and never says a word:
// a relay that hangs before its greeting.
func silentListener(t *testing.T) (host string, port int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "127.0.0.1", l.Addr().(*net.TCPAddr).Port
}

// asMailerError is the *mailer.Error in err, or a test failure.
func asMailerError(t *testing.T, err error) *mailer.Error {
	t.Helper()
	if err == nil {
		t.Fatal("Send succeeded; want an error")
	}
	var e *mailer.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *mailer.Error", err, err)
	}
	return e
}
