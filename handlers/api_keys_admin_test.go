package handlers

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"whapidesk/models"
)

// newKeyOnPage finds the key the answer page shows, this once.
var newKeyOnPage = regexp.MustCompile(`data-testid="new-key"[^>]*value="(` + models.APIKeyPrefix + `[A-Za-z0-9_-]+)"|value="(` + models.APIKeyPrefix + `[A-Za-z0-9_-]+)"[^>]*data-testid="new-key"`)

func keyOnPage(t *testing.T, body string) string {
	t.Helper()
	m := newKeyOnPage.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no new key on the answer page:\n%s", body)
	}
	return m[1] + m[2]
}

// keysFix: an admin signed in, two customers on a plan with a channel
// each.
type keysFix struct {
	*custFix
	admin        *models.User
	adm          *testClient
	alice, bob   *models.User
	aliceChannel *models.Channel
	bobChannel   *models.Channel
}

func newKeysFix(t *testing.T) *keysFix {
	t.Helper()
	f := &keysFix{custFix: newCustFix(t)}
	f.admin = f.newUser(models.RoleAdmin, "root@example.com")
	f.alice = f.customer("alice@example.com", true)
	f.bob = f.customer("bob@example.com", true)
	f.aliceChannel = f.channel(f.alice, "Alice shop")
	f.bobChannel = f.channel(f.bob, "Bob shop")
	f.adm = f.signedIn("root@example.com")
	return f
}

func (f *keysFix) auditActions(t *testing.T) map[string]models.AuditEvent {
	t.Helper()
	evs, err := f.store.ListAudit(context.Background(), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]models.AuditEvent{}
	for _, e := range evs {
		if _, seen := out[e.Action]; !seen {
			out[e.Action] = e
		}
	}
	return out
}

// TestAdminAPIKeysLifecycle: an admin makes a key for a customer on
// /admin/keys; the key is on the answer page once (not cached, not
// logged), the list shows its name, owner, maker and last use but never
// the key; the key works on /api and sees only its owner's channels; the
// admin revokes it after a confirmation page and the API refuses it at
// once. Both actions are audited with the admin as actor.
func TestAdminAPIKeysLifecycle(t *testing.T) {
	f := newKeysFix(t)
	c := f.adm

	list := c.get("/admin/keys")
	if list.StatusCode != http.StatusOK || !strings.Contains(list.body, `data-testid="keys-empty"`) {
		t.Fatalf("empty list: %d\n%s", list.StatusCode, list.body)
	}
	r := c.submit("/admin/keys", "/admin/keys", url.Values{"owner": {strconv.FormatInt(f.alice.ID, 10)}, "name": {"Billing"}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("make key: %d\n%s", r.StatusCode, r.body)
	}
	key := keyOnPage(t, r.body)
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("answer with the key: Cache-Control %q, want no-store", cc)
	}
	if !strings.Contains(r.body, `data-copy="new-key"`) || !strings.Contains(r.body, "it is not shown again") {
		t.Errorf("answer page lacks the copy button or the warning:\n%s", r.body)
	}
	if strings.Contains(f.logs.String(), key) || strings.Contains(f.logs.String(), key[len(models.APIKeyPrefix)+6:]) {
		t.Fatal("the new key is in the log")
	}

	// Listed, without the secret.
	list = c.get("/admin/keys")
	if strings.Contains(list.body, key) || strings.Contains(list.body, key[len(models.APIKeyPrefix)+6:]) {
		t.Fatal("the list shows the key")
	}
	for _, want := range []string{"Billing", "alice@example.com", "root@example.com", key[:len(models.APIKeyPrefix)+6] + "…", "Never", `class="table table-cards"`, `class="actions"`} {
		if !strings.Contains(html.UnescapeString(list.body), want) {
			t.Errorf("list lacks %q", want)
		}
	}
	keys, err := f.store.APIKeyRows(context.Background())
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys = %v, %v", keys, err)
	}
	k := keys[0]
	if k.UserID != f.alice.ID || k.Name != "Billing" || k.CreatedBy != "root@example.com" {
		t.Fatalf("stored key %+v", k)
	}

	// Works on the API, as Alice: her channel only.
	api := f.client()
	got := api.jsonReq("GET", "/api/channels", "", "Authorization", "Bearer "+key)
	if got.StatusCode != http.StatusOK || !strings.Contains(got.body, "Alice shop") || strings.Contains(got.body, "Bob shop") {
		t.Fatalf("GET /api/channels with the key: %d %s", got.StatusCode, got.body)
	}
	bobs := api.jsonReq("GET", "/api/channels/"+strconv.FormatInt(f.bobChannel.ID, 10), "", "Authorization", "Bearer "+key)
	if bobs.StatusCode != http.StatusNotFound {
		t.Fatalf("Bob's channel with Alice's key: %d", bobs.StatusCode)
	}
	if users := api.jsonReq("GET", "/api/users", "", "Authorization", "Bearer "+key); users.StatusCode != http.StatusForbidden {
		t.Fatalf("a customer's key on an admin route: %d", users.StatusCode)
	}
	list = c.get("/admin/keys")
	if row := keyRowOf(list.body, k.ID); strings.Contains(row, "Never") {
		t.Errorf("last use not shown after a use: %s", row)
	}

	audit := f.auditActions(t)
	if ev, ok := audit["apikey.create"]; !ok || ev.ActorEmail != "root@example.com" || strings.Contains(ev.Detail, key) {
		t.Fatalf("apikey.create audit: %+v", ev)
	}

	// Revoke: a confirmation page, then the API refuses the key.
	id := strconv.FormatInt(k.ID, 10)
	confirm := c.get("/admin/keys/" + id + "/revoke")
	if confirm.StatusCode != http.StatusOK || !strings.Contains(confirm.body, `action="/admin/keys/`+id+`/revoke"`) {
		t.Fatalf("revoke page: %d\n%s", confirm.StatusCode, confirm.body)
	}
	done := c.submit("/admin/keys/"+id+"/revoke", "/admin/keys/"+id+"/revoke", nil)
	if done.StatusCode != http.StatusSeeOther || done.Header.Get("Location") != "/admin/keys" {
		t.Fatalf("revoke: %d %s", done.StatusCode, done.Header.Get("Location"))
	}
	if after := c.get("/admin/keys"); !strings.Contains(html.UnescapeString(after.body), "Key “\u2068Billing\u2069” revoked") {
		t.Errorf("no flash after revoking:\n%s", after.body)
	}
	if got := api.jsonReq("GET", "/api/channels", "", "Authorization", "Bearer "+key); got.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked key on the API: %d", got.StatusCode)
	}
	if ev, ok := f.auditActions(t)["apikey.revoke"]; !ok || ev.ActorEmail != "root@example.com" {
		t.Fatalf("apikey.revoke audit: %+v", ev)
	}
	if again := c.get("/admin/keys/" + id + "/revoke"); again.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke page of a revoked key: %d, want 303 to the list", again.StatusCode)
	}
}

// keyRowOf is the list's row of key id.
func keyRowOf(body string, id int64) string {
	i := strings.Index(body, `data-testid="key-`+strconv.FormatInt(id, 10)+`"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(body[i:], "</tr>")
	if j < 0 {
		return body[i:]
	}
	return body[i : i+j]
}

// TestAdminAPIKeyForAdmin: a key made for an admin reaches admin routes.
func TestAdminAPIKeyForAdmin(t *testing.T) {
	f := newKeysFix(t)
	r := f.adm.submit("/admin/keys", "/admin/keys", url.Values{"owner": {strconv.FormatInt(f.admin.ID, 10)}, "name": {"Ops"}})
	key := keyOnPage(t, r.body)
	got := f.client().jsonReq("GET", "/api/users", "", "Authorization", "Bearer "+key)
	if got.StatusCode != http.StatusOK || !strings.Contains(got.body, "alice@example.com") {
		t.Fatalf("admin's key on /api/users: %d %s", got.StatusCode, got.body)
	}
}

// TestAdminAPIKeyFormErrors: no owner, no name, a long name or a disabled
// owner: 422, each message next to its field, the name kept, no key made.
func TestAdminAPIKeyFormErrors(t *testing.T) {
	f := newKeysFix(t)
	ctx := context.Background()
	if err := f.store.SetDisabled(ctx, models.SystemActor, f.bob.ID, true); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		form       url.Values
		wantErrors []string
	}{
		{"nothing", url.Values{}, []string{"error-owner", "error-name"}},
		{"no name", url.Values{"owner": {strconv.FormatInt(f.alice.ID, 10)}}, []string{"error-name"}},
		{"long name", url.Values{"owner": {strconv.FormatInt(f.alice.ID, 10)}, "name": {strings.Repeat("n", 101)}}, []string{"error-name"}},
		{"disabled owner", url.Values{"owner": {strconv.FormatInt(f.bob.ID, 10)}, "name": {"Kept name"}}, []string{"error-owner"}},
		{"unknown owner", url.Values{"owner": {"999999"}, "name": {"Kept name"}}, []string{"error-owner"}},
		{"bad owner", url.Values{"owner": {"abc"}, "name": {"Kept name"}}, []string{"error-owner"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.adm.submit("/admin/keys", "/admin/keys", tc.form)
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", r.StatusCode)
			}
			for _, id := range tc.wantErrors {
				if !strings.Contains(r.body, `data-testid="`+id+`"`) {
					t.Errorf("no %s on the page", id)
				}
			}
			if n := tc.form.Get("name"); n != "" && !strings.Contains(r.body, `value="`+n+`"`) {
				t.Errorf("the name %q was not kept", n)
			}
			if strings.Contains(r.body, models.APIKeyPrefix) && strings.Contains(r.body, `data-testid="new-key"`) {
				t.Error("a key was shown")
			}
		})
	}
	if keys, err := f.store.APIKeyRows(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("keys made by refused forms: %v %v", keys, err)
	}
}

// TestAdminAPIKeysGuarded: a customer cannot reach the page or its forms,
// and every POST wants the session's CSRF token.
func TestAdminAPIKeysGuarded(t *testing.T) {
	f := newKeysFix(t)
	ctx := context.Background()
	_, k, err := f.store.CreateAPIKey(ctx, models.SystemActor, f.alice.ID, "cli")
	if err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(k.ID, 10)
	owner := strconv.FormatInt(f.alice.ID, 10)

	cust := f.signedIn("alice@example.com")
	if r := cust.get("/admin/keys"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("customer GET /admin/keys: %d", r.StatusCode)
	}
	if r := cust.submit("/app", "/admin/keys", url.Values{"owner": {owner}, "name": {"mine"}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("customer POST /admin/keys: %d", r.StatusCode)
	}
	if r := cust.submit("/app", "/admin/keys/"+id+"/revoke", nil); r.StatusCode != http.StatusForbidden {
		t.Fatalf("customer revoke: %d", r.StatusCode)
	}

	// The admin without the token (a forged cross-site form): refused.
	for _, path := range []string{"/admin/keys", "/admin/keys/" + id + "/revoke"} {
		r := f.adm.postForm(path, url.Values{"owner": {owner}, "name": {"forged"}})
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without CSRF: %d, want 403", path, r.StatusCode)
		}
	}
	keys, err := f.store.APIKeyRows(ctx)
	if err != nil || len(keys) != 1 || keys[0].RevokedAt != nil {
		t.Fatalf("after refused posts: %+v %v", keys, err)
	}
	if !strings.Contains(f.adm.get("/admin/keys").body, "command line") {
		t.Error("a CLI key does not say it was made on the command line")
	}
}

// TestAdminAPIKeysInArabic: the page in Arabic (Accept-Language), right
// to left, with the catalog's words, and a form error in Arabic.
func TestAdminAPIKeysInArabic(t *testing.T) {
	f := newKeysFix(t)
	f.adm.header.Set("Accept-Language", "ar")
	r := f.adm.get("/admin/keys")
	for _, want := range []string{`<html lang="ar" dir="rtl"`, "إنشاء مفتاح"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("Arabic page lacks %q", want)
		}
	}
	bad := f.adm.submit("/admin/keys", "/admin/keys", url.Values{"owner": {strconv.FormatInt(f.alice.ID, 10)}})
	if bad.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(bad.body, "يرجى إدخال اسم للمفتاح") {
		t.Fatalf("Arabic form error: %d", bad.StatusCode)
	}
	f.adm.header.Set("Accept-Language", "fr")
	if r := f.adm.get("/admin/keys"); !strings.Contains(r.body, `<html lang="fr"`) || !strings.Contains(r.body, "Créer une clé") {
		t.Error("French page lacks its words")
	}
}

var formTokenOnPage = regexp.MustCompile(`name="form_token" value="([^"]+)"`)

func formToken(t *testing.T, body string) string {
	t.Helper()
	m := formTokenOnPage.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form token on the page:\n%s", body)
	}
	return m[1]
}

// TestAdminAPIKeyFormSentTwiceMakesOneKey: the answer that shows a new key
// reloaded (the browser sends the form again), a second click, or the same
// form sent twice at once make one key, not two; the repeat is answered
// 409 with the key masked, never in clear, and a way to revoke it. A
// refused form keeps its token; a new visit of the page makes a new one.
func TestAdminAPIKeyFormSentTwiceMakesOneKey(t *testing.T) {
	f := newKeysFix(t)
	ctx := context.Background()
	c := f.adm
	owner := strconv.FormatInt(f.alice.ID, 10)

	tok := formToken(t, c.get("/admin/keys").body)
	refused := c.submit("/admin/keys", "/admin/keys", url.Values{"owner": {owner}, "form_token": {tok}})
	if refused.StatusCode != http.StatusUnprocessableEntity || formToken(t, refused.body) != tok {
		t.Fatalf("a refused form: %d, token kept: %v", refused.StatusCode, formToken(t, refused.body) == tok)
	}
	form := url.Values{"owner": {owner}, "name": {"Billing"}, "form_token": {tok}}
	first := c.submit("/admin/keys", "/admin/keys", form)
	if first.StatusCode != http.StatusOK {
		t.Fatalf("first send: %d", first.StatusCode)
	}
	key := keyOnPage(t, first.body)
	for i := 0; i < 2; i++ {
		again := c.submit("/admin/keys", "/admin/keys", form)
		if again.StatusCode != http.StatusConflict || !strings.Contains(again.body, `data-testid="key-made-again"`) {
			t.Fatalf("send %d: %d\n%s", i+2, again.StatusCode, again.body)
		}
		if strings.Contains(again.body, key) || newKeyOnPage.MatchString(again.body) {
			t.Fatal("the repeat shows a key in clear")
		}
		if !strings.Contains(again.body, key[:len(models.APIKeyPrefix)+6]+"…") || !strings.Contains(again.body, "/revoke") {
			t.Fatal("the repeat does not show the key made, masked, with its revoke link")
		}
	}
	keys, err := f.store.APIKeyRows(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("%d keys after one form sent three times (%v)", len(keys), err)
	}
	creates := 0
	evs, _ := f.store.ListAudit(ctx, 100, 0)
	for _, e := range evs {
		if e.Action == "apikey.create" {
			creates++
		}
	}
	if creates != 1 {
		t.Fatalf("%d apikey.create audit events", creates)
	}

	// The same new form sent twice at once: one key.
	tok2 := formToken(t, c.get("/admin/keys").body)
	if tok2 == tok {
		t.Fatal("a new visit of the page has the old form's token")
	}
	form2 := url.Values{"owner": {owner}, "name": {"Shop"}, "form_token": {tok2}, "_csrf": {c.csrf("/admin/keys")}}
	codes := make(chan int, 2)
	for range 2 {
		go func() {
			req, _ := http.NewRequest(http.MethodPost, c.app.srv.URL+"/admin/keys", strings.NewReader(form2.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range c.header {
				req.Header[k] = v
			}
			res, err := c.http.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	got := []int{<-codes, <-codes}
	if !(got[0] == http.StatusOK && got[1] == http.StatusConflict || got[0] == http.StatusConflict && got[1] == http.StatusOK) {
		t.Fatalf("two sends at once answered %v, want one 200 and one 409", got)
	}
	if keys, err := f.store.APIKeyRows(ctx); err != nil || len(keys) != 2 {
		t.Fatalf("%d keys after a second form sent twice at once, want 2 (%v)", len(keys), err)
	}
}
