package jobs_test

import (
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// smtpServer is a real SMTP server (go-smtp's) on 127.0.0.1 over TCP,
// plain, without AUTH: a local relay. It records the mails it accepts;
// refuse, while set, answers DATA with it (e.g. a 451) and records nothing.
type smtpServer struct {
	addr string

	mu     sync.Mutex
	mails  []smtpMail
	refuse error
	datas  int // DATA commands seen, refused or not
}

type smtpMail struct {
	from string
	to   []string
	data string
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	ts := &smtpServer{}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{ts: ts}, nil }))
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
	t.Cleanup(func() { _ = s.Close(); _ = l.Close(); <-done })
	return ts
}

func (ts *smtpServer) url() string { return "smtp://" + ts.addr }

func (ts *smtpServer) setRefuse(err error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.refuse = err
}

func (ts *smtpServer) received() []smtpMail {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]smtpMail(nil), ts.mails...)
}

func (ts *smtpServer) dataCount() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.datas
}

type smtpSession struct {
	ts   *smtpServer
	from string
	to   []string
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	s.ts.datas++
	if s.ts.refuse != nil {
		return s.ts.refuse
	}
	s.ts.mails = append(s.ts.mails, smtpMail{from: s.from, to: s.to, data: string(b)})
	return nil
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }
