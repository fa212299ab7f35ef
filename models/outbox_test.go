package models

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
)

// The outbox's rows: one per unique key, claimed once at a time, and moved
// only from the state each step expects.
func TestOutboxStates(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := t.Context()
	nm := NewMail{Kind: "invitation", To: " Dana@Example.com ", Subject: "Hello", Text: "text", HTML: "<p>html</p>", UniqueKey: "invitation:user:1:token:1", Domain: "desk.example.com"}
	var ids []int64
	for range 2 {
		if err := s.InSQLTx(ctx, func(tx *sql.Tx) error {
			id, created, err := s.EnqueueMail(ctx, tx, nm)
			if created {
				ids = append(ids, id)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d mails queued for one key, want 1", len(ids))
	}
	id := ids[0]
	m, err := s.MailByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.To != "dana@example.com" || m.State != MailQueued || !strings.HasSuffix(m.MessageID, "@desk.example.com") {
		t.Errorf("queued row %+v", m)
	}
	if err := s.RetryMail(ctx, id, nil); !errors.Is(err, ErrMailNotFailed) {
		t.Errorf("retry of a queued mail: %v", err)
	}
	if err := s.MailSent(ctx, id, "250 ok"); !errors.Is(err, ErrMailDone) {
		t.Errorf("sent before it was claimed: %v", err)
	}
	c, err := s.ClaimMail(ctx, id)
	if err != nil || c.State != MailSending || c.Attempts != 1 || c.MessageID != m.MessageID {
		t.Fatalf("claim: %+v, %v", c, err)
	}
	if _, err := s.ClaimMail(ctx, id); !errors.Is(err, ErrMailBusy) {
		t.Errorf("second claim: %v, want ErrMailBusy", err)
	}
	if err := s.MailFailedFor(ctx, id, "smtp 550 no such user"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimMail(ctx, id); !errors.Is(err, ErrMailDone) {
		t.Errorf("claim of a failed mail: %v, want ErrMailDone", err)
	}
	if err := s.RetryMail(ctx, id, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimMail(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := s.MailSent(ctx, id, "250 2.0.0 queued"); err != nil {
		t.Fatal(err)
	}
	m, _ = s.MailByID(ctx, id)
	if m.State != MailSent || m.SentAt == nil || m.Reply != "250 2.0.0 queued" || m.LastError != "" || m.Attempts != 2 {
		t.Errorf("sent row %+v", m)
	}
	if err := s.RetryMail(ctx, 999, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("retry of no mail: %v", err)
	}
	list, n, err := s.Mails(ctx, 10, 0)
	if err != nil || n != 1 || len(list) != 1 || list[0].Subject != "Hello" {
		t.Errorf("list: %+v %d %v", list, n, err)
	}
}
