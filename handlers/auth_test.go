package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"whapidesk/models"
)

func TestLoginStartsANewServerSideSession(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	c := a.client()

	c.csrf("/login")
	if c.cookie(sessionCookie) != nil {
		t.Fatal("a visitor who is not signed in got a session (and a database row)")
	}
	c.login("Admin@Example.com ") // case and spaces do not matter
	first := c.cookie(sessionCookie)
	if first == nil {
		t.Fatal("login set no session cookie")
	}
	if r := c.get("/admin"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "admin@example.com") {
		t.Fatalf("GET /admin after login: %d", r.StatusCode)
	}

	// Signing in again issues a new id; the old one is worth nothing now.
	r := c.submit("/admin", "/login", url.Values{"email": {"admin@example.com"}, "password": {testPassword}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("second login: %d", r.StatusCode)
	}
	second := c.cookie(sessionCookie)
	if second == nil || second.Value == first.Value {
		t.Fatal("login kept the previous session id: it must issue a new one")
	}
	old := a.client()
	u, _ := url.Parse(a.srv.URL)
	old.http.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: first.Value}})
	if r := old.get("/admin"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the previous session id still works: %d", r.StatusCode)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/admin/settings/whapi": "/admin/settings/whapi",
		"/app?x=1":              "/app?x=1",
		"":                      "",
		"https://evil.example":  "",
		"//evil.example":        "",
		"/\\evil.example":       "",
		"/\t/evil.example":      "",
		"/\n/evil.example":      "",
		"/%5C/evil.example":     "",
		"javascript:alert(1)":   "",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	for _, tt := range []struct {
		name   string
		secure bool
	}{{"http", false}, {"https", true}} {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t, func(o *appOptions) { o.handler.SecureCookies = tt.secure })
			a.newUser(models.RoleAdmin, "admin@example.com")
			c := a.client()
			form := url.Values{"email": {"admin@example.com"}, "password": {testPassword}, "_csrf": {c.csrf("/login")}}
			r := c.postForm("/login", form)
			var sc *http.Cookie
			for _, ck := range r.Cookies() {
				if ck.Name == sessionCookie {
					sc = ck
				}
			}
			if sc == nil {
				t.Fatal("no session cookie set at login")
			}
			if !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Secure != tt.secure {
				t.Fatalf("cookie attributes: HttpOnly=%v SameSite=%v Secure=%v", sc.HttpOnly, sc.SameSite, sc.Secure)
			}
			// The cookie holds a signed id only: nothing of the user.
			if strings.Contains(sc.Value, "admin") || len(sc.Value) > 200 {
				t.Fatalf("cookie value looks like more than a signed id: %q", sc.Value)
			}
		})
	}
}

func TestWrongPasswordIsRefusedWithoutSayingWhich(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	for _, email := range []string{"admin@example.com", "nobody@example.com"} {
		c := a.client()
		r := c.submit("/login", "/login", url.Values{"email": {email}, "password": {"wrong password!"}})
		if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "Wrong email or password.") {
			t.Fatalf("%s: status %d", email, r.StatusCode)
		}
		if c.get("/admin").StatusCode != http.StatusSeeOther {
			t.Fatal("a failed login signed in")
		}
	}
}

func TestDisabledUserCannotSignIn(t *testing.T) {
	a := newTestApp(t)
	u := a.newUser(models.RoleAdmin, "admin@example.com")
	c := a.client()
	c.login("admin@example.com")
	if err := a.store.SetDisabled(context.Background(), models.SystemActor, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if r := c.get("/admin"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("a disabled user's session still works: %d", r.StatusCode)
	}
	r := a.client().submit("/login", "/login", url.Values{"email": {"admin@example.com"}, "password": {testPassword}})
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a disabled user signed in: %d", r.StatusCode)
	}
}

func TestLogoutEndsTheSessionServerSide(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	c := a.client()
	c.login("admin@example.com")
	stolen := c.cookie(sessionCookie).Value

	r := c.submit("/admin", "/logout", nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	// Someone who kept the cookie gets nothing: the session is gone from the DB.
	thief := a.client()
	u, _ := url.Parse(a.srv.URL)
	thief.http.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: stolen}})
	if r := thief.get("/admin"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the session survived logout: %d", r.StatusCode)
	}
}

func TestLoginThrottlePerAccountHoldsAgainstForgedForwardedFor(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	c := a.client()
	for i := range maxFailuresAccount {
		c.header.Set("X-Forwarded-For", "203.0.113."+string(rune('1'+i)))
		c.header.Set("X-Real-IP", "203.0.113."+string(rune('1'+i)))
		r := c.submit("/login", "/login", url.Values{"email": {"admin@example.com"}, "password": {"guess"}})
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, r.StatusCode)
		}
	}
	// Even the right password is refused now, whatever the headers claim.
	c.header.Set("X-Forwarded-For", "198.51.100.77")
	r := c.submit("/login", "/login", url.Values{"email": {"admin@example.com"}, "password": {testPassword}})
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many failed sign-ins") {
		t.Fatalf("after %d failures: %d", maxFailuresAccount, r.StatusCode)
	}
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After on a throttled login")
	}
}

func TestLoginThrottlePerIP(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	c := a.client()
	// Spread the failures over many accounts so no account limit is hit.
	for i := range maxFailuresIP {
		email := "guess" + string(rune('a'+i)) + "@example.com"
		c.header.Set("X-Forwarded-For", "203.0.113.9")
		r := c.submit("/login", "/login", url.Values{"email": {email}, "password": {"guess"}})
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, r.StatusCode)
		}
	}
	c.header.Set("X-Forwarded-For", "198.51.100.1")
	r := c.submit("/login", "/login", url.Values{"email": {"admin@example.com"}, "password": {testPassword}})
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the IP limit did not hold: %d", r.StatusCode)
	}
}

func TestCSRF(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	c := a.client()
	c.login("admin@example.com")
	token := c.csrf("/admin/settings/whapi")
	threshold := url.Values{"low_balance_threshold": {"42"}}

	for _, tt := range []struct {
		name   string
		token  string
		header map[string]string
	}{
		{"no token", "", nil},
		{"wrong token", "x" + token, nil},
		{"cross-site fetch", token, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"same-site fetch", token, map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"foreign origin", token, map[string]string{"Origin": "https://evil.example"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"low_balance_threshold": threshold["low_balance_threshold"]}
			if tt.token != "" {
				form.Set("_csrf", tt.token)
			}
			for k, v := range tt.header {
				c.header.Set(k, v)
			}
			defer func() {
				for k := range tt.header {
					c.header.Del(k)
				}
			}()
			r := c.postForm("/admin/settings/whapi", form)
			if r.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", r.StatusCode)
			}
			st, err := a.store.Settings(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.LowBalanceThreshold == 42 {
				t.Fatal("a refused post changed the settings")
			}
		})
	}

	// The same form from our own page works.
	c.header.Set("Sec-Fetch-Site", "same-origin")
	c.header.Set("Origin", a.srv.URL)
	form := url.Values{"low_balance_threshold": {"42"}, "partner_token": {a.partnerToken}, "_csrf": {token}}
	if r := c.postForm("/admin/settings/whapi", form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin post with token: %d %s", r.StatusCode, r.body)
	}
	if st, _ := a.store.Settings(context.Background()); st.LowBalanceThreshold != 42 {
		t.Fatal("the accepted post did not save")
	}
}

func TestSecurityHeadersOnEveryKindOfResponse(t *testing.T) {
	a := newTestApp(t)
	c := a.client()
	for _, path := range []string{"/login", "/admin", "/no-such-page", "/api/settings/whapi", "/static/css/app.css", "/healthz"} {
		r := c.get(path)
		h := r.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
}

func TestRoles(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	a.newUser(models.RoleCustomer, "customer@example.com")
	anon, admin, customer := a.client(), a.client(), a.client()
	admin.login("admin@example.com")
	customer.login("customer@example.com")
	for _, tt := range []struct {
		path                  string
		anon, admin, customer int
	}{
		{"/admin", 303, 200, 403},
		{"/admin/settings/whapi", 303, 200, 403},
		{"/admin/settings/whapi/remove", 303, 303, 403}, // nothing to remove yet → back to settings
		{"/app", 303, 403, 200},
		{"/api/settings/whapi", 401, 200, 403},
	} {
		for _, who := range []struct {
			c    *testClient
			want int
			name string
		}{{anon, tt.anon, "anonymous"}, {admin, tt.admin, "admin"}, {customer, tt.customer, "customer"}} {
			if r := who.c.get(tt.path); r.StatusCode != who.want {
				t.Errorf("%s GET %s: %d, want %d", who.name, tt.path, r.StatusCode, who.want)
			}
		}
	}
}

func TestHTMXRequestAfterSessionEndRedirectsTheWholePage(t *testing.T) {
	a := newTestApp(t)
	c := a.client()
	c.header.Set("HX-Request", "true")
	r := c.get("/app")
	if r.StatusCode != http.StatusUnauthorized || r.Header.Get("HX-Redirect") != "/login" || strings.Contains(r.body, "Sign in") {
		t.Fatalf("HTMX without a session: %d %q", r.StatusCode, r.Header.Get("HX-Redirect"))
	}
	c.header.Del("HX-Request")
	if r := c.get("/app"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("plain request without a session: %d", r.StatusCode)
	}
}
