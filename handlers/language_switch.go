package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
)

// langCookieLife is how long a language picked on the login page is kept.
const langCookieLife = 365 * 24 * time.Hour

// switchLanguage is POST /language, the login page's (and the password
// pages') language switch: a plain form, so it works before sign-in and
// without JavaScript. It keeps the language in the lang cookie (which
// language.go reads for every request after a signed-in user's own
// setting) and goes back to the page it was sent from. An unknown tag is
// refused and sets nothing.
func (h *Handler) switchLanguage(c echo.Context) error {
	tag := strings.TrimSpace(c.FormValue("lang"))
	l, ok := i18n.Lookup(tag)
	if !ok {
		return echo.NewHTTPError(http.StatusBadRequest, loc(c).T("langswitch.unknown"))
	}
	c.SetCookie(&http.Cookie{Name: langCookie, Value: l.Tag, Path: "/", MaxAge: int(langCookieLife / time.Second),
		HttpOnly: true, Secure: h.cfg.SecureCookies || c.Request().TLS != nil, SameSite: http.SameSiteLaxMode})
	back := safeNext(c.FormValue("back"))
	if back == "" {
		back = "/login"
	}
	return redirect(c, back)
}
