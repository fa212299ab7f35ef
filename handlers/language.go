package handlers

import (
	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
)

// langCookie keeps the language a visitor picked before signing in (the
// login page's switch); a signed-in user's own setting comes first.
const langCookie = "lang"

// localize is the middleware that gives every request its language before
// any handler runs: the lang cookie, else Accept-Language, else English.
// Signing in (or an API key) replaces it with the user's own setting,
// when they have one (setUser).
func (h *Handler) localize(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		setLocalizer(c, "")
		c.Response().Header().Add("Vary", "Accept-Language")
		return next(c)
	}
}

// setLocalizer puts the language for userLang (the user's setting, "" for
// none) into the request's context, where templates (templ's ctx) and
// loc find it.
func setLocalizer(c echo.Context, userLang string) {
	pick := userLang
	if _, ok := i18n.Lookup(pick); !ok {
		if ck, err := c.Cookie(langCookie); err == nil {
			pick = ck.Value
		}
	}
	l := i18n.Match(pick, c.Request().Header.Get("Accept-Language"))
	c.SetRequest(c.Request().WithContext(i18n.With(c.Request().Context(), i18n.For(l.Tag))))
}

// setUser makes u the request's user, speaking u's language.
func setUser(c echo.Context, u *models.User) {
	withValue(c, ctxUser, u)
	setLocalizer(c, u.Language)
}

// loc is the request's localizer: loc(c).T("id", …) for a flash, a form
// error or a JSON message in the reader's language.
func loc(c echo.Context) *i18n.Localizer {
	return i18n.From(c.Request().Context())
}
