// Package testsmtp is the one SMTP server of the app's tests: a real
// implementation of the protocol (go-smtp's) listening on 127.0.0.1 over
// TCP in the test process, plain and without AUTH, as a local relay is. It
// records the mails it accepts, with their envelope and their Message-ID,
// and can be told to refuse them (at MAIL or at DATA, with the answer the
// test chooses), to drop the connection in the middle of DATA, and to
// recover. The test's Cleanup closes it.
//
// Only _test.go files import it; it imports nothing of ours. The mailer's
// own tests keep their server (TLS, AUTH, transcripts): that package is a
// leaf whose tests import nothing of ours.
package testsmtp

import (
	"errors"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail is one mail the server accepted: its envelope, the message as it
// came (headers and body) and its Message-ID without the angle brackets
// ("" when it had none).
type Mail struct {
	From      string
	To        []string
	Data      string
	MessageID string
}

// Options say how a server starts; the zero value accepts every mail.
type Options struct {
	// RefuseData, when set, answers every DATA with it and records
	// nothing, as RefuseData does.
	RefuseData error
}

// Server is a running SMTP server and what it saw.
type Server struct {
	addr string

	mu         sync.Mutex
	mails      []Mail
	datas      int   // DATA commands seen, refused, dropped or not
	refuseData error // the answer to DATA, while set
	refuseMail error // the answer to MAIL FROM once the gate is shut
	gateAt     int   // shut the gate once this many Message-IDs are in (0: never)
	gateShut   bool
	drop       bool // close the connection in the middle of DATA
}

// Start starts a server on a free port of 127.0.0.1; t's Cleanup closes it.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ts := &Server{refuseData: opts.RefuseData}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{ts: ts, conn: c}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = time.Minute, time.Minute
	s.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = l.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(l) }()
	// go-smtp's Close closes only the listeners Serve has registered,
	// which may not have happened yet: close ours too.
	t.Cleanup(func() { _ = s.Close(); _ = l.Close(); <-done })
	return ts
}

// Addr is the server's host:port.
func (ts *Server) Addr() string { return ts.addr }

// URL is the server's address as WHAPIDESK_SMTP_URL takes it.
func (ts *Server) URL() string { return "smtp://" + ts.addr }

// RefuseData makes the server answer every DATA with err (e.g. a 451 or a
// 550 *smtp.SMTPError) after reading the message, recording nothing, until
// Recover.
func (ts *Server) RefuseData(err error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.refuseData = err
}

// RefuseMailAfter makes the server, once it holds n distinct Message-IDs,
// answer every new MAIL FROM with err (e.g. a 421) until Recover.
func (ts *Server) RefuseMailAfter(n int, err error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.gateAt, ts.refuseMail = n, err
	ts.shutGateLocked()
}

// Drop makes the server close the connection in the middle of every DATA,
// recording nothing and answering nothing, until Recover.
func (ts *Server) Drop() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.drop = true
}

// Recover undoes RefuseData, RefuseMailAfter and Drop: every new mail is
// accepted again.
func (ts *Server) Recover() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.refuseData, ts.refuseMail, ts.gateAt, ts.gateShut, ts.drop = nil, nil, 0, false, false
}

// Mails are the mails accepted so far, in the order they came.
func (ts *Server) Mails() []Mail {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]Mail(nil), ts.mails...)
}

// DataCount is how many DATA commands the server has seen, whatever it
// answered.
func (ts *Server) DataCount() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.datas
}

// MessageIDs counts the accepted mails by Message-ID: a mail sent twice
// counts 2.
func (ts *Server) MessageIDs() map[string]int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.idsLocked()
}

func (ts *Server) idsLocked() map[string]int {
	out := map[string]int{}
	for _, m := range ts.mails {
		if m.MessageID != "" {
			out[m.MessageID]++
		}
	}
	return out
}

func (ts *Server) shutGateLocked() {
	if ts.gateAt > 0 && len(ts.idsLocked()) >= ts.gateAt {
		ts.gateShut = true
	}
}

// To is what the server accepted for the recipient addr (case folded),
// waiting up to a minute (the machine may be busy) for n mails; fewer fail
// the test.
func (ts *Server) To(t testing.TB, addr string, n int) []Mail {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var got []Mail
		for _, m := range ts.Mails() {
			for _, r := range m.To {
				if strings.EqualFold(r, addr) {
					got = append(got, m)
				}
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails to %s reached the SMTP server after a minute, want %d", len(got), addr, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Parts reads the mail as the server got it: its headers and its decoded
// text and HTML parts, by media type. A mail that is not
// multipart/alternative fails the test.
func (m Mail) Parts(t testing.TB) (mail.Header, map[string]string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	out := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			r = quotedprintable.NewReader(p)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[ct] = string(b)
	}
	return msg.Header, out
}

// session is one connection's transaction.
type session struct {
	ts   *Server
	conn *smtp.Conn
	from string
	to   []string
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	if s.ts.gateShut {
		return s.ts.refuseMail
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	s.ts.mu.Lock()
	drop := s.ts.drop
	s.ts.mu.Unlock()
	if drop {
		// Read a little of the message, then hang up: the client's DATA
		// never gets its answer.
		_, _ = r.Read(make([]byte, 64))
		s.ts.mu.Lock()
		s.ts.datas++
		s.ts.mu.Unlock()
		_ = s.conn.Conn().Close()
		return errors.New("testsmtp: connection dropped in the middle of DATA")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	id := ""
	if msg, err := mail.ReadMessage(strings.NewReader(string(b))); err == nil {
		id = strings.Trim(msg.Header.Get("Message-Id"), "<> ")
	}
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	s.ts.datas++
	if s.ts.refuseData != nil {
		return s.ts.refuseData
	}
	s.ts.mails = append(s.ts.mails, Mail{From: s.from, To: s.to, Data: string(b), MessageID: id})
	s.ts.shutGateLocked()
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }
