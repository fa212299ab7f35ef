package models

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// MailState is where an outbox mail is on its way out.
type MailState string

// Mail states: queued (waiting for its job, or for SMTP to be configured),
// sending (claimed by a job; left so by a crash until River retries the
// job), sent (the server took it), failed (the server or the mail was
// refused for good; an admin's Retry queues it again).
const (
	MailQueued  MailState = "queued"
	MailSending MailState = "sending"
	MailSent    MailState = "sent"
	MailFailed  MailState = "failed"
)

// Errors about the outbox.
var (
	// ErrMailDone: the mail is sent or failed, so there is nothing to send
	// (a duplicate or late job).
	ErrMailDone = errors.New("the mail is already sent or failed")
	// ErrMailNotFailed: only a failed mail can be retried.
	ErrMailNotFailed = errors.New("only a failed mail can be retried")
	// ErrMailBusy: another job is sending the mail (see MailLease).
	ErrMailBusy = errors.New("the mail is being sent")
)

// Mail is one row of the outbox: one mail to one person, rendered when it
// was queued.
type Mail struct {
	ID        int64      `gorm:"primaryKey"`
	Kind      string     `gorm:"column:kind"`
	UserID    *int64     `gorm:"column:user_id"`
	To        string     `gorm:"column:to_address"`
	Subject   string     `gorm:"column:subject"`
	Text      string     `gorm:"column:text_body"`
	HTML      string     `gorm:"column:html_body"`
	UniqueKey string     `gorm:"column:unique_key"`
	MessageID string     `gorm:"column:message_id"`
	State     MailState  `gorm:"column:state"`
	Attempts  int        `gorm:"column:attempts"`
	LastError string     `gorm:"column:last_error"`
	Reply     string     `gorm:"column:reply"`
	CreatedAt time.Time  `gorm:"column:created_at"`
	UpdatedAt time.Time  `gorm:"column:updated_at"`
	SentAt    *time.Time `gorm:"column:sent_at"`
}

// TableName implements gorm's Tabler.
func (Mail) TableName() string { return "mail_outbox" }

// NewMail is the input of EnqueueMail.
type NewMail struct {
	Kind    string
	UserID  *int64
	To      string
	Subject string
	Text    string
	HTML    string
	// UniqueKey names the cause: kind, subject entity and period (e.g.
	// "invitation:user:7:token:12"). A second mail with the same key is
	// not queued.
	UniqueKey string
	// Domain is the right-hand side of the mail's Message-ID (the app's
	// public host); "" = "mail.invalid".
	Domain string
}

// lastErrorMax bounds the stored error and reply texts.
const lastErrorMax = 1000

// EnqueueMail writes the mail m as a queued outbox row in tx, the
// transaction of the change that causes it (from InSQLTx), so the mail
// exists if and only if that change commits; the caller inserts the mail's
// job in the same tx. It returns the row's id and true, or 0 and false
// when a mail with m.UniqueKey is already there (the cause fired twice:
// one mail). The Message-ID is made here, once, and kept by every send of
// the row.
func (s *Store) EnqueueMail(ctx context.Context, tx *sql.Tx, m NewMail) (int64, bool, error) {
	to, err := NormalizeEmail(m.To)
	if err != nil {
		return 0, false, err
	}
	if m.Kind == "" || m.UniqueKey == "" || strings.TrimSpace(m.Subject) == "" || strings.TrimSpace(m.Text) == "" {
		return 0, false, errors.New("store: a mail needs a kind, a unique key, a subject and a text part")
	}
	domain := m.Domain
	if domain == "" {
		domain = "mail.invalid"
	}
	msgID := strings.ToLower(rand.Text()) + "." + m.Kind + "@" + domain
	now := s.now()
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO mail_outbox
		(kind, user_id, to_address, subject, text_body, html_body, unique_key, message_id, state, attempts, last_error, reply, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', 0, '', '', $9, $9)
		ON CONFLICT (unique_key) DO NOTHING RETURNING id`,
		m.Kind, m.UserID, to, strings.TrimSpace(m.Subject), m.Text, m.HTML, m.UniqueKey, msgID, now).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store: queue mail: %w", err)
	}
	return id, true, nil
}

// MailLease is how long a claimed mail is left "sending" before another
// job may claim it again: longer than a job can hold the claim — the send
// is bounded to two minutes and the recording of its answer to half a
// minute after it (jobs: mailTimeout, mailRecordTimeout; a test there
// keeps the sum below the lease) —, and short enough that a mail cut
// short by a crash goes again within minutes.
const MailLease = 3 * time.Minute

// ClaimMail takes the mail id for sending, by a conditional update
// (queued → sending, one more attempt), and returns it. A row left
// "sending" longer than MailLease is claimed again: its job was cut short
// after the claim (a crash, a lost answer), and River runs the job again.
// Whether the server took the mail then is unknown, so it is sent again
// with the same Message-ID: at least once, never silently lost, and the
// receiver can tell the re-send (mailer.Error.MaybeDelivered tells the same
// story). Within the lease a second job gets ErrMailBusy, so two sends of
// one row never run at once, however many jobs point at it. ErrMailDone
// when the mail is sent or failed, ErrNotFound when there is no such mail.
func (s *Store) ClaimMail(ctx context.Context, id int64) (*Mail, error) {
	now := s.now()
	res := s.db.WithContext(ctx).Exec(`UPDATE mail_outbox SET state = 'sending', attempts = attempts + 1, updated_at = ?
		WHERE id = ? AND (state = 'queued' OR (state = 'sending' AND updated_at < ?))`, now, id, now.Add(-MailLease))
	if res.Error != nil {
		return nil, fmt.Errorf("store: claim mail: %w", res.Error)
	}
	m, err := s.MailByID(ctx, id)
	if err != nil {
		return nil, err
	}
	switch {
	case res.RowsAffected == 1:
		return m, nil
	case m.State == MailSending:
		return nil, ErrMailBusy
	}
	return nil, ErrMailDone
}

// MailSent records that the server took the mail id, with its reply.
func (s *Store) MailSent(ctx context.Context, id int64, reply string) error {
	now := s.now()
	return s.moveMail(ctx, id, MailSending, map[string]any{
		"state": MailSent, "reply": clip(reply), "last_error": "", "sent_at": now, "updated_at": now,
	})
}

// MailDeferred puts the mail id back in the queue after a failure that a
// later attempt may get past (a 4xx reply, a timeout, a dropped
// connection), with the error shown on the Outbox page.
func (s *Store) MailDeferred(ctx context.Context, id int64, why string) error {
	return s.moveMail(ctx, id, MailSending, map[string]any{
		"state": MailQueued, "last_error": clip(why), "updated_at": s.now(),
	})
}

// MailFailedFor records that the mail id was refused for good (or ran out
// of attempts): it waits for an admin's Retry.
func (s *Store) MailFailedFor(ctx context.Context, id int64, why string) error {
	return s.moveMail(ctx, id, MailSending, map[string]any{
		"state": MailFailed, "last_error": clip(why), "updated_at": s.now(),
	})
}

func (s *Store) moveMail(ctx context.Context, id int64, from MailState, set map[string]any) error {
	res := s.db.WithContext(ctx).Model(&Mail{}).Where("id = ? AND state = ?", id, from).Updates(set)
	if res.Error != nil {
		return fmt.Errorf("store: update mail: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrMailDone
	}
	return nil
}

func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= lastErrorMax {
		return s
	}
	cut := lastErrorMax
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// RetryMail queues the failed mail id again (failed → queued) and calls
// then in the same transaction, to insert its job: both or neither.
// ErrMailNotFailed when it is not failed, ErrNotFound when there is none.
func (s *Store) RetryMail(ctx context.Context, id int64, then func(tx *sql.Tx) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Mail{}).Where("id = ? AND state = ?", id, MailFailed).
			Updates(map[string]any{"state": MailQueued, "updated_at": s.now()})
		if res.Error != nil {
			return fmt.Errorf("store: retry mail: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			var n int64
			if err := tx.Model(&Mail{}).Where("id = ?", id).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return ErrNotFound
			}
			return ErrMailNotFailed
		}
		if then == nil {
			return nil
		}
		sqlTx, err := sqlTxOf(tx)
		if err != nil {
			return err
		}
		return then(sqlTx)
	})
}

// MailByID returns the outbox mail id, or ErrNotFound.
func (s *Store) MailByID(ctx context.Context, id int64) (*Mail, error) {
	var m Mail
	if err := s.db.WithContext(ctx).First(&m, id).Error; err != nil {
		return nil, notFound(err)
	}
	return &m, nil
}

// Mails returns a page of the outbox, newest first, and how many mails
// there are in all.
func (s *Store) Mails(ctx context.Context, limit, offset int) ([]Mail, int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&Mail{}).Count(&n).Error; err != nil {
		return nil, 0, fmt.Errorf("store: count mails: %w", err)
	}
	var ms []Mail
	err := s.db.WithContext(ctx).Omit("text_body", "html_body").Order("id DESC").Limit(limit).Offset(offset).Find(&ms).Error
	if err != nil {
		return nil, 0, fmt.Errorf("store: list mails: %w", err)
	}
	return ms, n, nil
}

// UnsentMailIDs returns the ids of the mails waiting to be sent (queued, or
// left sending), oldest first: what a start with SMTP configured queues
// jobs for.
func (s *Store) UnsentMailIDs(ctx context.Context) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&Mail{}).Where("state IN ?", []MailState{MailQueued, MailSending}).
		Order("id").Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("store: unsent mails: %w", err)
	}
	return ids, nil
}
