package handlers

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"whapidesk/models"
)

// htmlOpens reports whether a page's <html> says the language and
// direction wanted.
func htmlOpens(body, lang, dir string) bool {
	return strings.Contains(body, `<html lang="`+lang+`" dir="`+dir+`">`)
}

// The language switch of the pages before sign-in: a plain form (no
// JavaScript) with the pre-login CSRF token, kept in the lang cookie for
// a year, back to the page it came from; a language we do not speak is
// refused and changes nothing; a foreign back goes to the login page.
func TestLanguageSwitchBeforeSignIn(t *testing.T) {
	a := newTestApp(t)
	c := a.client()

	login := c.get("/login")
	if !htmlOpens(login.body, "en", "ltr") || !strings.Contains(login.body, `action="/language"`) || !strings.Contains(login.body, ">العربية</option>") {
		t.Fatalf("the login page has no language switch in English:\n%s", login.body)
	}
	r := c.submit("/login", "/language", url.Values{"lang": {"ar"}, "back": {"/forgot-password"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/forgot-password" {
		t.Fatalf("switch: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	set := r.Header.Get("Set-Cookie")
	for _, want := range []string{"lang=ar", "Path=/", "Max-Age=31536000", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(set, want) {
			t.Fatalf("lang cookie %q lacks %q", set, want)
		}
	}
	if strings.Contains(set, "Secure") {
		t.Fatalf("a plain-HTTP answer set a Secure cookie: %q", set)
	}
	page := c.get("/forgot-password")
	if !htmlOpens(page.body, "ar", "rtl") || !strings.Contains(page.body, "هل نسيت كلمة المرور؟") {
		t.Fatalf("the page after switching is not Arabic:\n%s", page.body)
	}
	if !strings.Contains(page.body, `<option value="ar" lang="ar" dir="rtl" selected>`) {
		t.Fatal("the switch does not show Arabic as chosen")
	}

	// A tag we do not speak: 400 with a message, the cookie unchanged.
	bad := c.submit("/login", "/language", url.Values{"lang": {"xx"}, "back": {"/login"}})
	if bad.StatusCode != http.StatusBadRequest || bad.Header.Get("Set-Cookie") != "" {
		t.Fatalf("unknown language: %d, Set-Cookie %q", bad.StatusCode, bad.Header.Get("Set-Cookie"))
	}
	if !strings.Contains(custText(bad.body), "هذه اللغة غير متاحة") {
		t.Fatalf("the refusal does not say why, in the reader's language:\n%s", custText(bad.body))
	}
	if ck := c.cookie("lang"); ck == nil || ck.Value != "ar" {
		t.Fatalf("lang cookie after a refused switch: %v", ck)
	}

	// back is ours only; French from here on.
	for _, back := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", ""} {
		r := c.submit("/login", "/language", url.Values{"lang": {"fr"}, "back": {back}})
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
			t.Fatalf("back %q: %d to %q", back, r.StatusCode, r.Header.Get("Location"))
		}
	}
	if p := c.get("/login"); !htmlOpens(p.body, "fr", "ltr") || !strings.Contains(p.body, "Mot de passe oublié ?") {
		t.Fatalf("the login page is not French:\n%s", custText(p.body))
	}

	// Without the pre-login token the switch is refused like any form.
	stranger := a.client()
	if r := stranger.postForm("/language", url.Values{"lang": {"ar"}}); r.StatusCode != http.StatusForbidden || stranger.cookie("lang") != nil {
		t.Fatalf("a switch without a token: %d, cookie %v", r.StatusCode, stranger.cookie("lang"))
	}
}

// The pages before sign-in follow Accept-Language, and a wrong password
// is said in the reader's language; a malformed header is English.
func TestSignInPagesInTheBrowsersLanguage(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleCustomer, "amal@example.com")
	c := a.client()
	c.header.Set("Accept-Language", "ar-AE,ar;q=0.9,en;q=0.5")
	login := c.get("/login")
	if !htmlOpens(login.body, "ar", "rtl") || !strings.Contains(login.body, "تسجيل الدخول") {
		t.Fatalf("login with Accept-Language ar:\n%s", custText(login.body))
	}
	r := c.submit("/login", "/login", url.Values{"email": {"amal@example.com"}, "password": {"not the password"}})
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "البريد الإلكتروني أو كلمة المرور غير صحيحة.") {
		t.Fatalf("a wrong password in Arabic: %d\n%s", r.StatusCode, custText(r.body))
	}
	fr := a.client()
	fr.header.Set("Accept-Language", "fr-CA")
	if p := fr.get("/forgot-password"); !htmlOpens(p.body, "fr", "ltr") || !strings.Contains(p.body, "M’envoyer un lien") {
		t.Fatalf("forgot password in French:\n%s", custText(p.body))
	}
	odd := a.client()
	odd.header.Set("Accept-Language", ";;q=x,,*-*")
	if p := odd.get("/login"); p.StatusCode != http.StatusOK || !htmlOpens(p.body, "en", "ltr") {
		t.Fatalf("a malformed Accept-Language: %d", p.StatusCode)
	}
}

// A user's own language, set on the account page, beats the browser's:
// saved through the store, the next page and its flash in it; an unknown
// one is refused next to the field and nothing is saved; "" gives the
// choice back to the browser.
func TestAccountLanguageSetting(t *testing.T) {
	f := newCustFix(t)
	u := f.customer("amal@example.com", true)
	c := f.signedIn(u.Email)
	c.header.Set("Accept-Language", "ar")

	page := c.get("/account/password")
	if !htmlOpens(page.body, "ar", "rtl") || !strings.Contains(page.body, `<option value="" selected>كما يطلب متصفحي</option>`) {
		t.Fatalf("the account page does not offer the browser's choice, chosen:\n%s", page.body)
	}
	r := c.submit("/account/password", "/account/language", url.Values{"language": {"fr"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/account/password#language" {
		t.Fatalf("save: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	if got := f.reloadUser(u).Language; got != "fr" {
		t.Fatalf("stored language %q, want fr", got)
	}
	next := c.get("/account/password")
	if !htmlOpens(next.body, "fr", "ltr") || !strings.Contains(next.body, "Votre langue est enregistrée.") ||
		!strings.Contains(next.body, `<option value="fr" selected>Français</option>`) {
		t.Fatalf("the next page is not French, with its flash:\n%s", custText(next.body))
	}
	if p := c.get("/app"); !htmlOpens(p.body, "fr", "ltr") {
		t.Fatal("the user's language does not follow them to the dashboard")
	}

	bad := c.submit("/account/password", "/account/language", url.Values{"language": {"de"}})
	if bad.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(bad.body, `data-testid="error-language"`) ||
		!strings.Contains(bad.body, "Choisissez l’une des langues de la liste.") {
		t.Fatalf("unknown language: %d\n%s", bad.StatusCode, custText(bad.body))
	}
	if got := f.reloadUser(u).Language; got != "fr" {
		t.Fatalf("a refused language changed the stored one to %q", got)
	}

	// A form error of the page comes in the user's language too.
	wrong := c.submit("/account/password", "/account/password", url.Values{
		"current_password": {"not my password"}, "new_password": {"a much longer new secret"}, "confirm_password": {"a much longer new secret"}})
	if wrong.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(wrong.body, "Le mot de passe actuel est incorrect.") {
		t.Fatalf("wrong current password in French: %d\n%s", wrong.StatusCode, custText(wrong.body))
	}

	if r := c.submit("/account/password", "/account/language", url.Values{"language": {""}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("back to the browser's choice: %d", r.StatusCode)
	}
	if got := f.reloadUser(u).Language; got != "" {
		t.Fatalf("stored language %q, want none", got)
	}
	if p := c.get("/account/password"); !htmlOpens(p.body, "ar", "rtl") || !strings.Contains(p.body, "تم حفظ لغتك.") {
		t.Fatalf("without a language of their own, the browser's Arabic:\n%s", custText(p.body))
	}
	var n int64
	if err := f.store.DB().WithContext(context.Background()).Table("audit_events").Where("action = ?", "user.language").Count(&n).Error; err != nil || n != 2 {
		t.Fatalf("%d audit rows for two language changes (%v)", n, err)
	}
}

// The connect page of a customer whose language is Arabic: right to
// left, in Arabic, with the QR code, the pairing code and phone numbers
// left to right; its flash (a revoked link) and a connect link's page in
// Arabic too.
func TestConnectPagesInArabic(t *testing.T) {
	f := newCustFix(t)
	u := f.customer("amal@example.com", true)
	ch := f.channel(u, "مبيعات")
	if err := f.store.SetUserLanguage(context.Background(), models.Actor{}, u.ID, "ar"); err != nil {
		t.Fatal(err)
	}
	c := f.signedIn(u.Email)
	page := c.get(connectPath(ch.ID, ""))
	custWant(t, page, http.StatusOK)
	if !htmlOpens(page.body, "ar", "rtl") {
		t.Fatal("the connect page is not right to left")
	}
	custHas(t, page.body, "اربط هاتفك بالقناة «مبيعات»", "امسح الرمز", "الربط برقم الهاتف بدلًا من ذلك", "مشاركة رابط الربط")
	for _, want := range []string{`<div class="qr-box" dir="ltr">`, `class="qr" src=`, `alt="رمز QR لربط واتساب بالقناة «مبيعات»`} {
		if !strings.Contains(page.body, want) {
			t.Fatalf("the page lacks %s", want)
		}
	}
	if !strings.Contains(page.body, `id="pairing-phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" required dir="ltr"`) {
		t.Fatal("the phone field is not left to right")
	}
	r := c.submit(connectPath(ch.ID, ""), connectPath(ch.ID, "/pairing"), url.Values{"phone": {"+1 555 123 4567"}})
	custWant(t, r, http.StatusOK)
	if !strings.Contains(r.body, `<p class="countdown mono" dir="ltr" data-testid="pairing-code">`) {
		t.Fatal("the pairing code is not left to right")
	}
	custHas(t, r.body, "رمزك للرقم +15551234567:")

	made := c.submit(connectPath(ch.ID, ""), custChannelBase(ch.ID)+"/connect-links", url.Values{"valid_minutes": {"120"}})
	custWant(t, made, http.StatusOK)
	custHas(t, made.body, "رابطك (يُعرض مرة واحدة)، صالح حتى", "ساعتين")
	link := regexp1(t, made.body, `id="share-link-url" class="mono" type="text" dir="ltr" readonly value="([^"]+)"`)

	anon := f.client()
	anon.header.Set("Accept-Language", "ar")
	lp := anon.get(strings.TrimPrefix(link, f.srv.URL))
	custWant(t, lp, http.StatusOK)
	if !htmlOpens(lp.body, "ar", "rtl") {
		t.Fatal("the connect link's page is not right to left")
	}
	custHas(t, lp.body, "هذا الرابط صالح حتى", "(أي لمدة ١٢٠ دقيقة من الآن)")
	if ended := anon.get("/l/not-a-real-token-at-all"); !strings.Contains(custText(ended.body), "هذا الرابط غير صالح") {
		t.Fatalf("an unknown link in Arabic:\n%s", custText(ended.body))
	}

	lid := regexp1(t, made.body, `action="/app/channels/\d+/connect-links/(\d+)/revoke"`)
	rv := c.submit(connectPath(ch.ID, ""), custChannelBase(ch.ID)+"/connect-links/"+lid+"/revoke", nil)
	if flash := custFlash(t, c, rv, connectPath(ch.ID, "")); !strings.Contains(flash, "أُلغي الرابط") {
		t.Fatalf("the revoke flash is not Arabic: %q", flash)
	}
}

// regexp1 returns the first group of pattern's first match in body.
func regexp1(t *testing.T, body, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in the page:\n%s", pattern, custText(body))
	}
	return html.UnescapeString(m[1])
}
