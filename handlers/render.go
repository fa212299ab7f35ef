package handlers

import (
	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"whapidesk/views"
)

// render saves the session if it changed (flash, CSRF token) and writes a
// templ component.
func (h *Handler) render(c echo.Context, status int, t templ.Component) error {
	if err := h.saveSession(c); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return t.Render(c.Request().Context(), c.Response())
}

// page builds the layout data of the current request.
func (h *Handler) page(c echo.Context, title string) views.Page {
	p := views.Page{Brand: h.cfg.Brand, Title: title, CSRF: h.csrfToken(c), Version: h.cfg.Version}
	if u := currentUser(c); u != nil {
		p.User = &views.UserInfo{Email: u.Email, IsAdmin: u.IsAdmin()}
	}
	if kind, text := popFlash(c); text != "" {
		p.Flash = &views.Flash{Kind: kind, Text: text}
	}
	return p
}

// fromHTMX reports whether HTMX sent the request.
func fromHTMX(c echo.Context) bool {
	return c.Request().Header.Get("HX-Request") == "true"
}
