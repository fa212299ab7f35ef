package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// setPasswordPrefix starts every set-password link (the invitation's).
// Its token is a credential: logPath keeps it out of the logs.
const setPasswordPrefix = "/set-password/"

// isSetPassword reports whether the request is for a set-password link.
func isSetPassword(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, setPasswordPrefix) }

// requestOrigin is the scheme and host the request came to: where a mailed
// link or a connect link points when WHAPIDESK_PUBLIC_URL is not set (the
// request that made it names it).
func requestOrigin(c echo.Context) string {
	return c.Scheme() + "://" + c.Request().Host
}

// linkProblem is what the page says about a link that does not work, and
// its status; ok is false for any other error.
func linkProblem(c echo.Context, err error) (string, int, bool) {
	switch {
	case errors.Is(err, models.ErrTokenInvalid), errors.Is(err, models.ErrNotFound):
		return loc(c).T("password.link_invalid"), http.StatusNotFound, true
	case errors.Is(err, models.ErrTokenExpired):
		return loc(c).T("password.link_expired"), http.StatusGone, true
	case errors.Is(err, models.ErrTokenUsed):
		return loc(c).T("password.link_used"), http.StatusGone, true
	}
	return "", 0, false
}

func (h *Handler) setPasswordPage(c echo.Context, reset bool) views.Page {
	title := loc(c).T("password.choose_yours")
	if reset {
		title = loc(c).T("password.choose_new")
	}
	p := h.page(c, title)
	p.User = nil // the page shows nothing of whoever is signed in on this browser
	return p
}

// showSetPasswordPage is GET /set-password/:token: the form, or why the
// link does not work (and nothing else).
func (h *Handler) showSetPasswordPage(c echo.Context) error {
	token := c.Param("token")
	u, reset, err := h.store.PasswordLinkUser(c.Request().Context(), token)
	if problem, status, ok := linkProblem(c, err); ok {
		return h.render(c, status, views.SetPasswordPage(h.setPasswordPage(c, false), views.SetPasswordView{Problem: problem}))
	}
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.SetPasswordPage(h.setPasswordPage(c, reset),
		views.SetPasswordView{Email: u.Email, Action: setPasswordPrefix + token, Reset: reset}))
}

// setPasswordFromLink is POST /set-password/:token: sets the password,
// spends the link and ends every session of the user.
func (h *Handler) setPasswordFromLink(c echo.Context) error {
	ctx := c.Request().Context()
	token := c.Param("token")
	u, reset, err := h.store.PasswordLinkUser(ctx, token)
	if problem, status, ok := linkProblem(c, err); ok {
		return h.render(c, status, views.SetPasswordPage(h.setPasswordPage(c, false), views.SetPasswordView{Problem: problem}))
	}
	if err != nil {
		return err
	}
	form := parsePasswordForm(c)
	again := func(errs map[string]string) error {
		return h.render(c, http.StatusUnprocessableEntity, views.SetPasswordPage(h.setPasswordPage(c, reset),
			views.SetPasswordView{Email: u.Email, Action: setPasswordPrefix + token, Form: views.PasswordForm{Errors: errs}, Reset: reset}))
	}
	if errs := form.newErrors(map[string]string{}, u.Email); len(errs) > 0 {
		return again(errs)
	}
	_, err = h.svc.SetPasswordFromLink(ctx, token, form.New)
	var fe provision.FieldErrors
	if errors.As(err, &fe) {
		return again(map[string]string{"new_password": fe["password"]})
	}
	if problem, status, ok := linkProblem(c, err); ok {
		return h.render(c, status, views.SetPasswordPage(h.setPasswordPage(c, false), views.SetPasswordView{Problem: problem}))
	}
	if err != nil {
		return err
	}
	h.log.Info("password set from an e-mailed link", "user", u.ID, "reset", reset)
	return h.render(c, http.StatusOK, views.SetPasswordPage(h.setPasswordPage(c, reset), views.SetPasswordView{Done: true, Reset: reset}))
}

// resendInvitation sends a customer without a password a new invitation;
// the older links stop working.
func (h *Handler) resendInvitation(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	err = h.svc.ResendInvitation(c.Request().Context(), actor(c), id, requestOrigin(c))
	switch {
	case errors.Is(err, models.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound)
	case errors.Is(err, models.ErrAlreadyActive):
		h.setFlash(c, "info", loc(c).T("password.invite_not_needed"))
	case err != nil:
		return err
	default:
		h.setFlash(c, "success", loc(c).T("password.invite_resent"))
	}
	return h.backToUser(c, id)
}
