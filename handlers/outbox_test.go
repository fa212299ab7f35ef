package handlers

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
)

// linkIn finds the set-password link in a mail's text part.
func linkIn(t *testing.T, a *testApp, m models.Mail) (path, token string) {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(a.srv.URL) + `(/set-password/([A-Za-z0-9_-]{43}))`)
	got := re.FindStringSubmatch(m.Text)
	if got == nil || !strings.Contains(m.HTML, got[0]) {
		t.Fatalf("no set-password link under the app's address in both parts:\n%s\n%s", m.Text, m.HTML)
	}
	return got[1], got[2]
}

func mailsTo(t *testing.T, a *testApp, email string) []models.Mail {
	t.Helper()
	all, _, err := a.store.Mails(context.Background(), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []models.Mail
	for _, m := range all {
		if m.To == email {
			full, err := a.store.MailByID(context.Background(), m.ID)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, *full)
		}
	}
	return out
}

// An admin creates a customer without a password: the invitation waits,
// queued, on the Outbox page (mail is not configured here), shown as it
// would be sent; its link sets the password once, from a browser with no
// session, and then says it was used.
func TestInvitationWithoutSMTPWaitsInTheOutboxAndItsLinkWorksOnce(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	a.newUser(models.RoleCustomer, "other@example.com")
	admin := a.client()
	admin.login("admin@example.com")

	r := admin.submit("/admin/users", "/admin/users", url.Values{"email": {"dana@example.com"}, "name": {"Dana"}, "role": {"customer"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("create without a password: %d %s", r.StatusCode, r.body)
	}
	u, err := a.store.UserByEmail(context.Background(), "dana@example.com")
	if err != nil || u.PasswordHash != "" {
		t.Fatalf("the invited user: %+v %v", u, err)
	}
	ms := mailsTo(t, a, "dana@example.com")
	if len(ms) != 1 || ms[0].State != models.MailQueued || ms[0].Kind != "invitation" {
		t.Fatalf("outbox %+v, want one queued invitation", ms)
	}
	m := ms[0]
	if strings.Contains(strings.ToLower(m.Subject+m.Text+m.HTML), "whapi") {
		t.Errorf("the invitation names WHAPI:\n%s\n%s", m.Text, m.HTML)
	}

	page := admin.get("/admin/outbox")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, `data-testid="mail-not-configured"`) ||
		!strings.Contains(page.body, "dana@example.com") || !strings.Contains(page.body, ">Queued<") ||
		!strings.Contains(page.body, html.EscapeString(m.Subject)) {
		t.Fatalf("outbox page (%d) lacks the banner, the mail or its state:\n%s", page.StatusCode, page.body)
	}
	one := admin.get(fmt.Sprintf("/admin/outbox/%d", m.ID))
	htmlHref := fmt.Sprintf("/admin/outbox/%d/html", m.ID)
	if one.StatusCode != http.StatusOK || !strings.Contains(one.body, `sandbox=""`) || !strings.Contains(one.body, `src="`+htmlHref+`"`) ||
		!strings.Contains(one.body, html.EscapeString(strings.TrimSpace(strings.Split(m.Text, "\n")[0]))) {
		t.Fatalf("mail page (%d) does not show both parts:\n%s", one.StatusCode, one.body)
	}
	if strings.Contains(one.body, "<body style") {
		t.Error("the mail's HTML is in the page itself, not in the sandboxed frame")
	}
	// The frame's document: the HTML part as sent, under a policy of its
	// own that lets its inline styles show and nothing else run or load.
	part := admin.get(htmlHref)
	csp := part.Header.Get("Content-Security-Policy")
	if part.StatusCode != http.StatusOK || part.body != m.HTML || !strings.HasPrefix(part.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("the HTML part (%d, %s) is not the mail's", part.StatusCode, part.Header.Get("Content-Type"))
	}
	for _, want := range []string{"default-src 'none'", "style-src 'unsafe-inline'", "sandbox", "frame-ancestors 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("the HTML part's policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || part.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Errorf("the HTML part's policy %q, X-Frame-Options %q", csp, part.Header.Get("X-Frame-Options"))
	}
	customer := a.client()
	customer.login("other@example.com")
	if r := customer.get("/admin/outbox"); r.StatusCode == http.StatusOK {
		t.Errorf("a customer sees the outbox: %d", r.StatusCode)
	}

	path, token := linkIn(t, a, m)
	visitor := a.client()
	r = visitor.get(path)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "dana@example.com") {
		t.Fatalf("the link (%d):\n%s", r.StatusCode, r.body)
	}
	const pw = "a good long password 42"
	r = visitor.submit(path, path, url.Values{"new_password": {pw}, "confirm_password": {pw + "!"}})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("different confirmation: %d", r.StatusCode)
	}
	r = visitor.submit(path, path, url.Values{"new_password": {"password"}, "confirm_password": {"password"}})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a weak password: %d", r.StatusCode)
	}
	r = visitor.submit(path, path, url.Values{"new_password": {pw}, "confirm_password": {pw}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `data-testid="password-set"`) {
		t.Fatalf("setting the password (%d):\n%s", r.StatusCode, r.body)
	}
	if _, err := a.store.Authenticate(context.Background(), "dana@example.com", pw); err != nil {
		t.Errorf("sign-in with the new password: %v", err)
	}
	r = visitor.get(path)
	if r.StatusCode != http.StatusGone || !strings.Contains(r.body, "already been used") || strings.Contains(r.body, "dana@example.com") {
		t.Errorf("the used link (%d):\n%s", r.StatusCode, r.body)
	}
	r = visitor.submit("/login", path, url.Values{"new_password": {"another password 99x"}, "confirm_password": {"another password 99x"}})
	if r.StatusCode != http.StatusGone {
		t.Errorf("a second use: %d", r.StatusCode)
	}
	altered := path[:len(path)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(path, "A")]
	if r := visitor.get(altered); r.StatusCode != http.StatusNotFound || !strings.Contains(r.body, "not valid") {
		t.Errorf("an altered link (%d):\n%s", r.StatusCode, r.body)
	}
	if _, err := a.store.Authenticate(context.Background(), "dana@example.com", pw); err != nil {
		t.Errorf("the refused uses changed the password: %v", err)
	}
	if strings.Contains(a.logs.String(), token) {
		t.Error("the set-password token is in the log")
	}
}

// POST /api/users without a password invites; the admin's resend makes
// the older link stop working; a link past 72 hours says it expired.
func TestAPIInvitationResendAndExpiry(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	admin := a.client()
	admin.login("admin@example.com")
	csrf := admin.csrf("/admin")
	r := admin.jsonReq("POST", "/api/users", `{"email":"vic@example.com","name":"Vic"}`, "X-CSRF-Token", csrf)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/users without a password: %d %s", r.StatusCode, r.body)
	}
	first := mailsTo(t, a, "vic@example.com")
	if len(first) != 1 {
		t.Fatalf("%d mails, want 1", len(first))
	}
	oldPath, _ := linkIn(t, a, first[0])
	u, err := a.store.UserByEmail(context.Background(), "vic@example.com")
	if err != nil {
		t.Fatal(err)
	}
	userPage := fmt.Sprintf("/admin/users/%d", u.ID)
	if p := admin.get(userPage); !strings.Contains(p.body, `data-testid="resend-invitation"`) {
		t.Fatalf("no resend button on the invited user's page:\n%s", p.body)
	}
	r = admin.submit(userPage, userPage+"/invitation", nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("resend: %d %s", r.StatusCode, r.body)
	}
	both := mailsTo(t, a, "vic@example.com")
	if len(both) != 2 {
		t.Fatalf("%d mails after a resend, want 2", len(both))
	}
	newPath, _ := linkIn(t, a, both[0]) // newest first
	visitor := a.client()
	if r := visitor.get(oldPath); r.StatusCode != http.StatusGone {
		t.Errorf("the link before the resend: %d, want 410", r.StatusCode)
	}
	if r := visitor.get(newPath); r.StatusCode != http.StatusOK {
		t.Errorf("the resent link: %d", r.StatusCode)
	}
	later := time.Now().Add(models.InvitationValidity + time.Minute)
	a.store.SetClock(func() time.Time { return later })
	r = visitor.get(newPath)
	if r.StatusCode != http.StatusGone || !strings.Contains(r.body, "expired") {
		t.Errorf("a link past 72 hours (%d):\n%s", r.StatusCode, r.body)
	}
	if got, _ := a.store.UserByID(context.Background(), u.ID); got.PasswordHash != "" {
		t.Error("an expired link set a password")
	}
}

// A failed mail shows its error and a Retry button; Retry queues it again.
func TestOutboxRetryQueuesAFailedMail(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	admin := a.client()
	admin.login("admin@example.com")
	admin.submit("/admin/users", "/admin/users", url.Values{"email": {"dana@example.com"}, "role": {"customer"}})
	m := mailsTo(t, a, "dana@example.com")[0]
	ctx := context.Background()
	if _, err := a.store.ClaimMail(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.store.MailFailedFor(ctx, m.ID, "smtp 550 5.1.1 no such user"); err != nil {
		t.Fatal(err)
	}
	page := admin.get("/admin/outbox")
	if !strings.Contains(page.body, "550 5.1.1 no such user") || !strings.Contains(page.body, `data-testid="mail-retry"`) {
		t.Fatalf("the failed mail's error or its Retry is missing:\n%s", page.body)
	}
	r := admin.submit("/admin/outbox", fmt.Sprintf("/admin/outbox/%d/retry", m.ID), nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry: %d %s", r.StatusCode, r.body)
	}
	if got, _ := a.store.MailByID(ctx, m.ID); got.State != models.MailQueued {
		t.Errorf("after Retry the mail is %s", got.State)
	}
	r = admin.postForm(fmt.Sprintf("/admin/outbox/%d/retry", m.ID), url.Values{})
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("retry without a CSRF token: %d", r.StatusCode)
	}
}
