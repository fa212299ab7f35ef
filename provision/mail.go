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
	"time"
	"unicode"

	"whapidesk/internal/i18n"
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

// mailLoc is the localizer of a mail to u: the recipient's own language,
// English when they have none (or the mail goes to no user).
func mailLoc(u *models.User) *i18n.Localizer {
	if u == nil {
		return i18n.For(i18n.Default)
	}
	return i18n.For(u.Language)
}

// mailTemplate is one kind of mail's two parts, a plain-text and an HTML
// template, whose words are the catalog's (the mail table, prov.*.toml):
// they are rendered in the recipient's language (render's localizer) with
// these functions:
//
//	t id name value…   the message id, its placeholders filled
//	n id count …       the plural message id for count
//	hello name         the greeting ("Hello Ann," or "Hello,")
//	strong v, link href label   (HTML) emphasis and a link as a T argument
//	lang, dir          the language's tag and direction (the <html> tag)
//
// An argument that is a string is user text (a name, a channel, the
// brand): in a right-to-left mail, or when it holds right-to-left letters,
// it is isolated (i18n.Isolate in the text part, <bdi> in the HTML part)
// so that it keeps the sentence's order around it. Numbers are formatted
// for the language, a time.Time is its date and time; an id or a phone is
// given as a string, so that it keeps its digits.
type mailTemplate struct {
	what string
	text *texttemplate.Template
	html *htmltemplate.Template
}

// newMailTemplate parses a mail's parts; what names the mail in an error.
func newMailTemplate(what, text, html string) mailTemplate {
	en := i18n.For(i18n.Default)
	return mailTemplate{
		what: what,
		text: texttemplate.Must(texttemplate.New("text").Funcs(textMailFuncs(en)).Parse(text)),
		html: htmltemplate.Must(htmltemplate.New("html").Funcs(htmlMailFuncs(en)).Parse(html)),
	}
}

// render renders d through both parts in loc's language, under the
// catalog's subject id (filled from subjectArgs, name, value pairs; a
// "Count" pair makes it a plural message).
func (m mailTemplate) render(loc *i18n.Localizer, subjectID string, d any, subjectArgs ...any) (renderedMail, error) {
	text, err := m.text.Clone()
	if err != nil {
		return renderedMail{}, fmt.Errorf("provision: render %s: %w", m.what, err)
	}
	html, err := m.html.Clone()
	if err != nil {
		return renderedMail{}, fmt.Errorf("provision: render %s: %w", m.what, err)
	}
	var subject string
	if c, ok := countArg(subjectArgs); ok {
		subject = loc.N(subjectID, c, textArgs(loc, subjectArgs)...)
	} else {
		subject = loc.T(subjectID, textArgs(loc, subjectArgs)...)
	}
	return renderMail(m.what, subject, text.Funcs(textMailFuncs(loc)), html.Funcs(htmlMailFuncs(loc)), d)
}

// countArg finds a "Count" pair among T's args.
func countArg(args []any) (int64, bool) {
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] == "Count" {
			if c, ok := toInt64(args[i+1]); ok {
				return c, true
			}
		}
	}
	return 0, false
}

func toInt64(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case int32:
		return int64(v), true
	}
	return 0, false
}

// needsIsolation: s goes into a sentence of loc's language isolated — the
// language is right to left, or s holds right-to-left letters. (A Latin
// name in an English sentence needs none, and stays as it always was.)
func needsIsolation(loc *i18n.Localizer, s string) bool {
	if loc.Language().RTL {
		return true
	}
	for _, r := range s {
		if unicode.In(r, unicode.Arabic, unicode.Hebrew, unicode.Syriac, unicode.Thaana, unicode.Nko) {
			return true
		}
	}
	return false
}

// textArg is a T argument in a text part (or a subject).
func textArg(loc *i18n.Localizer, v any) any {
	switch v := v.(type) {
	case string:
		if v != "" && needsIsolation(loc, v) {
			return i18n.Isolate(v)
		}
		return v
	case time.Time:
		return loc.DateTime(v)
	}
	if n, ok := toInt64(v); ok {
		return loc.Number(n)
	}
	return v
}

func textArgs(loc *i18n.Localizer, args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if i%2 == 0 || a == nil {
			out[i] = a
			continue
		}
		out[i] = textArg(loc, a)
	}
	return out
}

// htmlPiece is a T argument of an HTML part that is HTML already (strong,
// link).
type htmlPiece string

// htmlArg is a T argument in an HTML part, as HTML.
func htmlArg(loc *i18n.Localizer, v any) string {
	switch v := v.(type) {
	case htmlPiece:
		return string(v)
	case htmltemplate.HTML:
		return string(v)
	case string:
		if v != "" && needsIsolation(loc, v) {
			return "<bdi>" + htmltemplate.HTMLEscapeString(v) + "</bdi>"
		}
		return htmltemplate.HTMLEscapeString(v)
	}
	return htmltemplate.HTMLEscapeString(fmt.Sprint(textArg(loc, v)))
}

// htmlMessage is message id (plural when count is set) as HTML: the
// catalog's words escaped, each argument in its place as htmlArg. The
// arguments go through the catalog as private-use marks, so that nothing
// in them is read as the message's own text.
func htmlMessage(loc *i18n.Localizer, id string, count *int64, args []any) htmltemplate.HTML {
	marks := make([]any, 0, len(args))
	pieces := make(map[string]string, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		mark := fmt.Sprintf("\uE000%d\uE001", i/2)
		pieces[mark] = htmlArg(loc, args[i+1])
		marks = append(marks, args[i], mark)
	}
	var s string
	if count != nil {
		s = loc.N(id, *count, marks...)
	} else {
		s = loc.T(id, marks...)
	}
	s = htmltemplate.HTMLEscapeString(s)
	for mark, p := range pieces {
		s = strings.ReplaceAll(s, mark, p)
	}
	return htmltemplate.HTML(s)
}

func textMailFuncs(loc *i18n.Localizer) texttemplate.FuncMap {
	return texttemplate.FuncMap{
		"t": func(id string, args ...any) string { return loc.T(id, textArgs(loc, args)...) },
		"n": func(id string, count any, args ...any) string {
			c, _ := toInt64(count)
			return loc.N(id, c, textArgs(loc, args)...)
		},
		"hello": func(name string) string {
			if name == "" {
				return loc.T("mail.hello")
			}
			return loc.T("mail.hello_name", "Name", textArg(loc, name))
		},
		"arg":  func(v any) any { return textArg(loc, v) },
		"date": loc.Date,
		"what": func(f JobFailure) string { return jobWhat(loc, f) },
		"lang": loc.Tag,
		"dir":  loc.Dir,
	}
}

func htmlMailFuncs(loc *i18n.Localizer) htmltemplate.FuncMap {
	return htmltemplate.FuncMap{
		"t": func(id string, args ...any) htmltemplate.HTML { return htmlMessage(loc, id, nil, args) },
		"n": func(id string, count any, args ...any) htmltemplate.HTML {
			c, _ := toInt64(count)
			return htmlMessage(loc, id, &c, args)
		},
		"hello": func(name string) htmltemplate.HTML {
			if name == "" {
				return htmlMessage(loc, "mail.hello", nil, nil)
			}
			return htmlMessage(loc, "mail.hello_name", nil, []any{"Name", name})
		},
		"strong": func(v any) htmlPiece { return htmlPiece("<strong>" + htmlArg(loc, v) + "</strong>") },
		"link": func(href string, label any) htmlPiece {
			return htmlPiece(`<a href="` + htmltemplate.HTMLEscapeString(href) + `">` + htmlArg(loc, label) + "</a>")
		},
		"arg":  func(v any) htmltemplate.HTML { return htmltemplate.HTML(htmlArg(loc, v)) },
		"date": loc.Date,
		"what": func(f JobFailure) string { return jobWhat(loc, f) },
		"lang": loc.Tag,
		"dir":  loc.Dir,
	}
}

// mailHead opens every mail's HTML part, in the recipient's language and
// direction.
const mailHead = `<!doctype html>
<html lang="{{lang}}" dir="{{dir}}"><head><meta charset="utf-8"><title>{{.Brand}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #222;">
`

// mailButton is a mail's call to action: a link styled as a button.
const mailButton = `style="display: inline-block; padding: 0.6em 1.2em; background: #1a5fb4; color: #fff; text-decoration: none; border-radius: 4px;"`

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
