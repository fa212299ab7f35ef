package provision

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"whapidesk/internal/i18n"
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
		fe["name"] = fieldMsg(ctx, err)
	}
	in.Name = name
	if _, err := models.NormalizeEmail(in.Email); err != nil {
		fe["email"] = fieldMsg(ctx, err)
	}
	if in.Role != models.RoleAdmin && in.Role != models.RoleCustomer {
		fe["role"] = fieldMsg(ctx, models.ErrInvalidRole)
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
		return nil, FieldErrors{"email": fieldMsg(ctx, err)}
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

// queueInvitation renders the invitation for u with token t, in u's
// language, and queues it (and its job) in tx. Its unique key is per user
// and token.
func (s *Service) queueInvitation(ctx context.Context, tx *sql.Tx, base *url.URL, u *models.User, t models.IssuedToken) error {
	link := base.JoinPath("set-password", t.Token).String()
	mail, err := renderInvitation(mailLoc(u), invitationData{
		Brand: s.brandName(), Name: u.Name, Email: u.Email, Link: link,
		Expires: t.ExpiresAt.UTC(), Hours: int(models.InvitationValidity / time.Hour),
	})
	if err != nil {
		return err
	}
	_, err = s.queueMail(ctx, tx, u, MailKindInvitation, mail, fmt.Sprintf("user:%d:token:%d", u.ID, t.ID), base)
	return err
}

type invitationData struct {
	Brand, Name, Email, Link string
	Expires                  time.Time
	Hours                    int
}

var invitationMail = newMailTemplate("invitation", `{{hello .Name}}

{{t "mail.invitation.created" "Brand" .Brand "Email" .Email}}
{{t "mail.invitation.choose"}}

{{.Link}}

{{n "mail.invitation.validity" .Hours "Expires" .Expires}}
{{t "mail.invitation.ignore"}}

{{.Brand}}
`, mailHead+`<p>{{hello .Name}}</p>
<p>{{t "mail.invitation.created" "Brand" (strong .Brand) "Email" .Email}} {{t "mail.invitation.choose"}}</p>
<p><a href="{{.Link}}" `+mailButton+`>{{t "mail.invitation.button"}}</a></p>
<p>{{t "mail.copy_link"}}<br><span dir="ltr">{{.Link}}</span></p>
<p>{{n "mail.invitation.validity" .Hours "Expires" .Expires}} {{t "mail.invitation.ignore"}}</p>
<p>{{.Brand}}</p>
</body></html>
`)

func renderInvitation(loc *i18n.Localizer, d invitationData) (renderedMail, error) {
	return invitationMail.render(loc, "mail.invitation.subject", d, "Brand", d.Brand)
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
			return nil, FieldErrors{"password": fieldMsg(ctx, err)}
		}
	}
	return u, err
}
