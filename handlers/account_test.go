package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"whapidesk/internal/testdb"
	"whapidesk/models"
)

// A password change ends every session of the user, server-side: the other
// browser is signed out, the old cookie of this one is worthless, this one
// goes on in a new session, and nobody else is touched.
func TestPasswordChangeEndsEverySession(t *testing.T) {
	a := newTestApp(t)
	u := a.newUser(models.RoleCustomer, "amal@example.com")
	a.newUser(models.RoleAdmin, "admin@example.com")
	here, there, admin := a.client(), a.client(), a.client()
	here.login(u.Email)
	there.login(u.Email)
	admin.login("admin@example.com")
	oldCookie := here.cookie("sid")

	const next = "a much longer new secret"
	change := func(c *testClient, current, newPw, confirm string) result {
		t.Helper()
		return c.submit("/account/password", "/account/password", url.Values{
			"current_password": {current}, "new_password": {newPw}, "confirm_password": {confirm}})
	}

	// Bad input: a clear message next to the field, nothing changed.
	for _, tc := range []struct {
		name, current, newPw, confirm, field, says string
	}{
		{"wrong current", "not my password", next, next, "current_password", "current password is wrong"},
		{"no current", "", next, next, "current_password", "enter your current password"},
		{"too short", testPassword, "short", "short", "new_password", "at least 10 characters"},
		{"too long", testPassword, strings.Repeat("x", 73), strings.Repeat("x", 73), "new_password", "at most 72 bytes"},
		{"same", testPassword, testPassword, testPassword, "new_password", "must differ"},
		{"common", testPassword, "Password12", "Password12", "new_password", "one of the most common ones"},
		{"ten spaces", testPassword, "          ", "          ", "new_password", "only spaces"},
		{"the e-mail's name", testPassword, "Amal-2024-secret", "Amal-2024-secret", "new_password", "e-mail"},
		{"confirm differs", testPassword, next, next + "!", "confirm_password", "differ"},
	} {
		r := change(here, tc.current, tc.newPw, tc.confirm)
		if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-testid="error-`+tc.field+`"`) || !strings.Contains(strings.ToLower(r.body), tc.says) {
			t.Fatalf("%s: status %d, want 422 with %q at %s", tc.name, r.StatusCode, tc.says, tc.field)
		}
		if strings.Contains(r.body, tc.current) && tc.current != "" || strings.Contains(r.body, next) {
			t.Fatalf("%s: a password was echoed into the page", tc.name)
		}
		if there.get("/app").StatusCode != http.StatusOK {
			t.Fatalf("%s: the other session ended on a refused change", tc.name)
		}
	}
	if n := a.sessionCount(u.ID); n != 2 {
		t.Fatalf("%d sessions after refused changes, want 2", n)
	}

	r := change(here, testPassword, next, next)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: status %d: %s", r.StatusCode, r.body)
	}
	if p := here.get("/app"); p.StatusCode != http.StatusOK || !strings.Contains(p.body, "password is changed") {
		t.Fatalf("this browser after the change: %d", p.StatusCode)
	}
	if c := here.cookie("sid"); c == nil || c.Value == oldCookie.Value {
		t.Fatal("the session id was not renewed")
	}
	if r := there.get("/app"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("the other browser is still signed in: %d", r.StatusCode)
	}
	stale := a.client()
	base, _ := url.Parse(a.srv.URL)
	stale.http.Jar.SetCookies(base, []*http.Cookie{oldCookie})
	if r := stale.get("/app"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the old session cookie still works: %d", r.StatusCode)
	}
	if n := a.sessionCount(u.ID); n != 1 {
		t.Fatalf("%d sessions after the change, want 1 (this browser's new one)", n)
	}
	if admin.get("/admin").StatusCode != http.StatusOK {
		t.Fatal("another user's session ended")
	}

	// The old password no longer signs in; the new one does.
	if r := a.client().submit("/login", "/login", url.Values{"email": {u.Email}, "password": {testPassword}}); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old password: %d", r.StatusCode)
	}
	if r := a.client().submit("/login", "/login", url.Values{"email": {u.Email}, "password": {next}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("new password: %d", r.StatusCode)
	}

	// Audited without the secret; the password is stored only hashed.
	events, err := a.store.ListAudit(context.Background(), 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		found = found || e.Action == "user.password"
		if strings.Contains(e.Detail+e.Target, next) {
			t.Fatal("the password is in the audit log")
		}
	}
	if !found {
		t.Fatal("no user.password audit event")
	}
	if strings.Contains(testdb.Text(t, testdb.Database(a.env.DB)), next) {
		t.Fatal("the new password is in the database in plain text")
	}
}

// Guessing the current password through the form is throttled.
func TestPasswordChangeIsThrottled(t *testing.T) {
	a := newTestApp(t)
	u := a.newUser(models.RoleAdmin, "admin@example.com")
	c := a.client()
	c.login(u.Email)
	form := func(current string) url.Values {
		return url.Values{"current_password": {current}, "new_password": {"a much longer new secret"}, "confirm_password": {"a much longer new secret"}}
	}
	for i := 0; i < maxPasswordFailures; i++ {
		if r := c.submit("/account/password", "/account/password", form("guess")); r.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("guess %d: %d", i, r.StatusCode)
		}
	}
	r := c.submit("/account/password", "/account/password", form(testPassword))
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || !strings.Contains(r.body, "Too many wrong passwords") {
		t.Fatalf("after %d wrong guesses even the right password: %d, want 429", maxPasswordFailures, r.StatusCode)
	}
	if _, err := a.store.Authenticate(context.Background(), u.Email, testPassword); err != nil {
		t.Fatalf("the password changed while throttled: %v", err)
	}
}

// sessionCount counts the live server-side sessions of a user.
func (a *testApp) sessionCount(userID int64) int64 {
	a.t.Helper()
	n, err := a.store.CountUserSessions(context.Background(), userID)
	if err != nil {
		a.t.Fatal(err)
	}
	return n
}

// An admin sets a new password for a customer who forgot theirs: the
// customer is signed out everywhere, the new password signs in, the old one
// does not; bad input is refused next to the field and changes nothing.
func TestAdminSetsANewPassword(t *testing.T) {
	a := newTestApp(t)
	u := a.newUser(models.RoleCustomer, "amal@example.com")
	a.newUser(models.RoleAdmin, "admin@example.com")
	cust, admin := a.client(), a.client()
	cust.login(u.Email)
	admin.login("admin@example.com")
	page := "/admin/users/" + strconv.FormatInt(u.ID, 10)
	set := func(next, confirm string) result {
		t.Helper()
		return admin.submit(page, page+"/password", url.Values{"new_password": {next}, "confirm_password": {confirm}})
	}

	for _, tc := range []struct{ next, confirm, field string }{
		{"", "", "new_password"},
		{"short", "short", "new_password"},
		{"Password12", "Password12", "new_password"},
		{"          ", "          ", "new_password"},
		{"amal@example.com", "amal@example.com", "new_password"},
		{"a much longer new secret", "something else entirely", "confirm_password"},
	} {
		r := set(tc.next, tc.confirm)
		if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-testid="error-`+tc.field+`"`) {
			t.Fatalf("%q/%q: status %d, want 422 at %s", tc.next, tc.confirm, r.StatusCode, tc.field)
		}
		if strings.TrimSpace(tc.next) != "" && tc.next != u.Email && strings.Contains(r.body, tc.next) {
			t.Fatal("the password was echoed")
		}
	}
	if cust.get("/app").StatusCode != http.StatusOK {
		t.Fatal("refused input ended the customer's session")
	}

	const next = "given by the admin 123"
	if r := set(next, next); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("set: %d %s", r.StatusCode, r.body)
	}
	if f := flashText(admin.get(page).body); !strings.Contains(f, "new password is set") {
		t.Fatalf("flash %q", f)
	}
	if r := cust.get("/app"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the customer is still signed in: %d", r.StatusCode)
	}
	if n := a.sessionCount(u.ID); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
	if admin.get("/admin").StatusCode != http.StatusOK {
		t.Fatal("the admin was signed out")
	}
	if _, err := a.store.Authenticate(context.Background(), u.Email, testPassword); err == nil {
		t.Fatal("the old password still works")
	}
	if _, err := a.store.Authenticate(context.Background(), u.Email, next); err != nil {
		t.Fatalf("the new password: %v", err)
	}
	// An admin's own password goes through /account/password (with the current one).
	self := "/admin/users/" + strconv.FormatInt(currentUserID(t, a, "admin@example.com"), 10)
	if r := admin.submit(self, self+"/password", url.Values{"new_password": {next}, "confirm_password": {next}}); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/account/password" {
		t.Fatalf("own password through the user page: %d → %s", r.StatusCode, r.Header.Get("Location"))
	}
}

func currentUserID(t *testing.T, a *testApp, email string) int64 {
	t.Helper()
	u, err := a.store.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}
