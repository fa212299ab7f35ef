package provision

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	texttemplate "text/template"
	"time"

	"whapidesk/models"
)

// The invitation (issue 16, point 3): an admin creates an account without
// a password, and its owner gets a mail with a set-password link (single
// use, models.InvitationValidity, only the token's hash stored). The user,
// the token, the outbox row and the row's job are written in one
// transaction: all or nothing.

// MailKindInvitation is the outbox kind of an invitation.
const MailKindInvitation = "invitation"

// InviteUser creates the account in (without a password) and queues its
// invitation, in one transaction. origin is the scheme and host the
// admin's request came to, used for the link when WHAPIDESK_PUBLIC_URL is
// not set.
func (s *Service) InviteUser(ctx context.Context, actor models.Actor, in models.NewUser, origin string) (*models.User, error) {
	fe := FieldErrors{}
	name, err := cleanText(in.Name, "name", 100, false)
	if err != nil {
		fe["name"] = err.Error()
	}
	in.Name = name
	if _, err := models.NormalizeEmail(in.Email); err != nil {
		fe["email"] = err.Error()
	}
	if in.Role != models.RoleAdmin && in.Role != models.RoleCustomer {
		fe["role"] = models.ErrInvalidRole.Error()
	}
	if len(fe) > 0 {
		return nil, fe
	}
	base, err := s.linkBase(origin)
	if err != nil {
		return nil, err
	}
	u, err := s.store.CreateInvitedUser(ctx, actor, in, models.InvitationValidity, func(tx *sql.Tx, u *models.User, t models.IssuedToken) error {
		if err := s.customerEvent(ctx)(tx, u); err != nil {
			return err
		}
		return s.queueInvitation(ctx, tx, base, u, t)
	})
	if errors.Is(err, models.ErrEmailTaken) {
		return nil, FieldErrors{"email": err.Error()}
	}
	return u, err
}

// ResendInvitation sends user id a new invitation: a new link, and the
// older ones no longer work. models.ErrAlreadyActive when the user has a
// password already.
func (s *Service) ResendInvitation(ctx context.Context, actor models.Actor, id int64, origin string) error {
	base, err := s.linkBase(origin)
	if err != nil {
		return err
	}
	return s.store.ReissueInvitation(ctx, actor, id, models.InvitationValidity, func(tx *sql.Tx, u *models.User, t models.IssuedToken) error {
		return s.queueInvitation(ctx, tx, base, u, t)
	})
}

// queueInvitation renders the invitation for u with token t and queues it
// (and its job) in tx. Its unique key is per user and token.
func (s *Service) queueInvitation(ctx context.Context, tx *sql.Tx, base *url.URL, u *models.User, t models.IssuedToken) error {
	link := base.JoinPath("set-password", t.Token).String()
	mail, err := renderInvitation(invitationData{
		Brand: s.brandName(), Name: u.Name, Email: u.Email, Link: link,
		Expires: t.ExpiresAt.UTC().Format("2 January 2006, 15:04 UTC"), Hours: int(models.InvitationValidity / time.Hour),
	})
	if err != nil {
		return err
	}
	_, err = s.queueMail(ctx, tx, u, MailKindInvitation, mail, fmt.Sprintf("user:%d:token:%d", u.ID, t.ID), base)
	return err
}

type invitationData struct {
	Brand, Name, Email, Link, Expires string
	Hours                             int
}

var invitationText = texttemplate.Must(texttemplate.New("text").Parse(`Hello{{if .Name}} {{.Name}}{{end}},

An account on {{.Brand}} has been created for you ({{.Email}}).
Choose your password to sign in:

{{.Link}}

The link works once, for {{.Hours}} hours (until {{.Expires}}).
If you did not expect this mail, you can ignore it: nothing happens
until the link is used.

{{.Brand}}
`))

var invitationHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Brand}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #222;">
<p>Hello{{if .Name}} {{.Name}}{{end}},</p>
<p>An account on <strong>{{.Brand}}</strong> has been created for you ({{.Email}}). Choose your password to sign in:</p>
<p><a href="{{.Link}}" style="display: inline-block; padding: 0.6em 1.2em; background: #1a5fb4; color: #fff; text-decoration: none; border-radius: 4px;">Set my password</a></p>
<p>Or copy this address into your browser:<br>{{.Link}}</p>
<p>The link works once, for {{.Hours}} hours (until {{.Expires}}). If you did not expect this mail, you can ignore it: nothing happens until the link is used.</p>
<p>{{.Brand}}</p>
</body></html>
`))

func renderInvitation(d invitationData) (renderedMail, error) {
	return renderMail("invitation", "Your "+d.Brand+" account: choose your password", invitationText, invitationHTML, d)
}

// SetPasswordFromLink sets the password of the user a set-password link
// is for, spends the link and ends every session of the user (see
// models.Store.UseSetPasswordToken). A refused password comes back as
// FieldErrors{"password": …}; a bad link as models.ErrTokenInvalid,
// ErrTokenExpired or ErrTokenUsed.
func (s *Service) SetPasswordFromLink(ctx context.Context, token, password string) (*models.User, error) {
	u, err := s.store.UseSetPasswordToken(ctx, token, password)
	for _, rule := range []error{models.ErrBlankPassword, models.ErrWeakPassword, models.ErrPasswordTooLong,
		models.ErrCommonPassword, models.ErrPasswordHasEmail} {
		if errors.Is(err, rule) {
			return nil, FieldErrors{"password": err.Error()}
		}
	}
	return u, err
}
