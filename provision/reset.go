package provision

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	"whapidesk/internal/i18n"
	"whapidesk/models"
)

// Forgot password (issue 16, point 3): whoever knows an address asks for a
// password-reset link on the login page; an enabled account with that
// address gets a mail with a link to /set-password/<token> (single use,
// models.ResetValidity, only the token's hash stored). The token, its audit
// row, the outbox row and its job are written in one transaction. The
// person asking is told the same whether or not the address has an
// account (the handler's words); nothing here tells them apart either.

// RequestPasswordReset mails a password-reset link to the enabled user
// whose address is email, if there is one, and returns nil either way
// (an error is the database's or the configuration's, never "no such
// user"). origin is the scheme and host the request came to, used for the
// link when WHAPIDESK_PUBLIC_URL is not set.
func (s *Service) RequestPasswordReset(ctx context.Context, email, origin string) error {
	base, err := s.linkBase(origin)
	if err != nil {
		return err
	}
	_, err = s.store.IssuePasswordReset(ctx, email, func(tx *sql.Tx, u *models.User, t models.IssuedToken) error {
		return s.queueReset(ctx, tx, base, u, t)
	})
	return err
}

// queueReset renders the reset mail for u with token t, in u's language,
// and queues it (and its job) in tx. Its unique key is per user and token.
func (s *Service) queueReset(ctx context.Context, tx *sql.Tx, base *url.URL, u *models.User, t models.IssuedToken) error {
	mail, err := renderReset(mailLoc(u), resetData{
		Brand: s.brandName(), Name: u.Name, Email: u.Email,
		Link:    base.JoinPath("set-password", t.Token).String(),
		Expires: t.ExpiresAt.UTC(), Minutes: int(models.ResetValidity.Minutes()),
		Login: base.JoinPath("login").String(),
	})
	if err != nil {
		return err
	}
	_, err = s.queueMail(ctx, tx, u, MailKindPasswordReset, mail, fmt.Sprintf("user:%d:token:%d", u.ID, t.ID), base)
	return err
}

type resetData struct {
	Brand, Name, Email, Link, Login string
	Expires                         time.Time
	Minutes                         int
}

var resetMail = newMailTemplate("password reset", `{{hello .Name}}

{{t "mail.reset.asked" "Brand" .Brand "Email" .Email}}
{{t "mail.reset.choose"}}

{{.Link}}

{{n "mail.reset.validity" .Minutes "Expires" .Expires}}
{{t "mail.reset.sign_out"}}

{{t "mail.reset.ignore"}}
{{t "mail.reset.sign_in_text" "Login" .Login}}

{{.Brand}}
`, mailHead+`<p>{{hello .Name}}</p>
<p>{{t "mail.reset.asked" "Brand" (strong .Brand) "Email" .Email}} {{t "mail.reset.choose"}}</p>
<p><a href="{{.Link}}" `+mailButton+`>{{t "mail.reset.button"}}</a></p>
<p>{{t "mail.copy_link"}}<br><span dir="ltr">{{.Link}}</span></p>
<p>{{n "mail.reset.validity" .Minutes "Expires" .Expires}} {{t "mail.reset.sign_out"}}</p>
<p>{{t "mail.reset.ignore"}} {{t "mail.reset.sign_in_html" "SignIn" (link .Login (t "mail.sign_in_link"))}}</p>
<p>{{.Brand}}</p>
</body></html>
`)

func renderReset(loc *i18n.Localizer, d resetData) (renderedMail, error) {
	return resetMail.render(loc, "mail.reset.subject", d, "Brand", d.Brand)
}
