package handlers

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

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
	return h.render(c, http.StatusOK, views.LoginPage(h.page(c, loc(c).T("auth.sign_in")), views.LoginForm{Next: safeNext(c.QueryParam("next"))}))
}

// safeNext keeps a post-login redirect on our own site: a plain path, no
// scheme or host, no control characters or backslashes (browsers drop tabs
// and read "\\" as "/", which would turn "/\t/evil" into "//evil").
func safeNext(next string) string {
	if len(next) > 1024 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return ""
	}
	for i := 0; i < len(next); i++ {
		if b := next[i]; b < 0x20 || b == 0x7f || b == '\\' {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || strings.HasPrefix(u.Path, "//") || strings.ContainsRune(u.Path, '\\') {
		return ""
	}
	return next
}

func (h *Handler) login(c echo.Context) error {
	ctx := c.Request().Context()
	in := parseLoginForm(c)
	email := in.Email
	form := views.LoginForm{Email: email, Next: in.Next}
	// A browser with a valid device cookie for this account is throttled
	// on its own; any other counts against the account (for unknown
	// browsers) and its address (throttle.go).
	device := h.trustedDevice(c, email)
	keys := []throttleKey{accountKey(email), addressKey(c.RealIP())}
	if device != "" {
		keys = []throttleKey{deviceKey(device)}
	}
	// The attempt is counted before the password is checked, so a burst of
	// parallel guesses cannot slip past the limit while bcrypt runs.
	attempt, refused, err := h.throttle.begin(ctx, keys...)
	if err != nil {
		return err
	}
	if refused != nil {
		form.Error = throttledText(c, refused)
		log := []any{"ip", c.RealIP(), "limit", string(refused.key.scope), "wait", refused.wait.Round(time.Second).String(), "trusted_device", device != ""}
		if refused.key.scope == scopeAccount {
			log = append(log, "account", limitText(email, 254))
		}
		h.log.WarnContext(ctx, "login throttled", log...)
		return h.render(c, http.StatusTooManyRequests, views.LoginPage(h.page(c, loc(c).T("auth.sign_in")), form))
	}
	u, err := h.store.Authenticate(ctx, email, in.Password)
	if err != nil {
		if !errors.Is(err, models.ErrInvalidPassword) {
			if uerr := attempt.undo(); uerr != nil {
				h.log.ErrorContext(ctx, "login throttle: taking back an attempt failed", "err", uerr)
			}
			return err
		}
		h.log.InfoContext(ctx, "login failed", "ip", c.RealIP(), "trusted_device", device != "")
		form.Error = loc(c).T("auth.wrong")
		return h.render(c, http.StatusUnauthorized, views.LoginPage(h.page(c, loc(c).T("auth.sign_in")), form))
	}
	if err := attempt.succeeded(); err != nil {
		// The sign-in was good; at worst it still counts as a failure.
		h.log.ErrorContext(ctx, "login throttle: taking back a good sign-in failed", "err", err)
	}
	h.setDeviceCookie(c, u)

	if err := h.startSession(c, u); err != nil {
		return err
	}
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

// startSession gives this browser a new session for u: a new id (the old
// row deleted, so a fixated or stolen id is worthless), none of the old
// values, a new CSRF token. The caller saves it.
func (h *Handler) startSession(c echo.Context, u *models.User) error {
	s := currentSession(c)
	if err := h.sessions.renew(c.Request().Context(), s); err != nil {
		return err
	}
	clear(s.Values)
	s.Values[sessUserID] = u.ID
	s.Values[sessCSRF] = randomString(32)
	setUser(c, u)
	markDirty(c)
	return nil
}

// limitText cuts s to at most n bytes, for a log line.
func limitText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// retryAfter sets the Retry-After header of a throttled answer and says the
// wait in whole minutes ("3 minutes"), in the reader's language.
func retryAfter(c echo.Context, wait time.Duration) string {
	c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	return waitText(loc(c), wait)
}

func (h *Handler) showLogoutPage(c echo.Context) error {
	if currentUser(c) == nil {
		return redirect(c, "/login")
	}
	return h.render(c, http.StatusOK, views.LogoutPage(h.page(c, loc(c).T("auth.logout"))))
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
	if err := s.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, "/login")
}
