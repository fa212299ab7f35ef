package handlers

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"whapidesk/models"
)

// Cookie names: the session (signed id of a server-side session, only once
// signed in) and the signed CSRF token of forms shown before sign-in.
const (
	sessionCookie  = "sid"
	preLoginCookie = "csrf"
)

type ctxKey int

const (
	ctxUser ctxKey = iota
	ctxSession
	ctxAPIKey
)

// reqSession is the request's session and whether its values changed.
type reqSession struct {
	s     *sessions.Session
	dirty bool
	// preLogin is the CSRF token of a visitor who is not signed in.
	preLogin string
}

// currentUser returns the signed-in user, or nil.
func currentUser(c echo.Context) *models.User {
	u, _ := c.Request().Context().Value(ctxUser).(*models.User)
	return u
}

func requestSession(c echo.Context) *reqSession {
	rs, _ := c.Request().Context().Value(ctxSession).(*reqSession)
	return rs
}

// currentSession returns the request's session (nil on API-key requests).
func currentSession(c echo.Context) *sessions.Session {
	if rs := requestSession(c); rs != nil {
		return rs.s
	}
	return nil
}

// markDirty notes that the session's values changed and must be saved.
func markDirty(c echo.Context) {
	if rs := requestSession(c); rs != nil {
		rs.dirty = true
	}
}

// viaAPIKey reports whether the request authenticated with an API key.
func viaAPIKey(c echo.Context) bool {
	v, _ := c.Request().Context().Value(ctxAPIKey).(bool)
	return v
}

func withValue(c echo.Context, k ctxKey, v any) {
	c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), k, v)))
}

// isAPI reports whether the request is for the JSON API.
func isAPI(c echo.Context) bool {
	p := c.Request().URL.Path
	return p == "/api" || strings.HasPrefix(p, "/api/")
}

// actor is the current user as an audit actor.
func actor(c echo.Context) models.Actor {
	a := models.Actor{IP: c.RealIP()}
	if u := currentUser(c); u != nil {
		id := u.ID
		a.UserID = &id
		a.Email = u.Email
	}
	return a
}

// requestLogger logs one line per request: method, path, status, duration.
// Never a query string, header or body: they may hold secrets.
func (h *Handler) requestLogger() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod:   true,
		LogURIPath:  true,
		LogStatus:   true,
		LogLatency:  true,
		LogRemoteIP: true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			if v.Status >= 500 {
				level = slog.LevelError
			}
			path := v.URIPath
			if isHook(c.Request()) || isConnectLink(c.Request()) || isSetPassword(c.Request()) {
				path = logPath(c.Request()) // never a webhook's secret, nor a connect link's or a set-password link's token
			}
			h.log.LogAttrs(c.Request().Context(), level, "request",
				slog.String("method", v.Method), slog.String("path", path),
				slog.Int("status", v.Status), slog.Duration("duration", v.Latency),
				slog.String("ip", v.RemoteIP))
			return nil
		},
	})
}

// contentSecurityPolicy allows nothing inline and nothing from elsewhere.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// setSecurityHeaders sets on hd the security headers every response
// carries. Cache-Control: no-store on everything but the static files (a
// page may show a balance or a token's hint; a redirect or a 404 is not
// worth keeping either). The path is cleaned first, so /static/../x is not
// a static file.
func (h *Handler) setSecurityHeaders(hd http.Header, r *http.Request) {
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if r.TLS != nil || h.cfg.SecureCookies { // served over HTTPS (maybe behind a proxy)
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if !strings.HasPrefix(path.Clean("/"+r.URL.Path), "/static/") {
		hd.Set("Cache-Control", "no-store")
	}
}

// securityHeaders sets the security headers before Echo routes the
// request, so its own answers (404, 405, errors) carry them too.
func (h *Handler) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h.setSecurityHeaders(c.Response().Header(), c.Request())
		return next(c)
	}
}

// Wrap is the outermost handler of the server: next (the mux that holds
// the routes of Routes) with the security headers on every answer, the
// mux's own included — its redirects of unclean paths (GET
// /static/../main.go → 307), its 404s, and what is mounted beside Echo.
// Only what net/http answers before any handler runs (a malformed request
// line, headers too large) goes without them.
func (h *Handler) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.setSecurityHeaders(w.Header(), r)
		next.ServeHTTP(w, r)
	})
}

// loadSession loads the session and, if it names an enabled user, that user.
func (h *Handler) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s, err := h.sessions.Get(c.Request(), sessionCookie)
		if err != nil {
			return err
		}
		withValue(c, ctxSession, &reqSession{s: s})
		if uid, ok := s.Values[sessUserID].(int64); ok {
			u, err := h.store.UserByID(c.Request().Context(), uid)
			switch {
			case err == nil && !u.Disabled:
				setUser(c, u)
			case err == nil || errors.Is(err, models.ErrNotFound):
				// The account is gone or disabled: end the session.
				s.Options.MaxAge = -1
				if err := s.Save(c.Request(), c.Response()); err != nil {
					return err
				}
				s.Values = map[any]any{}
				s.ID = ""
				s.Options.MaxAge = 0
			default:
				return err
			}
		}
		return next(c)
	}
}

// apiAuth authenticates /api/* by "Authorization: Bearer <api key>" or,
// failing that, by the session cookie.
func (h *Handler) apiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if auth := c.Request().Header.Get("Authorization"); auth != "" {
			key, ok := strings.CutPrefix(auth, "Bearer ")
			if !ok {
				return apiError(http.StatusUnauthorized, "unauthorized", loc(c).T("api.bearer"))
			}
			u, err := h.store.UserByAPIKey(c.Request().Context(), strings.TrimSpace(key))
			if err != nil {
				if errors.Is(err, models.ErrInvalidAPIKey) {
					return apiError(http.StatusUnauthorized, "unauthorized", loc(c).T("api.invalid_key"))
				}
				return err
			}
			// The user and the key's flag in one step: one copy of the
			// request, not two, on every API call.
			r := c.Request()
			c.SetRequest(r.WithContext(context.WithValue(context.WithValue(r.Context(), ctxUser, u), ctxAPIKey, true)))
			if u.Language != "" {
				setLocalizer(c, u.Language)
			}
			return next(c)
		}
		return h.loadSession(next)(c)
	}
}

// requireRole lets through only signed-in users of role; others get the
// login page (pages) or 401/403 (API, and pages of the wrong role).
func (h *Handler) requireRole(role models.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u := currentUser(c)
			if u == nil {
				if isAPI(c) {
					return apiError(http.StatusUnauthorized, "unauthorized", loc(c).T("api.sign_in"))
				}
				if fromHTMX(c) {
					// An HTMX poll after the session ended: send the whole
					// page to the login, not the login into a page fragment.
					c.Response().Header().Set("HX-Redirect", "/login")
					return c.NoContent(http.StatusUnauthorized)
				}
				return redirect(c, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
			}
			if u.Role != role {
				if isAPI(c) {
					return apiError(http.StatusForbidden, "forbidden", loc(c).T("api.forbidden"))
				}
				return echo.NewHTTPError(http.StatusForbidden)
			}
			return next(c)
		}
	}
}

// csrfToken returns the token forms of this page must carry: the
// session's once signed in, else a pre-login token kept in a signed cookie
// (so visitors who are not signed in cost no database row).
func (h *Handler) csrfToken(c echo.Context) string {
	rs := requestSession(c)
	if rs == nil {
		return ""
	}
	if currentUser(c) != nil {
		if t, ok := rs.s.Values[sessCSRF].(string); ok && t != "" {
			return t
		}
		t := randomString(32)
		rs.s.Values[sessCSRF] = t
		rs.dirty = true
		return t
	}
	if rs.preLogin != "" {
		return rs.preLogin
	}
	t := h.preLoginToken(c)
	if t == "" {
		t = randomString(32)
		if enc, err := h.sessions.codec.Encode(preLoginCookie, t); err == nil {
			c.SetCookie(&http.Cookie{Name: preLoginCookie, Value: enc, Path: "/", MaxAge: 12 * 3600,
				HttpOnly: true, Secure: h.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
		}
	}
	rs.preLogin = t
	return t
}

// preLoginToken reads the signed pre-login CSRF cookie ("" if absent or forged).
func (h *Handler) preLoginToken(c echo.Context) string {
	ck, err := c.Cookie(preLoginCookie)
	if err != nil {
		return ""
	}
	var t string
	if h.sessions.codec.Decode(preLoginCookie, ck.Value, &t) != nil {
		return ""
	}
	return t
}

// csrf refuses state-changing requests made with cookies unless they carry
// the right token (form field _csrf of the body, or header X-CSRF-Token;
// never the query string) and come from our own origin. API-key requests carry no cookie and need no token.
func (h *Handler) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if viaAPIKey(c) {
			return next(c)
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
			return csrfRefused(c)
		}
		if origin := r.Header.Get("Origin"); origin != "" && !sameHost(origin, r.Host) {
			return csrfRefused(c)
		}
		var want string
		if currentUser(c) != nil {
			want, _ = currentSession(c).Values[sessCSRF].(string)
		} else {
			want = h.preLoginToken(c)
		}
		// The token comes from the header or the form body, never from
		// the query string (it would end up in logs, the history and
		// Referer headers) nor from a cookie (a cookie is sent by any
		// site's form).
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			got = r.PostFormValue("_csrf")
		}
		if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
			return csrfRefused(c)
		}
		return next(c)
	}
}

// csrfRefused is what a refused cross-site or token-less post gets, in
// the reader's language: a 403 page, or the API's csrf error.
func csrfRefused(c echo.Context) error {
	if isAPI(c) {
		return apiError(http.StatusForbidden, "csrf", loc(c).T("api.csrf"))
	}
	return echo.NewHTTPError(http.StatusForbidden, loc(c).T("errors.page.csrf"))
}

// saveSession writes the session of a signed-in user if its values changed.
func (h *Handler) saveSession(c echo.Context) error {
	rs := requestSession(c)
	if rs == nil || !rs.dirty || currentUser(c) == nil {
		return nil
	}
	rs.dirty = false
	return rs.s.Save(c.Request(), c.Response())
}

// redirect answers a form post with 303 See Other (HTMX follows it).
func redirect(c echo.Context, to string) error {
	return c.Redirect(http.StatusSeeOther, to)
}

// sameHost reports whether an Origin header names this host. The scheme is
// not compared: behind a TLS proxy the app may see plain HTTP.
func sameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}
