package provision

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"

	"whapidesk/models"
)

// Mail from the outbox (issue 16, point 2): every mail the app sends is
// rendered here in provision, written to the outbox in the transaction of
// its cause (queueMail), and sent by the job queue (jobs, send_mail). This
// file holds what every kind of mail shares; each kind has its own file
// (invite.go, …) with its words.

// MailQueue queues the job that sends an outbox row, in the transaction
// that wrote it; *jobs.Queue is one (InsertMailTx).
type MailQueue interface {
	InsertMailTx(ctx context.Context, tx *sql.Tx, outboxID int64) error
	// MailConfigured: an SMTP server is configured (else mails stay
	// queued and no job is inserted).
	MailConfigured() bool
}

// MailConfigured reports whether mails are sent (an SMTP server is
// configured); false: they wait in the outbox.
func (s *Service) MailConfigured() bool { return s.mail != nil && s.mail.MailConfigured() }

// RetryMail queues the failed outbox mail id again, with its job (when mail
// is configured) in the same transaction, and audits it.
// models.ErrMailNotFailed when it is not failed.
func (s *Service) RetryMail(ctx context.Context, actor models.Actor, id int64) error {
	err := s.store.RetryMail(ctx, id, func(tx *sql.Tx) error {
		if s.mail == nil {
			return nil
		}
		return s.mail.InsertMailTx(ctx, tx, id)
	})
	if err != nil {
		return err
	}
	return s.store.RecordAudit(ctx, actor, "mail.retry", fmt.Sprintf("mail #%d", id), "queued again by an admin")
}

// SetMailQueue sets the queue the outbox's mails are sent through. Without
// one, mails are written to the outbox and stay queued.
func (s *Service) SetMailQueue(q MailQueue) { s.mail = q }

// ErrNoLinkBase: neither WHAPIDESK_PUBLIC_URL nor the request says where
// the app is reached, so no link can be mailed.
var ErrNoLinkBase = errors.New("the app's public address is unknown (WHAPIDESK_PUBLIC_URL): no link can be mailed")

// linkBase is where a mailed link points: the public URL when configured,
// else origin (the scheme and host the admin's request came to).
func (s *Service) linkBase(origin string) (*url.URL, error) {
	raw := s.publicURL
	if raw == "" {
		raw = strings.TrimRight(origin, "/")
	}
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, ErrNoLinkBase
	}
	return u, nil
}

// defaultBrand is the product name when none is set: handlers.DefaultBrand,
// which provision cannot import (main sets the brand either way).
const defaultBrand = "LinkDesk"

// brandName is the product name mails carry: the reseller's, never
// WHAPI's (nor this program's name, which contains it).
func (s *Service) brandName() string {
	if s.brand == "" {
		return defaultBrand
	}
	return s.brand
}

// The kinds of mail, as the outbox and the preferences name them
// (models/mail_prefs.go holds the names, for the table's CHECK; these are
// the same values, for the mails' own files). MailKindInvitation is in
// invite.go.
const (
	MailKindPasswordReset   = models.MailPasswordReset
	MailKindDisconnectAlert = models.MailDisconnectAlert
	MailKindExpiryReminder  = models.MailExpiryReminder
	MailKindAdminAlert      = models.MailAdminAlert
	MailKindAdminDigest     = models.MailAdminDigest
)

// renderedMail is one mail's subject and its two parts.
type renderedMail struct{ subject, text, html string }

// renderMail renders d through a mail's two templates, its plain-text and
// its HTML part, under subject; what names the mail in an error. Every
// kind of mail is rendered here.
func renderMail(what, subject string, text *texttemplate.Template, html *htmltemplate.Template, d any) (renderedMail, error) {
	var t, h bytes.Buffer
	if err := text.Execute(&t, d); err != nil {
		return renderedMail{}, fmt.Errorf("provision: render %s: %w", what, err)
	}
	if err := html.Execute(&h, d); err != nil {
		return renderedMail{}, fmt.Errorf("provision: render %s: %w", what, err)
	}
	return renderedMail{subject: subject, text: t.String(), html: h.String()}, nil
}

// queueMail writes mail m of kind to u into the outbox in tx, with its job
// when mail is configured: the one door every kind of mail goes through.
// key names the mail's subject entity and period (the outbox's unique key
// is kind + ":" + key), so a cause that fires twice queues one mail; base
// is where the mail's links point (linkBase), its host names the
// Message-ID's domain.
//
// A kind the user can switch off (models.MailKindSwitchable) is checked
// against their preference here, in tx, and a mail they switched off
// writes nothing: no row, no job (so, should they switch it on again, the
// next cause queues it). The security mails (the invitation, the password
// reset) always go. A nil base (a background job's mail when
// WHAPIDESK_PUBLIC_URL is not set) leaves the Message-ID's domain to the
// outbox's default. queued says whether a new outbox row was written (not:
// queued before under its key, or switched off).
func (s *Service) queueMail(ctx context.Context, tx *sql.Tx, u *models.User, kind string, m renderedMail, key string, base *url.URL) (queued bool, err error) {
	wanted, err := s.store.MailWantedTx(ctx, tx, u.ID, kind)
	if err != nil || !wanted {
		return false, err
	}
	domain := ""
	if base != nil {
		domain = base.Hostname()
	}
	uid := u.ID
	id, created, err := s.store.EnqueueMail(ctx, tx, models.NewMail{
		Kind: kind, UserID: &uid, To: u.Email, Subject: m.subject, Text: m.text, HTML: m.html,
		UniqueKey: kind + ":" + key, Domain: domain,
	})
	if err != nil || !created || s.mail == nil {
		return created, err
	}
	return true, s.mail.InsertMailTx(ctx, tx, id)
}
