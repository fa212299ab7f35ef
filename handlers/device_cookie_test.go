package handlers

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"whapidesk/models"
)

// behindProxy: the app trusts loopback as its reverse proxy, so each test
// client names its own address in X-Forwarded-For.
func behindProxy(o *appOptions) {
	for _, cidr := range []string{"127.0.0.0/8", "::1/128"} {
		_, n, _ := net.ParseCIDR(cidr)
		o.handler.TrustedProxies = append(o.handler.TrustedProxies, n)
	}
}

// stopThrottleClock stops the clock of the app's sign-in throttle, so that
// a test's waits do not run out while it works, however slow the machine.
func (a *testApp) stopThrottleClock() {
	t := a.h.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	at := t.now()
	t.now = func() time.Time { return at }
}

// from makes c a client at address ip (behind the trusted proxy).
func (c *testClient) from(ip string) *testClient {
	c.header.Set("X-Forwarded-For", ip)
	return c
}

// signIn posts the sign-in form.
func (c *testClient) signIn(email, password string) result {
	c.t.Helper()
	return c.submit("/login", "/login", url.Values{"email": {email}, "password": {password}})
}

// withCookie is a new browser at ip holding only the given device cookie.
func (a *testApp) withCookie(ip string, ck *http.Cookie) *testClient {
	c := a.client().from(ip)
	u, _ := url.Parse(a.srv.URL + "/login")
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/login"}})
	return c
}

// deviceCookieOf returns the device cookie c holds for the sign-in page.
func (c *testClient) deviceCookieOf() *http.Cookie {
	c.t.Helper()
	u, _ := url.Parse(c.app.srv.URL + "/login")
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == deviceCookie {
			return ck
		}
	}
	c.t.Fatal("no device cookie")
	return nil
}

// The proof: a burst of wrong passwords for the admin from 20
// client addresses does not stop the owner, whose browser signed in before
// and holds its device cookie; a browser without one is slowed with a
// clear "try again in …"; a forged cookie, another account's cookie and a
// cookie from before a password change exempt nothing.
func TestLockoutBurstDoesNotLockOutTheOwnersBrowser(t *testing.T) {
	a := newTestApp(t, behindProxy)
	a.stopThrottleClock()
	admin := a.newUser(models.RoleAdmin, "admin@example.com")
	a.newUser(models.RoleCustomer, "cust@example.com")

	// The owner signed in from this browser before, and signed out.
	owner := a.client().from("198.51.100.10")
	owner.login(admin.Email)
	if r := owner.submit("/admin", "/logout", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	ownerCookie := owner.deviceCookieOf()
	// A customer's browser holds a device cookie of its own account.
	cust := a.client().from("198.51.100.20")
	cust.login("cust@example.com")
	custCookie := cust.deviceCookieOf()

	// The burst: 20 addresses, 3 wrong passwords each, all at once; the
	// owner's browser signs in in the middle of it.
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		wg     sync.WaitGroup
		during result
	)
	ownerDuring := a.withCookie("198.51.100.10", ownerCookie)
	ownerDuring.csrf("/login")
	for i := 1; i <= 20; i++ {
		c := a.client().from(fmt.Sprintf("203.0.113.%d", i))
		c.csrf("/login")
		wg.Go(func() {
			for range 3 {
				r := c.signIn(admin.Email, "wrong guess "+fmt.Sprint(i))
				mu.Lock()
				counts[r.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Go(func() { during = ownerDuring.signIn(admin.Email, testPassword) })
	wg.Wait()
	if during.StatusCode != http.StatusSeeOther {
		t.Fatalf("the owner's browser during the burst: %d, want signed in", during.StatusCode)
	}
	if counts[http.StatusUnauthorized] != maxFailuresAccount || counts[http.StatusTooManyRequests] != 60-maxFailuresAccount {
		t.Fatalf("the burst's answers: %v; want %d wrong-password answers, the rest held back", counts, maxFailuresAccount)
	}

	// The owner's browser signs in at once.
	r := owner.signIn(admin.Email, testPassword)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the owner's browser after the burst: %d, want signed in: %s", r.StatusCode, r.body)
	}
	if p := owner.get("/admin"); p.StatusCode != http.StatusOK {
		t.Fatalf("the owner's browser is not signed in: %d", p.StatusCode)
	}

	// A new browser, even with the right password, is slowed and told when to try again.
	fresh := a.client().from("198.51.100.30")
	r = fresh.signIn(admin.Email, testPassword)
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(r.body, "Try again in 1 minute") ||
		!strings.Contains(r.body, "a browser you have signed in with before") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("a new browser after the burst: %d (Retry-After %q)", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if fresh.get("/admin").StatusCode == http.StatusOK {
		t.Fatal("a refused sign-in signed in")
	}
	if !strings.Contains(a.logs.String(), "login throttled") || !strings.Contains(a.logs.String(), "limit=account") {
		t.Fatalf("the log does not say which limit held:\n%s", a.logs.String())
	}

	// Forged cookies and another account's give no exemption.
	forged := *ownerCookie
	forged.Value = ownerCookie.Value[:len(ownerCookie.Value)-2] + flip(ownerCookie.Value[len(ownerCookie.Value)-2:])
	otherID := *ownerCookie
	otherID.Value = strings.Replace(ownerCookie.Value, fmt.Sprintf("v1.%d.", admin.ID), "v1.999.", 1)
	for name, ck := range map[string]*http.Cookie{"forged signature": &forged, "another user id": &otherID, "the customer's cookie": custCookie} {
		if r := a.withCookie("198.51.100.40", ck).signIn(admin.Email, testPassword); r.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("%s: %d, want the account's limit to hold", name, r.StatusCode)
		}
	}
	// …while a copy of the owner's cookie is the owner's browser.
	if r := a.withCookie("198.51.100.41", ownerCookie).signIn(admin.Email, testPassword); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the owner's cookie in another jar: %d", r.StatusCode)
	}

	// After a password change the old cookie exempts nothing; the browser
	// that changed it has a new one.
	const next = "a brand new owner secret"
	if r := owner.submit("/account/password", "/account/password", url.Values{
		"current_password": {testPassword}, "new_password": {next}, "confirm_password": {next}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("password change: %d %s", r.StatusCode, r.body)
	}
	if r := a.withCookie("198.51.100.42", ownerCookie).signIn(admin.Email, next); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the cookie from before the password change: %d, want no exemption", r.StatusCode)
	}
	renewed := owner.deviceCookieOf()
	if renewed.Value == ownerCookie.Value {
		t.Fatal("the password change gave this browser no new device cookie")
	}
	if r := a.withCookie("198.51.100.43", renewed).signIn(admin.Email, next); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the new device cookie after the change: %d", r.StatusCode)
	}
}

// flip changes the two characters of s (base64url) to others.
func flip(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

// The trusted browser has a small limit of its own: 5 wrong passwords lock
// that browser out for 15 minutes, without touching the account's limit for
// other browsers or anyone's address.
func TestTrustedBrowserHasItsOwnLimit(t *testing.T) {
	a := newTestApp(t, behindProxy)
	a.stopThrottleClock()
	a.newUser(models.RoleAdmin, "admin@example.com")
	owner := a.client().from("198.51.100.10")
	owner.login("admin@example.com")
	ck := owner.deviceCookieOf()
	owner = a.withCookie("198.51.100.10", ck)
	for i := range maxFailuresDevice {
		if r := owner.signIn("admin@example.com", "typo typo typo"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i+1, r.StatusCode)
		}
	}
	r := owner.signIn("admin@example.com", testPassword)
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(r.body, "from this browser. Try again in 15 minutes") {
		t.Fatalf("after %d wrong passwords on the trusted browser: %d", maxFailuresDevice, r.StatusCode)
	}
	// Unknown browsers, from the same address, are not held back by it.
	if r := a.client().from("198.51.100.10").signIn("admin@example.com", testPassword); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("another browser: %d, want signed in", r.StatusCode)
	}
}

// The device cookie: long-lived, HttpOnly, SameSite=Lax, Secure behind
// HTTPS, sent only to the sign-in page, and holding nothing of the user but
// an id (no e-mail, no password hash).
func TestDeviceCookieAttributes(t *testing.T) {
	for _, secure := range []bool{false, true} {
		a := newTestApp(t, func(o *appOptions) { o.handler.SecureCookies = secure })
		u := a.newUser(models.RoleAdmin, "admin@example.com")
		c := a.client()
		r := c.postForm("/login", url.Values{"email": {u.Email}, "password": {testPassword}, "_csrf": {c.csrf("/login")}})
		var dc *http.Cookie
		for _, ck := range r.Cookies() {
			if ck.Name == deviceCookie {
				dc = ck
			}
		}
		if dc == nil {
			t.Fatal("no device cookie at sign-in")
		}
		if !dc.HttpOnly || dc.SameSite != http.SameSiteLaxMode || dc.Secure != secure || dc.Path != "/login" ||
			time.Duration(dc.MaxAge)*time.Second != 180*24*time.Hour {
			t.Fatalf("device cookie %+v", dc)
		}
		if strings.Contains(dc.Value, "admin") || strings.Contains(dc.Value, u.PasswordHash[7:20]) || len(dc.Value) > 120 {
			t.Fatalf("device cookie value %q holds more than an id, a nonce, a time and a signature", dc.Value)
		}
		// A wrong password sets none.
		c2 := a.client()
		r = c2.postForm("/login", url.Values{"email": {u.Email}, "password": {"wrong password"}, "_csrf": {c2.csrf("/login")}})
		for _, ck := range r.Cookies() {
			if ck.Name == deviceCookie {
				t.Fatal("a failed sign-in set a device cookie")
			}
		}
	}
}
