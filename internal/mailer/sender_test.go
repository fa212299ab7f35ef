package mailer_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"whapidesk/internal/mailer"
)

var support = mailer.Address{Name: "Acme Support", Email: "support@example.com"}

// newSender is a Sender for cfg that sends as support.
func newSender(t *testing.T, cfg mailer.Config) *mailer.Sender {
	t.Helper()
	s, err := mailer.New(cfg, support)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// aMail is an ordinary alert mail; its body holds a marker that errors must
// never show.
func aMail(id string) mailer.Message {
	return mailer.Message{
		To:        mailer.Address{Name: "Fatima", Email: "customer@example.com"},
		Subject:   "Your line is disconnected",
		Text:      "Hello Fatima,\n\nyour line BODY-MARKER-7731 is disconnected.\nScan the code again to link it.\n",
		HTML:      "<p>Hello Fatima,</p><p>your line <b>BODY-MARKER-7731</b> is disconnected.</p>",
		MessageID: id,
	}
}

// sendWithin runs Send and waits for its answer; it fails the test if Send
// has not returned within limit — a guard against a hang, never a pause.
func sendWithin(t *testing.T, limit time.Duration, ctx context.Context, s *mailer.Sender, m mailer.Message) (mailer.Result, error) {
	t.Helper()
	type answer struct {
		res mailer.Result
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		res, err := s.Send(ctx, m)
		ch <- answer{res, err}
	}()
	select {
	case a := <-ch:
		return a.res, a.err
	case <-time.After(limit):
		t.Fatalf("Send has not returned after %v: it has no working timeout", limit)
		return mailer.Result{}, nil
	}
}

func TestSendThroughAPlainRelayWithoutAuth(t *testing.T) {
	ts := startServer(t, serverOpts{tls: noTLS})
	s := newSender(t, ts.config(mailer.StartTLSIfOffered, "", ""))

	res, err := s.Send(t.Context(), aMail("outbox-1@desk.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Reply, "250 ") || !strings.Contains(res.Reply, "queued") {
		t.Errorf("Reply = %q; want the server's final answer, 250 … queued", res.Reply)
	}
	if res.MessageID != "outbox-1@desk.example.com" {
		t.Errorf("MessageID = %q", res.MessageID)
	}
	got := ts.received()
	if len(got) != 1 {
		t.Fatalf("the server received %d mails; want 1", len(got))
	}
	if got[0].from != "support@example.com" || len(got[0].to) != 1 || got[0].to[0] != "customer@example.com" {
		t.Errorf("envelope: MAIL FROM %q, RCPT TO %q; want support@example.com → [customer@example.com]", got[0].from, got[0].to)
	}
	if got[0].tls {
		t.Error("the relay offers no STARTTLS, yet the mail came over TLS")
	}
	// go-smtp reads a bare address too; RFC 5321 wants the angle brackets,
	// and stricter servers refuse without them.
	cmds := strings.Join(ts.clientCommands(), "\n")
	for _, want := range []string{"MAIL FROM:<support@example.com>", "RCPT TO:<customer@example.com>"} {
		if !strings.Contains(cmds, want) {
			t.Errorf("the client never said %q:\n%s", want, cmds)
		}
	}
}

func TestSendWithSTARTTLSAndAuthPlain(t *testing.T) {
	pass := "pw-" + base64.RawURLEncoding.EncodeToString([]byte(t.Name()))
	ts := startServer(t, serverOpts{tls: startTLS, users: map[string]string{"desk@example.com": pass}})
	cfg, err := mailer.ParseURL("smtp://desk%40example.com:" + pass + "@127.0.0.1:" + strconv.Itoa(ts.port))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Security != mailer.StartTLSRequired {
		t.Fatalf("smtp:// with credentials: Security = %v; want STARTTLS required", cfg.Security)
	}
	cfg.RootCAs = ts.pool
	s := newSender(t, cfg)

	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if _, err := s.Send(t.Context(), aMail("outbox-2@desk.example.com")); err != nil {
		t.Fatal(err)
	}
	got := ts.received()
	if len(got) != 1 {
		t.Fatalf("the server received %d mails; want 1", len(got))
	}
	if !got[0].tls || got[0].user != "desk@example.com" {
		t.Errorf("mail came with tls=%v user=%q; want over TLS as desk@example.com", got[0].tls, got[0].user)
	}
	for _, a := range ts.authAttempts() {
		if !a.tls {
			t.Errorf("AUTH %s was sent before TLS", a.mech)
		}
		if a.pass != pass {
			t.Errorf("the server was given password %q; want the URL's, percent-decoded", a.pass)
		}
	}
	if cmds := strings.Join(ts.clientCommands(), "\n"); !strings.Contains(cmds, "STARTTLS") {
		t.Errorf("the client never said STARTTLS:\n%s", cmds)
	}
}

func TestSendOverImplicitTLS(t *testing.T) {
	ts := startServer(t, serverOpts{tls: implicit, users: map[string]string{"desk": "s3cret-implicit"}})
	cfg, err := mailer.ParseURL("smtps://desk:s3cret-implicit@127.0.0.1:" + strconv.Itoa(ts.port))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Security != mailer.ImplicitTLS {
		t.Fatalf("smtps://: Security = %v; want implicit TLS", cfg.Security)
	}
	cfg.RootCAs = ts.pool
	if _, err := newSender(t, cfg).Send(t.Context(), aMail("outbox-3@desk.example.com")); err != nil {
		t.Fatal(err)
	}
	got := ts.received()
	if len(got) != 1 || !got[0].tls || got[0].user != "desk" {
		t.Fatalf("received %+v; want one mail over TLS from user desk", got)
	}
}

func TestUntrustedCertificateIsRefusedBeforeAnyPassword(t *testing.T) {
	ts := startServer(t, serverOpts{tls: startTLS, users: map[string]string{"desk": "never-sent-pw"}})
	cfg := ts.config(mailer.StartTLSRequired, "desk", "never-sent-pw")
	cfg.RootCAs = nil // the system's roots, which do not know the test's certificate
	_, err := newSender(t, cfg).Send(t.Context(), aMail("outbox-4@desk.example.com"))
	e := asMailerError(t, err)
	if !e.Temporary || e.Step != mailer.StepConnect || e.Code != 0 {
		t.Errorf("error %v: step %q temporary %v code %d; want a temporary connect (TLS) failure", e, e.Step, e.Temporary, e.Code)
	}
	if n := len(ts.authAttempts()); n != 0 {
		t.Errorf("the server saw %d AUTH attempts; want none", n)
	}
	if strings.Contains(ts.transcriptText(), "never-sent-pw") || strings.Contains(err.Error(), "never-sent-pw") {
		t.Error("the password reached the server or the error")
	}
	ts.waitAllClosed(t)
}

func TestCredentialsForARelayWithoutSTARTTLSAreNeverSent(t *testing.T) {
	const pass = "Plain-Text-Never"
	for _, sec := range []mailer.Security{mailer.StartTLSRequired, mailer.StartTLSIfOffered} {
		t.Run(sec.String(), func(t *testing.T) {
			// A careless relay: no STARTTLS, but AUTH offered and accepted in
			// clear — and on 127.0.0.1, where go-mail's own AUTH PLAIN would
			// send the password.
			ts := startServer(t, serverOpts{tls: noTLS, allowInsecureAuth: true, users: map[string]string{"desk": pass}})
			s := newSender(t, ts.config(sec, "desk", pass))

			_, err := s.Send(t.Context(), aMail("outbox-5@desk.example.com"))
			e := asMailerError(t, err)
			if !errors.Is(err, mailer.ErrNoTLS) || e.Temporary {
				t.Errorf("error %v (temporary %v); want ErrNoTLS, permanent", err, e.Temporary)
			}
			if n := len(ts.authAttempts()); n != 0 {
				t.Errorf("the server saw %d AUTH attempts; want none", n)
			}
			for _, cmd := range ts.clientCommands() {
				if strings.HasPrefix(strings.ToUpper(cmd), "AUTH") {
					t.Errorf("the client sent %q", cmd)
				}
			}
			plain := base64.StdEncoding.EncodeToString([]byte("\x00desk\x00" + pass))
			if tr := ts.transcriptText(); strings.Contains(tr, pass) || strings.Contains(tr, plain) {
				t.Error("the password is in the transcript")
			}
			if strings.Contains(err.Error(), pass) {
				t.Errorf("the error shows the password: %v", err)
			}
			if len(ts.received()) != 0 {
				t.Error("a mail was delivered")
			}
			if err := s.Check(t.Context()); !errors.Is(err, mailer.ErrNoTLS) {
				t.Errorf("Check: %v; want ErrNoTLS", err)
			}
		})
	}
}

func TestStartTLSRequiredWithoutCredentialsRefusesAPlainRelay(t *testing.T) {
	ts := startServer(t, serverOpts{tls: noTLS})
	_, err := newSender(t, ts.config(mailer.StartTLSRequired, "", "")).Send(t.Context(), aMail("outbox-17@desk.example.com"))
	if e := asMailerError(t, err); !errors.Is(err, mailer.ErrNoTLS) || e.Temporary {
		t.Errorf("error %v (temporary %v); want ErrNoTLS, permanent", err, e.Temporary)
	}
	if n := len(ts.received()); n != 0 {
		t.Errorf("the relay received %d mails in clear", n)
	}
}

func TestWrongPasswordIsPermanentAndNotShown(t *testing.T) {
	ts := startServer(t, serverOpts{tls: startTLS, users: map[string]string{"desk": "the-right-one"}})
	s := newSender(t, ts.config(mailer.StartTLSRequired, "desk", "Wrong-Pass-9981"))
	_, err := s.Send(t.Context(), aMail("outbox-6@desk.example.com"))
	e := asMailerError(t, err)
	if e.Temporary || e.Code != 535 || e.Step != mailer.StepAuth {
		t.Errorf("error %v: step %q code %d temporary %v; want a permanent 535 at auth", e, e.Step, e.Code, e.Temporary)
	}
	if strings.Contains(err.Error(), "Wrong-Pass-9981") {
		t.Errorf("the error shows the password: %v", err)
	}
	if err := s.Check(t.Context()); err == nil || mailer.IsTemporary(err) {
		t.Errorf("Check with a wrong password: %v; want a permanent error", err)
	}
}

func TestServerRefusals(t *testing.T) {
	cases := []struct {
		name      string
		opts      serverOpts
		step      mailer.Step
		code      int
		temporary bool
	}{
		{"550 no such user", serverOpts{rcpt: func(string) error {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
		}}, mailer.StepRcptTo, 550, false},
		{"451 try later", serverOpts{rcpt: func(string) error {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Greylisted, try again later"}
		}}, mailer.StepRcptTo, 451, true},
		{"554 rejected at end of DATA", serverOpts{data: func(_ *smtp.Conn, r io.Reader) (bool, error) {
			_, _ = io.Copy(io.Discard, r)
			return true, &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message rejected as spam"}
		}}, mailer.StepDataEnd, 554, false},
		{"452 out of storage at end of DATA", serverOpts{data: func(_ *smtp.Conn, r io.Reader) (bool, error) {
			_, _ = io.Copy(io.Discard, r)
			return true, &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage"}
		}}, mailer.StepDataEnd, 452, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := startServer(t, c.opts)
			_, err := newSender(t, ts.config(mailer.StartTLSIfOffered, "", "")).Send(t.Context(), aMail("outbox-7@desk.example.com"))
			e := asMailerError(t, err)
			if e.Step != c.step || e.Code != c.code || e.Temporary != c.temporary || mailer.IsTemporary(err) != c.temporary {
				t.Errorf("error %v: step %q code %d temporary %v; want step %q code %d temporary %v",
					e, e.Step, e.Code, e.Temporary, c.step, c.code, c.temporary)
			}
			if e.MaybeDelivered {
				t.Error("a refused mail is marked maybe-delivered")
			}
			if e.Reply == "" || !strings.Contains(err.Error(), e.Reply) {
				t.Errorf("the error %q does not carry the server's reply %q", err, e.Reply)
			}
			if strings.Contains(err.Error(), "BODY-MARKER") {
				t.Errorf("the error shows the body: %v", err)
			}
			if n := len(ts.received()); n != 0 {
				t.Errorf("the server kept %d mails", n)
			}
		})
	}
}

func TestConnectionRefusedIsTemporary(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := newSender(t, mailer.Config{Host: "127.0.0.1", Port: port})
	_, err = s.Send(t.Context(), aMail("outbox-8@desk.example.com"))
	e := asMailerError(t, err)
	if !e.Temporary || e.Step != mailer.StepConnect {
		t.Errorf("error %v: step %q temporary %v; want a temporary connect failure", e, e.Step, e.Temporary)
	}
}

func TestAServerThatNeverAnswersTimesOut(t *testing.T) {
	host, port := silentListener(t)
	t.Run("the configured timeout", func(t *testing.T) {
		s := newSender(t, mailer.Config{Host: host, Port: port, Timeout: 300 * time.Millisecond})
		_, err := sendWithin(t, time.Minute, context.Background(), s, aMail("outbox-9@desk.example.com"))
		e := asMailerError(t, err)
		if !e.Timeout || !e.Temporary || e.Step != mailer.StepConnect {
			t.Errorf("error %v: step %q timeout %v temporary %v; want a temporary timeout at connect", e, e.Step, e.Timeout, e.Temporary)
		}
	})
	t.Run("the caller's context", func(t *testing.T) {
		// The default whole-send timeout is a minute; the context's 300 ms
		// must win, well before the guard's 30 s.
		s := newSender(t, mailer.Config{Host: host, Port: port})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := sendWithin(t, 30*time.Second, ctx, s, aMail("outbox-10@desk.example.com"))
		e := asMailerError(t, err)
		if !e.Timeout || !e.Temporary {
			t.Errorf("error %v: timeout %v temporary %v; want a temporary timeout", e, e.Timeout, e.Temporary)
		}
	})
}

func TestCancellingTheContextEndsASendAtOnce(t *testing.T) {
	// A shutdown cancels the worker's context: Send must return then, not
	// when its one-minute timeout is up — even while it waits for the
	// server's answer to a message it has sent whole.
	release := make(chan struct{})
	gotMessage := make(chan struct{}, 1)
	ts := startServer(t, serverOpts{data: func(_ *smtp.Conn, r io.Reader) (bool, error) {
		_, _ = io.Copy(io.Discard, r)
		gotMessage <- struct{}{}
		<-release
		return true, nil
	}})
	t.Cleanup(func() { close(release) })
	s := newSender(t, ts.config(mailer.StartTLSIfOffered, "", ""))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-gotMessage // the final "." is out; the sender waits for the reply
		cancel()
	}()
	_, err := sendWithin(t, 30*time.Second, ctx, s, aMail("outbox-16@desk.example.com"))
	e := asMailerError(t, err)
	if !e.Temporary || e.Timeout || !errors.Is(err, context.Canceled) || !e.MaybeDelivered {
		t.Errorf("error %v: temporary %v timeout %v maybe-delivered %v; want temporary, cancelled (not a timeout), maybe delivered",
			e, e.Temporary, e.Timeout, e.MaybeDelivered)
	}
}

func TestAServerSilentAfterTheMessageTimesOutMaybeDelivered(t *testing.T) {
	release := make(chan struct{})
	ts := startServer(t, serverOpts{data: func(_ *smtp.Conn, r io.Reader) (bool, error) {
		_, _ = io.Copy(io.Discard, r)
		<-release // the answer to the final "." never comes while the test runs
		return true, nil
	}})
	t.Cleanup(func() { close(release) }) // runs before the server's own cleanup
	cfg := ts.config(mailer.StartTLSIfOffered, "", "")
	cfg.Timeout = 500 * time.Millisecond
	_, err := sendWithin(t, time.Minute, context.Background(), newSender(t, cfg), aMail("outbox-11@desk.example.com"))
	e := asMailerError(t, err)
	if e.Step != mailer.StepDataEnd || !e.Timeout || !e.Temporary || !e.MaybeDelivered {
		t.Errorf("error %v: step %q timeout %v temporary %v maybe-delivered %v; want a temporary timeout at end of DATA, maybe delivered",
			e, e.Step, e.Timeout, e.Temporary, e.MaybeDelivered)
	}
}

func TestADroppedConnectionMidDataIsTemporaryThenTheResendArrivesOnce(t *testing.T) {
	var broken atomic.Bool
	broken.Store(true)
	ts := startServer(t, serverOpts{data: func(c *smtp.Conn, r io.Reader) (bool, error) {
		if !broken.Load() {
			return false, nil
		}
		// Read the start of the message, then hang up.
		buf := make([]byte, 64)
		_, _ = io.ReadFull(r, buf)
		_ = c.Conn().Close()
		return true, errors.New("connection dropped by the test")
	}})
	s := newSender(t, ts.config(mailer.StartTLSIfOffered, "", ""))
	m := aMail("outbox-12@desk.example.com")

	res, err := s.Send(t.Context(), m)
	e := asMailerError(t, err)
	if !e.Temporary || (e.Step != mailer.StepData && e.Step != mailer.StepDataEnd) || e.Code != 0 {
		t.Errorf("error %v: step %q code %d temporary %v; want a temporary failure during DATA", e, e.Step, e.Code, e.Temporary)
	}
	if res.Reply != "" {
		t.Errorf("a failed send has a reply: %q", res.Reply)
	}
	if n := len(ts.received()); n != 0 {
		t.Fatalf("the server kept %d mails from a dropped connection", n)
	}

	broken.Store(false) // the relay recovers; the outbox sends the same mail again
	if _, err := s.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	got := ts.received()
	if len(got) != 1 {
		t.Fatalf("the server has %d mails; want the re-sent one, once", len(got))
	}
	if id := parseMail(t, got[0].data).header.Get("Message-ID"); id != "<outbox-12@desk.example.com>" {
		t.Errorf("the re-send carries Message-ID %q; want the same as the first try", id)
	}
}

func TestTheMessageOnTheWire(t *testing.T) {
	ts := startServer(t, serverOpts{})
	s := newSender(t, ts.config(mailer.StartTLSIfOffered, "", ""))
	subject := "تنبيه: انقطع اتصال قناتك «المبيعات» منذ ١٢ دقيقة — أعد ربطها من الرابط في هذه الرسالة"
	m := mailer.Message{
		To:        mailer.Address{Name: "فاطمة الزهراء", Email: "customer@example.com"},
		Subject:   subject,
		Text:      "مرحبا فاطمة،\nانقطع اتصال قناتك.\nhttps://desk.example.com/c/abc\n",
		HTML:      "<p dir=\"rtl\">مرحبا فاطمة،</p><p><a href=\"https://desk.example.com/c/abc\">أعد الربط</a></p>",
		MessageID: "<outbox-13@desk.example.com>",
		Headers:   map[string]string{"List-Unsubscribe": "<https://desk.example.com/u/tok>"},
	}
	res, err := s.Send(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	if res.MessageID != "outbox-13@desk.example.com" {
		t.Errorf("Result.MessageID = %q", res.MessageID)
	}
	got := ts.received()
	if len(got) != 1 {
		t.Fatalf("received %d mails", len(got))
	}
	p := parseMail(t, got[0].data)

	if dec := decodeHeader(t, p.header.Get("Subject")); dec != subject {
		t.Errorf("the subject decodes to %q; want %q", dec, subject)
	}
	if id := p.header.Get("Message-ID"); id != "<outbox-13@desk.example.com>" {
		t.Errorf("Message-ID = %q; want the caller's", id)
	}
	from, err := p.header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "support@example.com" || from[0].Name != "Acme Support" {
		t.Errorf("From = %v (%v); want Acme Support <support@example.com>", from, err)
	}
	to, err := p.header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "customer@example.com" || to[0].Name != "فاطمة الزهراء" {
		t.Errorf("To = %v (%v); want فاطمة الزهراء <customer@example.com>", to, err)
	}
	if v := p.header.Get("List-Unsubscribe"); v != "<https://desk.example.com/u/tok>" {
		t.Errorf("List-Unsubscribe = %q", v)
	}
	if p.header.Get("Date") == "" {
		t.Error("no Date header")
	}
	if len(p.parts) != 2 {
		t.Fatalf("the mail has %d parts; want text and HTML", len(p.parts))
	}
	if p.parts[0].mediaType != "text/plain" || p.parts[1].mediaType != "text/html" {
		t.Errorf("parts are %s, %s; want text/plain then text/html", p.parts[0].mediaType, p.parts[1].mediaType)
	}
	for i, want := range []string{m.Text, m.HTML} {
		if !strings.EqualFold(p.parts[i].charset, "utf-8") {
			t.Errorf("part %d charset %q; want UTF-8", i, p.parts[i].charset)
		}
		if got := normalise(p.parts[i].body); got != normalise(want) {
			t.Errorf("part %d is %q; want %q", i, got, want)
		}
	}
	if !bytes.Contains(got[0].data, []byte("\r\n\r\n")) {
		t.Error("no blank line between header and body")
	}
	for _, line := range strings.Split(string(got[0].data), "\r\n") {
		if len(line) > 998 {
			t.Errorf("a line of %d characters: SMTP allows 998", len(line))
		}
	}
}

func TestLineBreaksInSubjectOrNameCannotAddHeaders(t *testing.T) {
	ts := startServer(t, serverOpts{})
	s := newSender(t, ts.config(mailer.StartTLSIfOffered, "", ""))
	m := aMail("outbox-14@desk.example.com")
	m.Subject = "Hello\r\nBcc: victim@example.org\r\nX-Injected: subject"
	m.To.Name = "Fatima\r\nBcc: other-victim@example.org\nX-Injected: name"
	m.Headers = map[string]string{"List-Unsubscribe": "<https://desk.example.com/u/x>\r\nX-Injected: header"}
	if _, err := s.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	got := ts.received()
	if len(got) != 1 {
		t.Fatalf("received %d mails", len(got))
	}
	if len(got[0].to) != 1 || got[0].to[0] != "customer@example.com" {
		t.Errorf("RCPT TO %q; want only customer@example.com", got[0].to)
	}
	p := parseMail(t, got[0].data)
	for _, h := range []string{"Bcc", "X-Injected"} {
		if v, ok := p.header[h]; ok {
			t.Errorf("header %s: %q was injected", h, v)
		}
	}
	if bytes.Contains(bytes.ToLower(got[0].data), []byte("\nbcc:")) || bytes.Contains(got[0].data, []byte("\nX-Injected:")) {
		t.Errorf("an injected header line is in the raw mail:\n%s", got[0].data)
	}
	if dec := decodeHeader(t, p.header.Get("Subject")); dec != "Hello Bcc: victim@example.org X-Injected: subject" {
		t.Errorf("subject = %q; want the line breaks turned to spaces", dec)
	}
	to, err := p.header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "customer@example.com" || strings.ContainsAny(to[0].Name, "\r\n") {
		t.Errorf("To = %v (%v); want one recipient, its name on one line", to, err)
	}
	if v := p.header.Get("List-Unsubscribe"); strings.ContainsAny(v, "\r\n") || !strings.HasPrefix(v, "<https://desk.example.com/u/x>") {
		t.Errorf("List-Unsubscribe = %q", v)
	}
}

func TestABadMessageIsPermanentAndNeverReachesTheServer(t *testing.T) {
	ts := startServer(t, serverOpts{})
	s := newSender(t, ts.config(mailer.StartTLSIfOffered, "", ""))
	cases := map[string]func(*mailer.Message){
		"no address":                    func(m *mailer.Message) { m.To.Email = "" },
		"not an address":                func(m *mailer.Message) { m.To.Email = "customer.example.com" },
		"two addresses":                 func(m *mailer.Message) { m.To.Email = "a@example.com, b@example.com" },
		"an address with a name":        func(m *mailer.Message) { m.To.Email = "Eve <eve@example.com>" },
		"an address with a line break":  func(m *mailer.Message) { m.To.Email = "customer@example.com\r\nRCPT TO:<eve@example.com>" },
		"no text part":                  func(m *mailer.Message) { m.Text = " \n" },
		"no Message-ID":                 func(m *mailer.Message) { m.MessageID = "" },
		"a Message-ID without a domain": func(m *mailer.Message) { m.MessageID = "outbox-15" },
		"a Message-ID with a space":     func(m *mailer.Message) { m.MessageID = "outbox 15@desk.example.com" },
		"a Message-ID with a newline":   func(m *mailer.Message) { m.MessageID = "a@b\r\nBcc: eve@example.com" },
		"a reserved header":             func(m *mailer.Message) { m.Headers = map[string]string{"Bcc": "eve@example.com"} },
		"another reserved header":       func(m *mailer.Message) { m.Headers = map[string]string{"content-type": "text/plain"} },
		"a header name with a colon":    func(m *mailer.Message) { m.Headers = map[string]string{"X-A: b": "c"} },
		"a header name with a newline":  func(m *mailer.Message) { m.Headers = map[string]string{"X-A\r\nBcc": "eve@example.com"} },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			m := aMail("outbox-15@desk.example.com")
			change(&m)
			_, err := s.Send(t.Context(), m)
			e := asMailerError(t, err)
			if e.Temporary || e.Step != mailer.StepMessage || mailer.IsTemporary(err) {
				t.Errorf("error %v: step %q temporary %v; want a permanent message error", e, e.Step, e.Temporary)
			}
		})
	}
	if n := ts.sessionCount(); n != 0 {
		t.Errorf("the server saw %d sessions; a bad mail must not connect", n)
	}
}

func TestNewRefusesABadFromOrConfig(t *testing.T) {
	good := mailer.Config{Host: "127.0.0.1", Port: 25}
	if _, err := mailer.New(good, mailer.Address{Email: "not-an-address"}); err == nil {
		t.Error("New accepted a bad from-address")
	}
	if _, err := mailer.New(mailer.Config{Host: "127.0.0.1"}, support); err == nil {
		t.Error("New accepted port 0")
	}
	if _, err := mailer.New(mailer.Config{Host: "127.0.0.1", Port: 25, Username: "u"}, support); err == nil {
		t.Error("New accepted a user name without a password")
	}
	if _, err := mailer.New(mailer.Config{Host: "unix:///run/smtp.sock", Port: 25}, support); err == nil {
		t.Error("New accepted a socket path for a host")
	}
}

// parsedMail is a received mail read back with net/mail and mime/multipart.
type parsedMail struct {
	header mail.Header
	parts  []mailPart
}

type mailPart struct {
	mediaType, charset, body string
}

func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the received mail does not parse: %v\n%s", err, data)
	}
	p := parsedMail{header: msg.Header}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	if mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q; want multipart/alternative", mediaType)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // quoted-printable is decoded here
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the parts: %v", err)
		}
		pt, pp, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("part Content-Type: %v", err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("reading a part: %v", err)
		}
		p.parts = append(p.parts, mailPart{mediaType: pt, charset: pp["charset"], body: string(body)})
	}
	return p
}

func decodeHeader(t *testing.T, v string) string {
	t.Helper()
	dec, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Fatalf("decoding %q: %v", v, err)
	}
	return dec
}

// normalise compares bodies whatever their line ends.
func normalise(s string) string {
	return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}
