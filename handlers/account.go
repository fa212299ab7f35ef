package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/views"
)

// maxPasswordFailures bounds wrong current passwords per account on the
// change-password form (a stolen session must not become a way to guess
// the password), counted like sign-ins.
const maxPasswordFailures = 5

// requireSignedIn lets any signed-in user through.
func (h *Handler) requireSignedIn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if currentUser(c) == nil {
			return redirect(c, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
		}
		return next(c)
	}
}

func (h *Handler) showPasswordPage(c echo.Context) error {
	return h.renderAccount(c, http.StatusOK, views.PasswordForm{})
}

// changePassword checks the current password, sets the new one, ends every
// session of the user and starts a fresh one for this browser.
func (h *Handler) changePassword(c echo.Context) error {
	ctx := c.Request().Context()
	u := currentUser(c)
	form := parsePasswordForm(c)
	f := views.PasswordForm{Errors: form.changeErrors(u.Email)}
	if len(f.Errors) > 0 {
		return h.renderAccount(c, http.StatusUnprocessableEntity, f)
	}

	attempt, refused, err := h.throttle.begin(ctx, throttleKey{scope: scopePassword, key: "password:" + strconv.FormatInt(u.ID, 10),
		max: maxPasswordFailures, window: throttleWindow, clear: true})
	if err != nil {
		return err
	}
	if refused != nil {
		f.Errors["form"] = throttledText(c, refused)
		return h.renderAccount(c, http.StatusTooManyRequests, f)
	}
	err = h.store.ChangePassword(ctx, actor(c), u.ID, form.Current, form.New)
	switch {
	case errors.Is(err, models.ErrInvalidPassword):
		h.log.InfoContext(ctx, "password change refused: wrong current password", "user", u.ID, "ip", c.RealIP())
		f.Errors["current_password"] = loc(c).T("account.wrong_current")
		return h.renderAccount(c, http.StatusUnprocessableEntity, f)
	case err != nil:
		if uerr := attempt.undo(); uerr != nil {
			h.log.ErrorContext(ctx, "password throttle: taking back an attempt failed", "err", uerr)
		}
		return err
	}
	if err := attempt.succeeded(); err != nil {
		h.log.ErrorContext(ctx, "password throttle: taking back a good attempt failed", "err", err)
	}

	// Every session of the user is gone, this one too; this browser goes
	// on in a new one. The new password voids every device cookie of the
	// user (device_cookie.go): this browser, the one that knew the
	// current password, gets a new one.
	if u, err = h.store.UserByID(ctx, u.ID); err != nil {
		return err
	}
	if err := h.startSession(c, u); err != nil {
		return err
	}
	h.setDeviceCookie(c, u)
	h.setFlash(c, "success", loc(c).T("account.changed"))
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/")
}

// saveLanguage is POST /account/language: the signed-in user's own
// language ("" leaves it to the browser). The next page, and the flash
// that says so, come in the new language.
func (h *Handler) saveLanguage(c echo.Context) error {
	u := currentUser(c)
	tag := strings.TrimSpace(c.FormValue("language"))
	if _, ok := i18n.Lookup(tag); !ok && tag != "" {
		return h.renderAccount(c, http.StatusUnprocessableEntity,
			views.PasswordForm{Language: views.LanguageChoice{Error: loc(c).T("account.language_unknown")}})
	}
	if err := h.store.SetUserLanguage(c.Request().Context(), actor(c), u.ID, tag); err != nil {
		return err
	}
	u.Language = tag
	setLocalizer(c, tag)
	h.setFlash(c, "success", loc(c).T("account.language_saved"))
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/account/password#language")
}
