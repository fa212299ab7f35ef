package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/provision"
)

// linkFix is a customer with two channels and an API key, and an admin.
type linkFix struct {
	*custFix
	alice          *models.User
	sales, support *models.Channel
	key, adminKey  string
}

func newLinkFix(t *testing.T) *linkFix {
	t.Helper()
	f := &linkFix{custFix: newCustFix(t, func(o *custOptions) { o.manualClock = true })}
	f.alice = f.customer("alice@example.com", true)
	f.sales = f.channel(f.alice, "Sales")
	f.support = f.channel(f.alice, "Support desk")
	ctx := context.Background()
	var err error
	if f.key, _, err = f.store.CreateAPIKey(ctx, models.SystemActor, f.alice.ID, "test"); err != nil {
		t.Fatal(err)
	}
	adm := f.newUser(models.RoleAdmin, "boss@example.com")
	if f.adminKey, _, err = f.store.CreateAPIKey(ctx, models.SystemActor, adm.ID, "test"); err != nil {
		t.Fatal(err)
	}
	return f
}

// makeLink makes a link through the API with key; it returns the answer.
func (f *linkFix) makeLink(key string, ch *models.Channel, body string) (result, apiConnectLink) {
	f.t.Helper()
	r := f.client().jsonReq("POST", fmt.Sprintf("/api/channels/%d/connect-links", ch.ID), body, "Authorization", "Bearer "+key)
	var out apiConnectLink
	if r.StatusCode == http.StatusCreated {
		if err := json.Unmarshal([]byte(r.body), &out); err != nil {
			f.t.Fatal(err)
		}
	}
	return r, out
}

// linkPathOf is the path of a link's URL.
func linkPathOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

// A link opens its channel's connect page in a browser that has never
// signed in: the QR (renewing itself under the link's path) and the
// pairing code, how long the link lasts, and nothing else of the account.
// Once the phone scans, the page says Connected and the link is dead.
func TestConnectLinkWorksWithoutAnAccount(t *testing.T) {
	f := newLinkFix(t)
	r, l := f.makeLink(f.key, f.sales, "")
	custWant(t, r, http.StatusCreated)
	if !strings.HasPrefix(l.URL, f.srv.URL+"/l/") || l.ID == 0 {
		t.Fatalf("link: %+v", l)
	}
	if exp, err := time.Parse(time.RFC3339, l.ExpiresAt); err != nil || !exp.Equal(f.clock.Now().Add(30*time.Minute).Truncate(time.Second)) {
		t.Fatalf("expires_at %q, want 30 minutes from now", l.ExpiresAt)
	}
	path := linkPathOf(t, l.URL)
	if tok := strings.TrimPrefix(path, "/l/"); len(tok) < 22 { // ≥ 128 bits of base64
		t.Fatalf("token %q", tok)
	}

	c := f.client() // no session, no cookie
	page := c.get(path)
	custWant(t, page, http.StatusOK)
	custHas(t, page.body, "Link your phone to “Sales”", "This link is valid until", "(30 minutes from now)", "Link with phone number instead")
	custHasNot(t, page.body, "alice@example.com", "Support desk", "My channels", "Back to my channels", "/app", "/admin", "Log out", "WHAPI", "whapi")
	for _, raw := range []string{"alice@example.com", "Support desk", `href="/app`, `href="/admin`, "/logout", "whapi", "WHAPI"} {
		if strings.Contains(page.body, raw) {
			t.Fatalf("the link's page holds %q", raw)
		}
	}
	if ck := c.http.Jar.Cookies(f.srvURL()); len(ck) != 0 {
		t.Fatalf("the link's page set cookies: %v", ck)
	}
	s := custShown(t, page.body)
	if s.step != "qr" || !strings.HasPrefix(s.poll, path+"/status?") || !regexp.MustCompile(`^/l/[^/]+/qr\.png\?v=\d+$`).MatchString(s.img) {
		t.Fatalf("link page: %+v", s)
	}
	if img := c.get(s.img); img.StatusCode != http.StatusOK || !strings.HasPrefix(img.body, string(pngMagic)) {
		t.Fatalf("qr.png: %d", img.StatusCode)
	}
	if ch := f.reload(f.sales); ch.WhapiID != nil && strings.Contains(page.body, *ch.WhapiID) {
		t.Fatal("the page shows WHAPI's channel id")
	}

	// The code renews itself.
	f.advance(20 * time.Second)
	_, s2 := s.pollFrom(t, c)
	if s2.step != "qr" || s2.img == s.img {
		t.Fatalf("after the QR lifetime: %+v", s2)
	}

	// The phone scans: Connected, polling stops, the link is dead.
	f.link(f.sales, "15551234567")
	f.advance(2 * time.Second)
	_, s3 := s2.pollFrom(t, c)
	if s3.step != "connected" || s3.poll != "" {
		t.Fatalf("after the scan: %+v", s3)
	}
	ended := c.get(path)
	custWant(t, ended, http.StatusGone)
	custHas(t, ended.body, "This link was used")
	custHasNot(t, ended.body, "Sales", "qr.png", "Link with phone number instead")
	custWant(t, c.get(s.img), http.StatusGone)
	// A page still polling hears "Connected" and stops.
	r2, s4 := s2.pollFrom(t, c)
	if r2.StatusCode != http.StatusOK || s4.step != "connected" || s4.poll != "" {
		t.Fatalf("a poll after the link was used: %d %+v", r2.StatusCode, s4)
	}
}

// srvURL is the app's address, for the cookie jar.
func (f *linkFix) srvURL() *url.URL {
	u, _ := url.Parse(f.srv.URL)
	return u
}

// Expired, revoked and altered links say so and show nothing else; an
// altered token is answered as an unknown one.
func TestConnectLinkEnds(t *testing.T) {
	f := newLinkFix(t)
	c := f.client()

	_, short := f.makeLink(f.key, f.sales, `{"valid_minutes": 5}`)
	_, long := f.makeLink(f.adminKey, f.sales, `{"valid_minutes": 10080}`)
	custWant(t, c.get(linkPathOf(t, short.URL)), http.StatusOK)
	f.advance(5 * time.Minute)
	r := c.get(linkPathOf(t, short.URL))
	custWant(t, r, http.StatusGone)
	custHas(t, r.body, "This link has expired")
	custHasNot(t, r.body, "Sales", "alice")
	// The poll of a page left open reloads it, which then says why.
	r = c.get(linkPathOf(t, short.URL) + "/status")
	if r.StatusCode != http.StatusGone {
		t.Fatalf("poll of an expired link: %d", r.StatusCode)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+linkPathOf(t, short.URL)+"/status", nil)
	req.Header.Set("HX-Request", "true")
	if r := c.do(req); r.Header.Get("HX-Refresh") != "true" {
		t.Fatalf("an htmx poll of an expired link: HX-Refresh %q", r.Header.Get("HX-Refresh"))
	}

	// 7 days.
	custHas(t, c.get(linkPathOf(t, long.URL)).body, "(7 days from now)")

	// Revoked by the owner: dead at once.
	d := f.client().jsonReq("DELETE", fmt.Sprintf("/api/connect-links/%d", long.ID), "", "Authorization", "Bearer "+f.key)
	custWant(t, d, http.StatusNoContent)
	r = c.get(linkPathOf(t, long.URL))
	custWant(t, r, http.StatusGone)
	custHas(t, r.body, "This link was cancelled")

	// Altered: one character changed; unknown: made up. One answer.
	_, live := f.makeLink(f.key, f.sales, "")
	tok := strings.TrimPrefix(linkPathOf(t, live.URL), "/l/")
	b := []byte(tok)
	b[0] ^= 1
	altered := c.get("/l/" + string(b))
	unknown := c.get("/l/" + strings.Repeat("A", len(tok)))
	custWant(t, altered, http.StatusNotFound)
	custWant(t, unknown, http.StatusNotFound)
	custHas(t, altered.body, "This link is not valid")
	if altered.body != unknown.body {
		t.Fatal("an altered link and an unknown one are answered differently")
	}
	custHasNot(t, altered.body, "Sales")
	// A pairing code without the page's form token is refused.
	pr := c.postForm("/l/"+tok+"/pairing", url.Values{"phone": {"+15551234567"}})
	custWant(t, pr, http.StatusForbidden)
	// With it, the code comes.
	pr = c.postForm("/l/"+tok+"/pairing", url.Values{"phone": {"+15551234567"}, "_csrf": {linkFormToken(tok)}})
	custWant(t, pr, http.StatusOK)
	if !regexp.MustCompile(`data-testid="pairing-code">[A-Z0-9-]+<`).MatchString(pr.body) {
		t.Fatalf("no pairing code:\n%s", pr.body)
	}
	// From another site, even with the token: refused.
	req, _ = http.NewRequest("POST", f.srv.URL+"/l/"+tok+"/pairing", strings.NewReader(url.Values{"phone": {"+15551234567"}, "_csrf": {linkFormToken(tok)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	custWant(t, c.do(req), http.StatusForbidden)
}

// Unknown tokens are throttled per client address like sign-ins: past the
// limit every link is refused from that address, a good one included, and
// nothing is shown.
func TestConnectLinkThrottled(t *testing.T) {
	f := newLinkFix(t)
	_, good := f.makeLink(f.key, f.sales, "")
	c := f.client()
	custWant(t, c.get(linkPathOf(t, good.URL)), http.StatusOK)
	for i := range maxFailuresLink {
		r := c.get(fmt.Sprintf("/l/%043d", i))
		custWant(t, r, http.StatusNotFound)
	}
	r := c.get(fmt.Sprintf("/l/%043d", 999))
	custWant(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	r = c.get(linkPathOf(t, good.URL))
	custWant(t, r, http.StatusTooManyRequests)
	custHasNot(t, r.body, "Sales", "qr.png")
	// Expired, used and revoked links need their real token: they do not count.
	n, err := f.store.CountLoginAttempts(context.Background(), models.AttemptAddress, linkAddressKey("127.0.0.1").key, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if n != maxFailuresLink {
		t.Fatalf("%d attempts counted, want %d", n, maxFailuresLink)
	}
}

// The API: 201 with id, url and expires_at for the owner and an admin;
// another customer's channel is "not found"; a lifetime out of bounds is a
// 400 naming valid_minutes; revoking someone else's link is "not found".
func TestConnectLinkAPI(t *testing.T) {
	f := newLinkFix(t)
	bob := f.customer("bob@example.com", true)
	bobKey, _, err := f.store.CreateAPIKey(context.Background(), models.SystemActor, bob.ID, "bob")
	if err != nil {
		t.Fatal(err)
	}
	r, l := f.makeLink(f.adminKey, f.sales, `{"valid_minutes": 120}`)
	custWant(t, r, http.StatusCreated)
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.body), &raw); err != nil || len(raw) != 3 || raw["id"] == nil || raw["url"] == nil || raw["expires_at"] == nil {
		t.Fatalf("201 body: %s", r.body)
	}
	if exp, _ := time.Parse(time.RFC3339, l.ExpiresAt); !exp.Equal(f.clock.Now().Add(2 * time.Hour).Truncate(time.Second)) {
		t.Fatalf("expires_at %s", l.ExpiresAt)
	}
	r, _ = f.makeLink(bobKey, f.sales, "")
	custWant(t, r, http.StatusNotFound)
	for _, body := range []string{`{"valid_minutes": 4}`, `{"valid_minutes": 0}`, `{"valid_minutes": -5}`, `{"valid_minutes": 10081}`} {
		r, _ := f.makeLink(f.key, f.sales, body)
		var e struct {
			Error struct {
				Code   string            `json:"code"`
				Fields map[string]string `json:"fields"`
			} `json:"error"`
		}
		if r.StatusCode != http.StatusBadRequest || json.Unmarshal([]byte(r.body), &e) != nil || e.Error.Fields["valid_minutes"] == "" {
			t.Fatalf("%s → %d %s", body, r.StatusCode, r.body)
		}
	}
	r, _ = f.makeLink(f.key, f.sales, `{"valid_minutes": 30, "extra": 1}`)
	custWant(t, r, http.StatusBadRequest)
	d := f.client().jsonReq("DELETE", fmt.Sprintf("/api/connect-links/%d", l.ID), "", "Authorization", "Bearer "+bobKey)
	custWant(t, d, http.StatusNotFound)
	d = f.client().jsonReq("DELETE", "/api/connect-links/999999", "", "Authorization", "Bearer "+f.key)
	custWant(t, d, http.StatusNotFound)
	live, err := f.svc.ConnectLinks(context.Background(), f.sales.ID)
	if err != nil || len(live) != 1 {
		t.Fatalf("live links: %v %v", live, err)
	}
	d = f.client().jsonReq("DELETE", fmt.Sprintf("/api/connect-links/%d", l.ID), "", "Authorization", "Bearer "+f.key)
	custWant(t, d, http.StatusNoContent)
	if live, _ := f.svc.ConnectLinks(context.Background(), f.sales.ID); len(live) != 0 {
		t.Fatalf("live links after revoke: %v", live)
	}
	// A deleted channel gets none.
	if _, err := f.svc.Delete(context.Background(), models.SystemActor, f.support.ID); err != nil {
		t.Fatal(err)
	}
	r, _ = f.makeLink(f.key, f.support, "")
	custWant(t, r, http.StatusNotFound)
	_ = provision.ConnectLinkDefault
}

// The customer makes a link from their connect page, sees it once with its
// expiry, and revokes it; the admin opens the customer's connect page (with
// a note that it is the admin's view) and makes one there too.
func TestConnectLinkShareForms(t *testing.T) {
	f := newLinkFix(t)
	c := f.signedIn("alice@example.com")
	page := connectPath(f.sales.ID, "")
	custHas(t, c.get(page).body, "Share connect link", "2 hours", "7 days")
	r := c.submit(page, fmt.Sprintf("/app/channels/%d/connect-links", f.sales.ID), url.Values{"valid_minutes": {"120"}})
	custWant(t, r, http.StatusOK)
	m := regexp.MustCompile(`id="share-link-url"[^>]* value="([^"]+)"`).FindStringSubmatch(r.body)
	if m == nil || !strings.HasPrefix(m[1], f.srv.URL+"/l/") {
		t.Fatalf("no link shown:\n%s", r.body)
	}
	custHas(t, r.body, "valid until "+f.clock.Now().Add(2*time.Hour).UTC().Format("2 Jan 2006, 15:04 UTC"))
	anon := f.client()
	custWant(t, anon.get(linkPathOf(t, m[1])), http.StatusOK)
	// Shown once: the page lists it, without its address.
	again := c.get(page)
	if strings.Contains(again.body, linkPathOf(t, m[1])) {
		t.Fatal("the link is shown again")
	}
	live, _ := f.svc.ConnectLinks(context.Background(), f.sales.ID)
	if len(live) != 1 || !strings.Contains(again.body, fmt.Sprintf("/app/channels/%d/connect-links/%d/revoke", f.sales.ID, live[0].ID)) {
		t.Fatalf("live links %v; page:\n%s", live, again.body)
	}
	// A lifetime the form does not offer: refused, nothing made.
	r = c.submit(page, fmt.Sprintf("/app/channels/%d/connect-links", f.sales.ID), url.Values{"valid_minutes": {"99999"}})
	custWant(t, r, http.StatusUnprocessableEntity)
	r = c.submit(page, fmt.Sprintf("/app/channels/%d/connect-links/%d/revoke", f.sales.ID, live[0].ID), nil)
	custWant(t, r, http.StatusSeeOther)
	custWant(t, anon.get(linkPathOf(t, m[1])), http.StatusGone)

	// The admin's view of the customer's page.
	f.newUser(models.RoleAdmin, "help@example.com")
	a := f.signedIn("help@example.com")
	if list := a.get("/admin/channels").body; !strings.Contains(list, fmt.Sprintf(`href="/admin/channels/%d/connect"`, f.sales.ID)) {
		t.Fatal("the admin's channel list has no way to the connect page")
	}
	adminPage := fmt.Sprintf("/admin/channels/%d/connect", f.sales.ID)
	ap := a.get(adminPage)
	custWant(t, ap, http.StatusOK)
	custHas(t, ap.body, "You are viewing this customer's connect page as admin", "Link your phone to “Sales”", "Share connect link")
	if s := custShown(t, ap.body); s.step != "qr" || !strings.HasPrefix(s.poll, adminPage+"/status?") || !strings.HasPrefix(s.img, adminPage+"/qr.png") {
		t.Fatalf("admin connect page: %+v", s)
	} else if img := a.get(s.img); img.StatusCode != http.StatusOK {
		t.Fatalf("admin qr.png: %d", img.StatusCode)
	}
	r = a.submit(adminPage, fmt.Sprintf("/admin/channels/%d/connect-links", f.sales.ID), url.Values{"valid_minutes": {"30"}})
	custWant(t, r, http.StatusOK)
	if m := regexp.MustCompile(`id="share-link-url"[^>]* value="([^"]+)"`).FindStringSubmatch(r.body); m == nil {
		t.Fatal("the admin's link is not shown")
	} else {
		custWant(t, anon.get(linkPathOf(t, m[1])), http.StatusOK)
	}
}
