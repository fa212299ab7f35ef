package jobs_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/crypto/bcrypt"

	"whapidesk/internal/mailer"
	"whapidesk/internal/testdb"
	"whapidesk/internal/testsmtp"
	"whapidesk/jobs"
	"whapidesk/models"
	"whapidesk/provision"
)

// mailEnv is a store, the workflows and, with an SMTP server, a queue that
// sends through it.
type mailEnv struct {
	db    models.Database
	store *models.Store
	svc   *provision.Service
	admin models.Actor
}

func newMailEnv(t *testing.T) *mailEnv {
	t.Helper()
	db := models.Database(testdb.New(t))
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cipher, err := models.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	store, err := models.Open(t.Context(), db, cipher, provision.States())
	if err != nil {
		t.Fatal(err)
	}
	store.SetPasswordCost(bcrypt.MinCost)
	t.Cleanup(func() { _ = store.Close() })
	svc := provision.New(store, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	svc.SetBrand("Acme Desk")
	svc.SetPublicURL("https://desk.example.com")
	return &mailEnv{db: db, store: store, svc: svc, admin: models.Actor{Email: "admin@example.com"}}
}

// queue starts a queue that sends through srv (nil: mail not configured)
// and hands it to the workflows.
func (e *mailEnv) queue(t *testing.T, srv *testsmtp.Server) *jobs.Queue {
	t.Helper()
	cfg := jobs.Config{NoPeriodic: true, Outbox: e.store, Backoff: func(int) time.Duration { return 50 * time.Millisecond }}
	if srv != nil {
		cfg.Mailer = newSender(t, srv)
	}
	q := open(t, e.db, &countingWork{}, &syncBuffer{}, cfg)
	e.svc.SetMailQueue(q)
	return q
}

// newSender is the app's mail sender, from Acme Desk, pointed at srv.
func newSender(t *testing.T, srv *testsmtp.Server) *mailer.Sender {
	t.Helper()
	sc, err := mailer.ParseURL(srv.URL())
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
	return sender
}

func (e *mailEnv) mails(t *testing.T) []models.Mail {
	t.Helper()
	ms, _, err := e.store.Mails(t.Context(), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func (e *mailEnv) invite(t *testing.T, email string) *models.User {
	t.Helper()
	u, err := e.svc.InviteUser(t.Context(), e.admin, models.NewUser{Email: email, Name: "Dana", Role: models.RoleCustomer}, "")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *mailEnv) waitState(t *testing.T, id int64, want models.MailState) *models.Mail {
	t.Helper()
	var m *models.Mail
	waitFor(t, 30*time.Second, "the mail is "+string(want), func() bool {
		var err error
		m, err = e.store.MailByID(t.Context(), id)
		return err == nil && m.State == want
	})
	return m
}

var linkRE = regexp.MustCompile(`https://desk\.example\.com/set-password/([A-Za-z0-9_-]{43})`)

// An invited customer's mail reaches the SMTP server once, with a plain
// text and an HTML part, the brand, and a link that sets the password
// once; no WHAPI word is in it.
func TestInvitationMailArrivesOnceWithAWorkingLink(t *testing.T) {
	e := newMailEnv(t)
	srv := testsmtp.Start(t, testsmtp.Options{})
	q := e.queue(t, srv)
	u := e.invite(t, "dana@example.com")

	ms := e.mails(t)
	if len(ms) != 1 {
		t.Fatalf("%d mails in the outbox, want 1", len(ms))
	}
	sent := e.waitState(t, ms[0].ID, models.MailSent)
	waitFor(t, 30*time.Second, "the queue is idle", func() bool { return settled(t, q) })
	got := srv.Mails()
	if len(got) != 1 {
		t.Fatalf("the server got %d mails, want 1", len(got))
	}
	if len(got[0].To) != 1 || got[0].To[0] != "dana@example.com" || got[0].From != "desk@example.com" {
		t.Errorf("envelope from %q to %v", got[0].From, got[0].To)
	}
	if !strings.HasPrefix(sent.Reply, "250") || sent.Attempts != 1 || sent.SentAt == nil || sent.LastError != "" {
		t.Errorf("the row after sending: %+v", sent)
	}
	h, p := got[0].Parts(t)
	if id := strings.Trim(h.Get("Message-Id"), "<>"); id != sent.MessageID {
		t.Errorf("Message-ID %q, the row's %q", id, sent.MessageID)
	}
	if !strings.Contains(h.Get("Subject"), "Acme Desk") {
		t.Errorf("subject %q has no brand", h.Get("Subject"))
	}
	text, html := p["text/plain"], p["text/html"]
	if !strings.Contains(text, "Acme Desk") || !strings.Contains(html, "Acme Desk") {
		t.Errorf("a part lacks the brand:\n%s\n%s", text, html)
	}
	if strings.Contains(strings.ToLower(got[0].Data), "whapi") {
		t.Errorf("the mail names WHAPI:\n%s", got[0].Data)
	}
	m := linkRE.FindStringSubmatch(text)
	if m == nil || !strings.Contains(html, m[0]) {
		t.Fatalf("no set-password link in both parts:\n%s\n%s", text, html)
	}
	if _, err := e.store.Authenticate(t.Context(), u.Email, "a good long password 42"); err == nil {
		t.Fatal("the invited user signs in before choosing a password")
	}
	if _, err := e.store.UseSetPasswordToken(t.Context(), m[1], "a good long password 42"); err != nil {
		t.Fatalf("the mailed link: %v", err)
	}
	if _, err := e.store.Authenticate(t.Context(), u.Email, "a good long password 42"); err != nil {
		t.Errorf("sign-in with the password set from the link: %v", err)
	}
	if _, err := e.store.UseSetPasswordToken(t.Context(), m[1], "another long password 43"); !errors.Is(err, models.ErrTokenUsed) {
		t.Errorf("the link used twice: %v, want ErrTokenUsed", err)
	}
	if n := len(srv.Mails()); n != 1 {
		t.Errorf("the server got %d mails in the end, want 1", n)
	}
}

// A server that answers 451 keeps the mail queued with the reply shown,
// and the job tries again; once the server recovers, the mail arrives
// once.
func TestRefusedMailStaysQueuedAndArrivesOnceAfterRecovery(t *testing.T) {
	e := newMailEnv(t)
	srv := testsmtp.Start(t, testsmtp.Options{})
	srv.RefuseData(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"})
	e.queue(t, srv)
	e.invite(t, "dana@example.com")
	id := e.mails(t)[0].ID

	waitFor(t, 30*time.Second, "two refused attempts", func() bool { return srv.DataCount() >= 2 })
	m, err := e.store.MailByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if m.State == models.MailSent || m.State == models.MailFailed || !strings.Contains(m.LastError, "451") {
		t.Errorf("after a 451: state %s, last error %q; want it waiting, the 451 shown", m.State, m.LastError)
	}
	srv.Recover()
	m = e.waitState(t, id, models.MailSent)
	if m.Attempts < 3 {
		t.Errorf("%d attempts, want the refused ones counted", m.Attempts)
	}
	if n := len(srv.Mails()); n != 1 {
		t.Errorf("the server took %d mails, want 1", n)
	}
}

// A permanent refusal (550) marks the mail failed with the reply; an
// admin's retry queues it again and it is sent.
func TestPermanentRefusalFailsAndRetrySendsIt(t *testing.T) {
	e := newMailEnv(t)
	srv := testsmtp.Start(t, testsmtp.Options{})
	srv.RefuseData(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	q := e.queue(t, srv)
	e.invite(t, "dana@example.com")
	id := e.mails(t)[0].ID
	m := e.waitState(t, id, models.MailFailed)
	if !strings.Contains(m.LastError, "550") || m.Attempts != 1 {
		t.Errorf("failed row: %+v", m)
	}
	srv.Recover()
	if err := e.store.RetryMail(t.Context(), id, func(tx *sql.Tx) error { return q.InsertMailTx(t.Context(), tx, id) }); err != nil {
		t.Fatal(err)
	}
	e.waitState(t, id, models.MailSent)
	if err := e.store.RetryMail(t.Context(), id, nil); !errors.Is(err, models.ErrMailNotFailed) {
		t.Errorf("retry of a sent mail: %v, want ErrMailNotFailed", err)
	}
	if n := len(srv.Mails()); n != 1 {
		t.Errorf("the server took %d mails, want 1", n)
	}
}

// Without SMTP the mail is written and stays queued, with no job; the
// first start with SMTP configured sends it, once.
func TestWithoutSMTPMailWaitsAndTheNextStartSendsIt(t *testing.T) {
	e := newMailEnv(t)
	q := e.queue(t, nil)
	e.invite(t, "dana@example.com")
	ms := e.mails(t)
	if len(ms) != 1 || ms[0].State != models.MailQueued {
		t.Fatalf("outbox %+v, want one queued mail", ms)
	}
	c, err := q.Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for g, n := range c {
		if n != 0 {
			t.Errorf("%d jobs %s without SMTP, want none", n, g)
		}
	}
	if err := q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	srv := testsmtp.Start(t, testsmtp.Options{})
	e.queue(t, srv)
	e.waitState(t, ms[0].ID, models.MailSent)
	if n := len(srv.Mails()); n != 1 {
		t.Errorf("the server took %d mails, want 1", n)
	}
}

// A cause that fires twice queues one mail; a cause that rolls back
// leaves neither a mail nor a job.
func TestOutboxUniqueKeyAndRollback(t *testing.T) {
	e := newMailEnv(t)
	q := e.queue(t, testsmtp.Start(t, testsmtp.Options{}))
	nm := models.NewMail{Kind: "test", To: "x@example.com", Subject: "s", Text: "t", UniqueKey: "test:1"}
	for i, want := range []bool{true, false} {
		err := e.store.InSQLTx(t.Context(), func(tx *sql.Tx) error {
			id, created, err := e.store.EnqueueMail(t.Context(), tx, nm)
			if err != nil || created != want {
				t.Errorf("enqueue %d: created %v, %v; want %v", i, created, err, want)
			}
			if created {
				return q.InsertMailTx(t.Context(), tx, id)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.mails(t)); n != 1 {
		t.Errorf("%d mails for one cause, want 1", n)
	}

	before, err := q.Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	abort := errors.New("the cause is refused")
	_, err = e.store.CreateInvitedUser(t.Context(), e.admin, models.NewUser{Email: "gone@example.com", Role: models.RoleCustomer},
		time.Hour, func(tx *sql.Tx, u *models.User, tok models.IssuedToken) error {
			id, _, err := e.store.EnqueueMail(t.Context(), tx, models.NewMail{Kind: "test", To: u.Email, Subject: "s", Text: "t", UniqueKey: "test:2"})
			if err != nil {
				return err
			}
			if err := q.InsertMailTx(t.Context(), tx, id); err != nil {
				return err
			}
			return abort
		})
	if !errors.Is(err, abort) {
		t.Fatalf("CreateInvitedUser = %v", err)
	}
	if n := len(e.mails(t)); n != 1 {
		t.Errorf("%d mails after a rolled-back cause, want still 1", n)
	}
	if _, err := e.store.UserByEmail(t.Context(), "gone@example.com"); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("the rolled-back user: %v", err)
	}
	after, err := q.Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var nb, na int64
	for _, g := range jobs.Groups {
		nb += before[g]
		na += after[g]
	}
	if na != nb {
		t.Errorf("%d jobs after a rolled-back cause, %d before", na, nb)
	}
}

// A mail left "sending" by a crash (claimed, and the answer never
// recorded) is sent again once its lease has passed, with the same
// Message-ID, so the receiver can tell the re-send.
func TestMailLeftSendingIsSentAgainWithTheSameMessageID(t *testing.T) {
	e := newMailEnv(t)
	q := e.queue(t, nil)
	e.invite(t, "dana@example.com")
	id := e.mails(t)[0].ID
	claimed, err := e.store.ClaimMail(t.Context(), id) // the crashed job's claim
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ClaimMail(t.Context(), id); !errors.Is(err, models.ErrMailBusy) {
		t.Fatalf("a second claim within the lease: %v, want ErrMailBusy", err)
	}
	if err := q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(models.MailLease + time.Minute)
	e.store.SetClock(func() time.Time { return later })

	srv := testsmtp.Start(t, testsmtp.Options{})
	e.queue(t, srv)
	m := e.waitState(t, id, models.MailSent)
	got := srv.Mails()
	if len(got) != 1 {
		t.Fatalf("the server took %d mails, want 1", len(got))
	}
	h, _ := got[0].Parts(t)
	if id := strings.Trim(h.Get("Message-Id"), "<>"); id != claimed.MessageID || m.Attempts != 2 {
		t.Errorf("re-sent with Message-ID %q (the first claim's %q), attempts %d", id, claimed.MessageID, m.Attempts)
	}
}
