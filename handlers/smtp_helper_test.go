package handlers

import (
	"context"
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

	"whapidesk/internal/mailer"
	"whapidesk/jobs"
)

// smtpServer is a real SMTP server (go-smtp's) on 127.0.0.1 over TCP,
// plain, without AUTH (a local relay), that keeps what it accepts: the
// jobs package's test server, for the handlers' end-to-end mail tests.
type smtpServer struct {
	addr  string
	mu    sync.Mutex
	mails []smtpMail
}

type smtpMail struct {
	to   []string
	data string
}

func startSMTP(t testing.TB) *smtpServer {
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

// to is what the server accepted for addr, waiting (up to a minute, the
// machine may be busy) for n mails.
func (ts *smtpServer) to(t testing.TB, addr string, n int) []smtpMail {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ts.mu.Lock()
		var got []smtpMail
		for _, m := range ts.mails {
			for _, r := range m.to {
				if strings.EqualFold(r, addr) {
					got = append(got, m)
				}
			}
		}
		ts.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails to %s reached the SMTP server after a minute, want %d", len(got), addr, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type smtpSession struct {
	ts *smtpServer
	to []string
}

func (s *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
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
	s.ts.mails = append(s.ts.mails, smtpMail{to: s.to, data: string(b)})
	return nil
}

func (s *smtpSession) Reset()        { s.to = nil }
func (s *smtpSession) Logout() error { return nil }

// withMail gives the app a job queue that sends the outbox's mails through
// srv, as `serve` does with WHAPIDESK_SMTP_URL set.
func withMail(t *testing.T, a *testApp, srv *smtpServer) *jobs.Queue {
	t.Helper()
	sc, err := mailer.ParseURL("smtp://" + srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	from, err := mailer.ParseFrom("Acme Desk <desk@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mailer.New(sc, from)
	if err != nil {
		t.Fatal(err)
	}
	q, err := jobs.Open(t.Context(), a.env.DB, jobs.Config{Work: a.svc, Sessions: a.store, Log: a.env.Log,
		NoPeriodic: true, ReconcileAfterBoot: -1, FetchPoll: 20 * time.Millisecond,
		Backoff: func(int) time.Duration { return 50 * time.Millisecond }, Outbox: a.store, Mailer: sender})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	a.svc.SetMailQueue(q)
	a.h.cfg.Jobs = q
	return q
}

// mailParts reads a mail as the SMTP server got it: its headers and its
// decoded text and HTML parts, by media type.
func mailParts(t testing.TB, raw string) (mail.Header, map[string]string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(raw))
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
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[pt] = string(b)
	}
	return msg.Header, out
}
