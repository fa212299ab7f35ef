package handlers

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/views"
)

// Mail preferences (issue 16, point 3): each user switches off the kinds
// of mail they do not want, in the account page's "Mails" section; an admin
// sets a customer's from the customer's page. The preference is kept where
// every mail is queued (provision's queueMail), so it holds for every mail
// whatever causes it. Security mails are not listed: they always go.

// mailWords are the catalog ids of a kind's label and hint, as the Mails
// section shows them.
var mailWords = map[string][2]string{
	models.MailDisconnectAlert: {"mailprefs.disconnect.label", "mailprefs.disconnect.hint"},
	models.MailExpiryReminder:  {"mailprefs.expiry.label", "mailprefs.expiry.hint"},
	models.MailAdminAlert:      {"mailprefs.alerts.label", "mailprefs.alerts.hint"},
	models.MailAdminDigest:     {"mailprefs.digest.label", "mailprefs.digest.hint"},
}

// mailPrefsView is u's Mails section, posting to action.
func (h *Handler) mailPrefsView(ctx context.Context, u *models.User, action string, own bool) (views.MailPrefsView, error) {
	on, err := h.store.MailPrefs(ctx, u.ID)
	if err != nil {
		return views.MailPrefsView{}, err
	}
	v := views.MailPrefsView{Action: action, Own: own}
	for _, k := range models.MailKindsFor(u.Role) {
		w := mailWords[k]
		v.Items = append(v.Items, views.MailPrefItem{Kind: k, Label: i18n.T(ctx, w[0]), Hint: i18n.T(ctx, w[1]), On: on[k]})
	}
	return v, nil
}

// renderAccount renders the account page (the password form, the
// Language and the Mails sections) with the password form f.
func (h *Handler) renderAccount(c echo.Context, status int, f views.PasswordForm) error {
	u := currentUser(c)
	mails, err := h.mailPrefsView(c.Request().Context(), u, "/account/mails", true)
	if err != nil {
		return err
	}
	f.Language.Current = u.Language
	return h.render(c, status, views.PasswordPage(h.page(c, loc(c).T("account.title")), f, mails))
}

// postedMailPrefs reads the Mails form: the ticked kinds are on, every
// other kind the user can switch is off.
func postedMailPrefs(c echo.Context) map[string]bool {
	on := map[string]bool{}
	if form, err := c.FormParams(); err == nil {
		for _, k := range form["mail"] {
			on[k] = true
		}
	}
	return on
}

// saveMailPrefs is POST /account/mails: the signed-in user's own choices.
func (h *Handler) saveMailPrefs(c echo.Context) error {
	u := currentUser(c)
	err := h.store.SetMailPrefs(c.Request().Context(), actor(c), u.ID, postedMailPrefs(c))
	if errors.Is(err, models.ErrMailKindFixed) {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, err.Error())
	}
	if err != nil {
		return err
	}
	h.setFlash(c, "success", loc(c).T("mailprefs.saved"))
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/account/password#mails")
}

// saveUserMailPrefs is POST /admin/users/:id/mails: an admin sets a
// user's choices.
func (h *Handler) saveUserMailPrefs(c echo.Context) error {
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	err = h.store.SetMailPrefs(c.Request().Context(), actor(c), u.ID, postedMailPrefs(c))
	if errors.Is(err, models.ErrMailKindFixed) {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, err.Error())
	}
	if err != nil {
		return err
	}
	h.setFlash(c, "success", loc(c).T("mailprefs.saved_for", "Email", i18n.Isolate(u.Email)))
	return h.backToUser(c, u.ID)
}
