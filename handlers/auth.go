package handlers

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/views"
)

func (h *Handler) home(c echo.Context) error {
	u := currentUser(c)
	switch {
	case u == nil:
		return redirect(c, "/login")
	case u.IsAdmin():
		return redirect(c, "/admin")
	}
	return redirect(c, "/app")
}

func (h *Handler) showLoginPage(c echo.Context) error {
	if currentUser(c) != nil {
		return h.home(c)
	}
	return render(c, http.StatusOK, views.LoginPage(h.page(c, "Sign in"), views.LoginForm{Next: safeNext(c.QueryParam("next"))}))
}

// safeNext keeps a post-login redirect on our own site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return ""
	}
	return next
}

func (h *Handler) login(c echo.Context) error {
	ctx := c.Request().Context()
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	password := c.FormValue("password")
	form := views.LoginForm{Email: email, Next: safeNext(c.FormValue("next"))}
	ipKey, accountKey := "ip:"+c.RealIP(), "account:"+email

	for _, k := range []struct {
		key string
		max int
	}{{accountKey, maxFailuresAccount}, {ipKey, maxFailuresIP}} {
		if blocked, wait := h.throttle.blocked(k.key, k.max); blocked {
			minutes := int(math.Ceil(wait.Minutes()))
			form.Error = fmt.Sprintf("Too many failed sign-ins. Try again in %d minute%s.", minutes, plural(minutes))
			h.log.WarnContext(ctx, "login throttled", "ip", c.RealIP())
			c.Response().Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
			return render(c, http.StatusTooManyRequests, views.LoginPage(h.page(c, "Sign in"), form))
		}
	}
	u, err := h.store.Authenticate(ctx, email, password)
	if err != nil {
		if !errors.Is(err, models.ErrInvalidPassword) {
			return err
		}
		h.throttle.fail(accountKey, ipKey)
		h.log.InfoContext(ctx, "login failed", "ip", c.RealIP())
		form.Error = "Wrong email or password."
		return render(c, http.StatusUnauthorized, views.LoginPage(h.page(c, "Sign in"), form))
	}
	h.throttle.reset(accountKey)

	s := currentSession(c)
	if err := h.sessions.renew(ctx, s); err != nil {
		return err
	}
	for k := range s.Values {
		delete(s.Values, k)
	}
	s.Values[sessUserID] = u.ID
	s.Values[sessCSRF] = randomString(32)
	withValue(c, ctxUser, u)
	if err := h.store.RecordAudit(ctx, actor(c), "user.login", u.Email, ""); err != nil {
		return err
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	to := form.Next
	if to == "" || (strings.HasPrefix(to, "/admin") && !u.IsAdmin()) || (strings.HasPrefix(to, "/app") && u.IsAdmin()) {
		to = "/"
	}
	return redirect(c, to)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (h *Handler) showLogoutPage(c echo.Context) error {
	if currentUser(c) == nil {
		return redirect(c, "/login")
	}
	return render(c, http.StatusOK, views.LogoutPage(h.page(c, "Log out")))
}

// logout ends the session server-side and clears the cookie.
func (h *Handler) logout(c echo.Context) error {
	s := currentSession(c)
	if u := currentUser(c); u != nil {
		if err := h.store.RecordAudit(c.Request().Context(), actor(c), "user.logout", u.Email, ""); err != nil {
			return err
		}
	}
	s.Options.MaxAge = -1
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/login")
}
