package provision

import (
	"context"
	"database/sql"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	texttemplate "text/template"

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

// queueReset renders the reset mail for u with token t and queues it (and
// its job) in tx. Its unique key is per user and token.
func (s *Service) queueReset(ctx context.Context, tx *sql.Tx, base *url.URL, u *models.User, t models.IssuedToken) error {
	mail, err := renderReset(resetData{
		Brand: s.brandName(), Name: u.Name, Email: u.Email,
		Link:    base.JoinPath("set-password", t.Token).String(),
		Expires: t.ExpiresAt.UTC().Format("2 January 2006, 15:04 UTC"), Minutes: int(models.ResetValidity.Minutes()),
		Login: base.JoinPath("login").String(),
	})
	if err != nil {
		return err
	}
	_, err = s.queueMail(ctx, tx, u, MailKindPasswordReset, mail, fmt.Sprintf("user:%d:token:%d", u.ID, t.ID), base)
	return err
}

type resetData struct {
	Brand, Name, Email, Link, Expires, Login string
	Minutes                                  int
}

var resetText = texttemplate.Must(texttemplate.New("text").Parse(`Hello{{if .Name}} {{.Name}}{{end}},

Someone (we hope you) asked to reset the password of your {{.Brand}}
account ({{.Email}}). Choose a new password here:

{{.Link}}

The link works once, for {{.Minutes}} minutes (until {{.Expires}}).
Setting a new password signs you out everywhere you are signed in.

If you did not ask for this, ignore this mail: your password stays as it
is, and nobody can use this link without this mail. You can sign in as
usual at {{.Login}}

{{.Brand}}
`))

var resetHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Brand}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #222;">
<p>Hello{{if .Name}} {{.Name}}{{end}},</p>
<p>Someone (we hope you) asked to reset the password of your <strong>{{.Brand}}</strong> account ({{.Email}}). Choose a new password here:</p>
<p><a href="{{.Link}}" style="display: inline-block; padding: 0.6em 1.2em; background: #1a5fb4; color: #fff; text-decoration: none; border-radius: 4px;">Choose a new password</a></p>
<p>Or copy this address into your browser:<br>{{.Link}}</p>
<p>The link works once, for {{.Minutes}} minutes (until {{.Expires}}). Setting a new password signs you out everywhere you are signed in.</p>
<p>If you did not ask for this, ignore this mail: your password stays as it is, and nobody can use this link without this mail. You can <a href="{{.Login}}">sign in</a> as usual.</p>
<p>{{.Brand}}</p>
</body></html>
`))

func renderReset(d resetData) (renderedMail, error) {
	return renderMail("password reset", "Reset your "+d.Brand+" password", resetText, resetHTML, d)
}
