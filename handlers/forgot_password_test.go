package handlers

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/testsmtp"
	"whapidesk/models"
)

// resetLinkRe finds a password-reset link under the test server's address.
func resetLinkRe(a *testApp) *regexp.Regexp {
	return regexp.MustCompile(regexp.QuoteMeta(a.srv.URL) + `(/set-password/[A-Za-z0-9_-]{43})`)
}

// askReset posts the forgot-password form for email from c, as a person
// does: the login page's link, the form, the address.
func askReset(c *testClient, email string) result {
	c.t.Helper()
	return c.submit("/forgot-password", "/forgot-password", url.Values{"email": {email}})
}

// A customer who forgot their password follows the login page's link, asks
// for a new one, gets a mail through a real SMTP server (text and HTML
// parts, the brand, the app's own address, no WHAPI word), and its link
// sets the password once: every session of theirs ends, the old password
// stops working, and the used link says so and changes nothing.
func TestForgotPasswordMailArrivesAndItsLinkWorksOnce(t *testing.T) {
	a := newTestApp(t)
	srv := testsmtp.Start(t, testsmtp.Options{})
	withMail(t, a, srv)
	a.newUser(models.RoleCustomer, "erin@example.com")
	elsewhere := a.client()
	elsewhere.login("erin@example.com")

	visitor := a.client()
	login := visitor.get("/login")
	if !strings.Contains(login.body, `href="/forgot-password"`) {
		t.Fatalf("the login page has no forgot-password link:\n%s", login.body)
	}
	r := askReset(visitor, "  Erin@Example.com ")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/forgot-password/sent" {
		t.Fatalf("asking for a reset: %d %q %s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	sent := visitor.get("/forgot-password/sent")
	if !strings.Contains(sent.body, `data-testid="reset-sent"`) || !strings.Contains(sent.body, "60 minutes") {
		t.Fatalf("the answer:\n%s", sent.body)
	}

	got := srv.To(t, "erin@example.com", 1)
	hdr, parts := got[0].Parts(t)
	text, html := parts["text/plain"], parts["text/html"]
	m := resetLinkRe(a).FindStringSubmatch(text)
	if m == nil || !strings.Contains(html, m[0]) {
		t.Fatalf("no reset link under the app's address in both parts:\n%s\n%s", text, html)
	}
	if !strings.Contains(hdr.Get("Subject"), "password") || strings.Contains(strings.ToLower(hdr.Get("Subject")+text+html), "whapi") {
		t.Errorf("subject %q, or a WHAPI word in the mail:\n%s", hdr.Get("Subject"), text)
	}
	path := m[1]

	page := visitor.get(path)
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "Choose a new password") || !strings.Contains(page.body, "erin@example.com") {
		t.Fatalf("the link's page (%d):\n%s", page.StatusCode, page.body)
	}
	const pw = "a brand new passphrase 7"
	if r := visitor.submit(path, path, url.Values{"new_password": {"password"}, "confirm_password": {"password"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a common password: %d", r.StatusCode)
	}
	r = visitor.submit(path, path, url.Values{"new_password": {pw}, "confirm_password": {pw}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `data-testid="password-set"`) {
		t.Fatalf("setting the password (%d):\n%s", r.StatusCode, r.body)
	}
	if _, err := a.store.Authenticate(context.Background(), "erin@example.com", pw); err != nil {
		t.Errorf("the new password: %v", err)
	}
	if _, err := a.store.Authenticate(context.Background(), "erin@example.com", testPassword); err == nil {
		t.Error("the old password still works")
	}
	if r := elsewhere.get("/app"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("the other browser's session survived the reset: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := visitor.get(path); r.StatusCode != http.StatusGone || !strings.Contains(r.body, "already been used") || strings.Contains(r.body, "erin@example.com") {
		t.Errorf("the used link (%d):\n%s", r.StatusCode, r.body)
	}
	if r := visitor.submit("/login", path, url.Values{"new_password": {"yet another phrase 8"}, "confirm_password": {"yet another phrase 8"}}); r.StatusCode != http.StatusGone {
		t.Errorf("a second use: %d", r.StatusCode)
	}
	if _, err := a.store.Authenticate(context.Background(), "erin@example.com", pw); err != nil {
		t.Errorf("the refused second use changed the password: %v", err)
	}
	if strings.Contains(a.logs.String(), strings.TrimPrefix(path, setPasswordPrefix)) {
		t.Error("the reset token is in the log")
	}
}

// A reset link past its hour says it expired, an altered one that it is
// not valid, and neither changes the password; a newer request voids the
// older link.
func TestForgotPasswordExpiredAlteredAndSupersededLinks(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleCustomer, "finn@example.com")
	v := a.client()
	link := func() string {
		t.Helper()
		ms := mailsTo(t, a, "finn@example.com")
		m := resetLinkRe(a).FindStringSubmatch(ms[0].Text) // newest first
		if m == nil {
			t.Fatalf("no link in %q", ms[0].Text)
		}
		return m[1]
	}
	askReset(v, "finn@example.com")
	first := link()
	askReset(v, "finn@example.com")
	second := link()
	if first == second {
		t.Fatal("two requests, one link")
	}
	if r := v.get(first); r.StatusCode != http.StatusGone {
		t.Errorf("the older link after a newer request: %d", r.StatusCode)
	}
	altered := second[:len(second)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(second, "A")]
	if r := v.get(altered); r.StatusCode != http.StatusNotFound || !strings.Contains(r.body, "not valid") {
		t.Errorf("an altered link (%d):\n%s", r.StatusCode, r.body)
	}
	later := time.Now().Add(models.ResetValidity + time.Minute)
	a.store.SetClock(func() time.Time { return later })
	if r := v.get(second); r.StatusCode != http.StatusGone || !strings.Contains(r.body, "expired") {
		t.Errorf("a link past its hour (%d):\n%s", r.StatusCode, r.body)
	}
	const pw = "a brand new passphrase 7"
	if r := v.postForm(second, url.Values{"new_password": {pw}, "confirm_password": {pw}, "_csrf": {v.csrf("/login")}}); r.StatusCode != http.StatusGone {
		t.Errorf("setting a password through an expired link: %d", r.StatusCode)
	}
	if _, err := a.store.Authenticate(context.Background(), "finn@example.com", testPassword); err != nil {
		t.Errorf("a refused link changed the password: %v", err)
	}
}

// An address without an account, and a disabled account's, get the very
// answer an account gets, and no mail is queued for them.
func TestForgotPasswordSameAnswerWhetherOrNotTheAddressExists(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleCustomer, "gail@example.com")
	off := a.newUser(models.RoleCustomer, "off@example.com")
	if err := a.store.SetDisabled(context.Background(), models.SystemActor, off.ID, true); err != nil {
		t.Fatal(err)
	}
	answers := map[string]result{}
	for _, email := range []string{"gail@example.com", "nobody@example.com", "off@example.com"} {
		c := a.client()
		r := askReset(c, email)
		answers[email] = r
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/forgot-password/sent" || r.body != answers["gail@example.com"].body {
			t.Errorf("%s: %d %q, the known address's answer was %d %q", email, r.StatusCode, r.Header.Get("Location"),
				answers["gail@example.com"].StatusCode, answers["gail@example.com"].Header.Get("Location"))
		}
	}
	if n := len(mailsTo(t, a, "gail@example.com")); n != 1 {
		t.Errorf("%d mails to the account, want 1", n)
	}
	for _, email := range []string{"nobody@example.com", "off@example.com"} {
		if n := len(mailsTo(t, a, email)); n != 0 {
			t.Errorf("%d mails to %s, want none", n, email)
		}
	}
	if r := askReset(a.client(), "not an address"); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a malformed address: %d", r.StatusCode)
	}
}

// Requests are throttled per address asked for (3 an hour) and per client
// (10 an hour), in the database; the refusal says when to try again and
// reads the same for an address with an account and one without.
func TestForgotPasswordThrottledPerAddressAndPerClient(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleCustomer, "hana@example.com")
	c := a.client()
	refusal := func(email string) string {
		t.Helper()
		r := askReset(c, email)
		if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || !strings.Contains(r.body, "Try again in") {
			t.Fatalf("%s: %d (Retry-After %q), want a 429 that says when:\n%s", email, r.StatusCode, r.Header.Get("Retry-After"), r.body)
		}
		return regexp.MustCompile(`(?s)<div class="field.*?</div>`).FindString(r.body)
	}
	for range maxResetAccount {
		if r := askReset(c, "hana@example.com"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("a request within the limit: %d", r.StatusCode)
		}
	}
	known := refusal("hana@example.com")
	if n := len(mailsTo(t, a, "hana@example.com")); n != maxResetAccount {
		t.Errorf("%d mails, want %d: a refused request queued one", n, maxResetAccount)
	}
	for range maxResetAccount {
		askReset(c, "ghost@example.com")
	}
	unknown := refusal("ghost@example.com")
	strip := func(s string) string { return regexp.MustCompile(`\d+ minutes?|value="[^"]*"`).ReplaceAllString(s, "") }
	if strip(known) != strip(unknown) {
		t.Errorf("the refusal tells an account from none:\n%s\n%s", known, unknown)
	}
	// 6 requests counted for this client so far: 4 more addresses, then
	// the client is refused whatever it asks for.
	for i := range maxResetAddress - 2*maxResetAccount {
		if r := askReset(c, "x"+string(rune('a'+i))+"@example.com"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("request %d within the client's limit: %d", i, r.StatusCode)
		}
	}
	refusal("fresh@example.com")
	if n := len(mailsTo(t, a, "fresh@example.com")); n != 0 {
		t.Errorf("a request past the client's limit queued %d mails", n)
	}
}
