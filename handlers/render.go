package handlers

import (
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"whapidesk/provision"
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

// formatTime shows a time to admins, in UTC.
func formatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

// timeLeft says how long until till, in whole days: "3 days left",
// "less than a day left" or "expired".
func timeLeft(till *time.Time, now time.Time) string {
	if till == nil {
		return ""
	}
	left := till.Sub(now)
	switch {
	case left <= 0:
		return "expired"
	case left < 24*time.Hour:
		return "less than a day left"
	}
	return countOf(provision.DaysLeft(till, now), "day left", "days left")
}
