package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/provision"
)

// The JSON API, the error pages, the CSRF refusal, the pager, flashes and
// form errors speak the reader's language: the user's own, else
// Accept-Language, else English. The machine-readable codes never change.

// apiErr decodes an error answer, checking its status and code.
func apiErr(t *testing.T, r result, status int, code string) apiErrorBody {
	t.Helper()
	return apiWant(t, r, status, code)
}

func TestAPIErrorsSpeakTheCallersLanguage(t *testing.T) {
	f := newAPIFix(t)
	ctx := context.Background()

	// The same refusal in three languages: same status and code, the
	// message of each language.
	for _, tc := range []struct {
		accept, want string
	}{
		{"", "there is no such channel"},
		{"ar", "هذه القناة غير موجودة"},
		{"fr-FR,fr;q=0.9,en;q=0.5", "cette chaîne n'existe pas"},
		{"de", "there is no such channel"}, // a language we do not speak: English
		{";;;q=x,,", "there is no such channel"},
	} {
		r := f.c.jsonReq("GET", "/api/channels/999999", "", "Authorization", "Bearer "+f.alice.key, "Accept-Language", tc.accept)
		if e := apiErr(t, r, http.StatusNotFound, "not_found"); e.Error.Message != tc.want {
			t.Errorf("Accept-Language %q: message %q, want %q", tc.accept, e.Error.Message, tc.want)
		}
	}

	// A domain error (a sentinel of models, through domainError's table)
	// in Arabic: no active plan.
	r := f.c.jsonReq("POST", "/api/channels", `{"name":"Sales"}`, "Authorization", "Bearer "+f.alice.key, "Accept-Language", "ar")
	if e := apiErr(t, r, http.StatusConflict, "no_active_plan"); e.Error.Message != "لا توجد باقة مفعّلة: يلزم تفعيل باقة لإضافة القنوات" {
		t.Errorf("no_active_plan in Arabic: %q", e.Error.Message)
	}

	// Field errors: the message and each field's words.
	r = f.c.jsonReq("GET", "/api/channels?limit=0&status=nope", "", "Authorization", "Bearer "+f.alice.key, "Accept-Language", "ar")
	e := apiErr(t, r, http.StatusUnprocessableEntity, "invalid_input")
	if e.Error.Message != "لم يتغيّر شيء: راجع الحقول" || e.Error.Fields["limit"] != "عدد صحيح من ١ إلى ٢٠٠" ||
		!strings.HasPrefix(e.Error.Fields["status"], "إحدى القيم") {
		t.Errorf("field errors in Arabic: %+v", e.Error)
	}

	// A body the API cannot read, in French; the key is quoted as sent.
	r = f.c.jsonReq("POST", "/api/channels", `{"name":"a","name":"b"}`, "Authorization", "Bearer "+f.alice.key, "Accept-Language", "fr")
	if e := apiErr(t, r, http.StatusBadRequest, "bad_json"); e.Error.Message != `la clé "name" apparaît deux fois : envoyez chaque champ une seule fois` {
		t.Errorf("bad_json in French: %q", e.Error.Message)
	}
	r = f.c.jsonReq("POST", "/api/channels", `{"Name":"a"}`, "Authorization", "Bearer "+f.alice.key, "Accept-Language", "fr")
	if e := apiErr(t, r, http.StatusBadRequest, "bad_json"); e.Error.Message != `champ inconnu "Name" : les noms de champs respectent la casse, vouliez-vous dire "name" ?` {
		t.Errorf("case-sensitive key in French: %q", e.Error.Message)
	}
	// And in English, as before.
	r = f.call(f.alice, "POST", "/api/channels", `{"Name":"a"}`)
	if e := apiErr(t, r, http.StatusBadRequest, "bad_json"); e.Error.Message != `unknown field "Name": field names are case-sensitive, did you mean "name"?` {
		t.Errorf("case-sensitive key in English: %q", e.Error.Message)
	}

	// A key that is not valid, before anyone is known: the header decides.
	r = f.c.jsonReq("GET", "/api/channels", "", "Authorization", "Bearer not-a-key", "Accept-Language", "ar")
	if e := apiErr(t, r, http.StatusUnauthorized, "unauthorized"); e.Error.Message != "مفتاح API غير صالح" {
		t.Errorf("invalid key in Arabic: %q", e.Error.Message)
	}

	// The key's user has French set: French whatever the header asks,
	// their field errors included.
	if err := f.a.store.SetUserLanguage(ctx, models.SystemActor, f.alice.id, "fr"); err != nil {
		t.Fatal(err)
	}
	for _, accept := range []string{"", "ar", "en"} {
		r := f.c.jsonReq("GET", "/api/channels/999999", "", "Authorization", "Bearer "+f.alice.key, "Accept-Language", accept)
		if e := apiErr(t, r, http.StatusNotFound, "not_found"); e.Error.Message != "cette chaîne n'existe pas" {
			t.Errorf("user language fr, Accept-Language %q: message %q", accept, e.Error.Message)
		}
	}
	r = f.call(f.alice, "POST", "/api/channels", `{"name":"Sales"}`)
	if e := apiErr(t, r, http.StatusConflict, "no_active_plan"); e.Error.Message != "aucune offre n'est active : une offre active est nécessaire pour ajouter des chaînes" {
		t.Errorf("no_active_plan for a French user: %q", e.Error.Message)
	}
	r = f.call(f.alice, "GET", "/api/channels?offset=-1", "")
	if e := apiErr(t, r, http.StatusUnprocessableEntity, "invalid_input"); e.Error.Fields["offset"] != "un nombre entier, 0 ou plus" {
		t.Errorf("field error for a French user: %+v", e.Error)
	}
	// The other customer, without a language, still reads English.
	r = f.call(f.bob, "GET", "/api/channels/999999", "")
	if e := apiErr(t, r, http.StatusNotFound, "not_found"); e.Error.Message != "there is no such channel" {
		t.Errorf("bob: %q", e.Error.Message)
	}
}

// An admin with French set gets the admin's own words in French, with
// the same code (a retired plan's refusal, from models).
func TestAPIAdminDomainErrorInFrench(t *testing.T) {
	f := newAPIFix(t)
	ctx := context.Background()
	p, err := f.a.store.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: "Old", MaxChannels: 1, DaysPerPeriod: 1, PeriodDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.a.store.SetPlanActive(ctx, models.SystemActor, p.ID, false); err != nil {
		t.Fatal(err)
	}
	body := `{"plan_id":` + strconv.FormatInt(p.ID, 10) + `}`
	r := f.call(f.admin, "POST", "/api/users/"+strconv.FormatInt(f.alice.id, 10)+"/subscription", body)
	if e := apiErr(t, r, http.StatusConflict, "plan_retired"); e.Error.Message != "this plan is retired and takes no new subscribers" {
		t.Errorf("English: %q", e.Error.Message)
	}
	if err := f.a.store.SetUserLanguage(ctx, models.SystemActor, f.admin.id, "fr"); err != nil {
		t.Fatal(err)
	}
	r = f.call(f.admin, "POST", "/api/users/"+strconv.FormatInt(f.alice.id, 10)+"/subscription", body)
	if e := apiErr(t, r, http.StatusConflict, "plan_retired"); e.Error.Message != "cette offre est retirée et n'accepte plus de nouveaux abonnés" {
		t.Errorf("French: %q", e.Error.Message)
	}
}

// wantArabicPage checks that a page is laid out right to left, in Arabic,
// and holds each of words.
func wantArabicPage(t *testing.T, r result, status int, words ...string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d: %.300s", r.StatusCode, status, r.body)
	}
	if !strings.Contains(r.body, `<html lang="ar" dir="rtl">`) {
		t.Errorf("not an Arabic right-to-left page: %.300s", r.body)
	}
	for _, w := range words {
		if !strings.Contains(r.body, w) {
			t.Errorf("the page lacks %q", w)
		}
	}
}

func TestErrorPageInArabic(t *testing.T) {
	a := newTestApp(t)
	c := a.client()
	c.header.Set("Accept-Language", "ar-SA,ar;q=0.9")
	r := c.get("/no-such-page")
	wantArabicPage(t, r, http.StatusNotFound, "الصفحة غير موجودة", "لا يوجد شيء هنا. تحقّق من العنوان، أو عُد إلى صفحة البداية.")
	if strings.Contains(r.body, "There is nothing here") || strings.Contains(r.body, "Not Found") {
		t.Error("the Arabic error page holds English words")
	}

	// English, as before.
	r = a.client().get("/no-such-page")
	if r.StatusCode != http.StatusNotFound || !strings.Contains(r.body, "Not Found") ||
		!strings.Contains(r.body, "There is nothing here. Check the address, or go back to the start page.") {
		t.Errorf("English error page: %d %.300s", r.StatusCode, r.body)
	}
}

func TestCSRFRefusalInArabic(t *testing.T) {
	a := newTestApp(t)
	c := a.client()
	c.header.Set("Accept-Language", "ar")
	// A sign-in posted without the form's token.
	r := c.postForm("/login", url.Values{"email": {"x@example.com"}, "password": {"whatever"}})
	wantArabicPage(t, r, http.StatusForbidden, "الوصول مرفوض",
		"انتهت صلاحية هذا النموذج أو أُرسل من موقع آخر. يُرجى إعادة تحميل الصفحة والمحاولة مرة أخرى.")

	// Signed in, the API refuses a write without the header, in the
	// user's language (Arabic, set on the account; the browser asks for
	// English).
	u := a.newUser(models.RoleCustomer, "rana@example.com")
	if err := a.store.SetUserLanguage(context.Background(), models.SystemActor, u.ID, "ar"); err != nil {
		t.Fatal(err)
	}
	c = a.client()
	c.header.Set("Accept-Language", "en")
	c.login(u.Email)
	r = c.jsonReq("POST", "/api/channels", `{"name":"x"}`)
	if e := apiErr(t, r, http.StatusForbidden, "csrf"); e.Error.Message != "رمز CSRF مفقود أو خاطئ (أرسل X-CSRF-Token، أو استخدم مفتاح API)" {
		t.Errorf("API CSRF refusal: %q", e.Error.Message)
	}

	// English, as before.
	r = a.client().postForm("/login", url.Values{"email": {"x@example.com"}})
	if r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, "This form has expired or was sent from another site. Reload the page and try again.") {
		t.Errorf("English CSRF refusal: %d %.300s", r.StatusCode, r.body)
	}
}

func TestPagerSummaryInArabic(t *testing.T) {
	ar, en, fr := i18n.For("ar"), i18n.For("en"), i18n.For("fr")
	href := func(n int) string { return "?page=" + strconv.Itoa(n) }
	for _, tc := range []struct {
		l           *i18n.Localizer
		total       models.ListTotal
		page        int
		want        string
		first, last string // labels of the first and last numbered links ("" for none)
	}{
		{ar, models.ListTotal{N: 50}, 1, "١–٢٠ من ٥٠", "١", "٣"},
		{ar, models.ListTotal{N: 1000, More: true}, 2, "٢١–٤٠ من أكثر من ١٬٠٠٠", "١", "٥"},
		// Past the end: the total alone, by Arabic's plural rules.
		{ar, models.ListTotal{N: 50}, 9, "٥٠ عنصرًا في المجموع", "", ""},
		{ar, models.ListTotal{N: 2}, 9, "عنصران في المجموع", "", ""},
		{ar, models.ListTotal{N: 5}, 9, "٥ عناصر في المجموع", "", ""},
		{ar, models.ListTotal{N: 1}, 9, "عنصر واحد في المجموع", "", ""},
		{ar, models.ListTotal{N: 1000, More: true}, 99, "أكثر من ١٬٠٠٠ في المجموع", "", ""},
		{fr, models.ListTotal{N: 12345}, 1, "1–20 sur 12\u00a0345", "1", "618"},
		// English, as it always was.
		{en, models.ListTotal{N: 50}, 1, "1–20 of 50", "1", "3"},
		{en, models.ListTotal{N: 1000, More: true}, 2, "21–40 of more than 1,000", "1", "5"},
		{en, models.ListTotal{N: 50}, 9, "50 in all", "", ""},
		{en, models.ListTotal{N: 1000, More: true}, 99, "more than 1,000 in all", "", ""},
	} {
		pg := pagerIn(tc.l, tc.total, 20, tc.page, href)
		if pg.Summary != tc.want {
			t.Errorf("%s %+v page %d: summary %q, want %q", tc.l.Tag(), tc.total, tc.page, pg.Summary, tc.want)
		}
		var labels []string
		for _, k := range pg.Links {
			if !k.Gap {
				labels = append(labels, k.Label)
			}
		}
		var first, last string
		if len(labels) > 0 {
			first, last = labels[0], labels[len(labels)-1]
		}
		if tc.page < 9 && (first != tc.first || last != tc.last) {
			t.Errorf("%s %+v page %d: links %q", tc.l.Tag(), tc.total, tc.page, labels)
		}
	}
	// In a request: the reader's language, from the request's context.
	c := arabicContext()
	if got := listPager(c, models.ListTotal{N: 50}, 20, 1, href).Summary; got != "١–٢٠ من ٥٠" {
		t.Errorf("listPager: %q", got)
	}
	// The English wrapper the pages not yet converted call says the same.
	if got := pagerIn(i18n.For(i18n.Default), models.ListTotal{N: 50}, 20, 1, href).Summary; got != "1–20 of 50" {
		t.Errorf("buildPager: %q", got)
	}
}

// A problem flashed after a refused action (here: putting a customer on a
// retired plan) is in the admin's language.
func TestProblemFlashInArabic(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	admin := a.newUser(models.RoleAdmin, "admin@example.com")
	cust := a.newUser(models.RoleCustomer, "cust@example.com")
	p, err := a.store.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: "Old", MaxChannels: 1, DaysPerPeriod: 1, PeriodDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.SetPlanActive(ctx, models.SystemActor, p.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := a.store.SetUserLanguage(ctx, models.SystemActor, admin.ID, "ar"); err != nil {
		t.Fatal(err)
	}
	c := a.client()
	c.login(admin.Email)
	page := "/admin/users/" + strconv.FormatInt(cust.ID, 10)
	r := c.submit(page, page+"/subscription", url.Values{"plan_id": {strconv.FormatInt(p.ID, 10)}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d: %.300s", r.StatusCode, r.body)
	}
	r = c.get(r.Header.Get("Location"))
	wantArabicPage(t, r, http.StatusOK, "هذه الباقة متوقفة ولا تقبل مشتركين جددًا.")
	if sub, err := a.store.ActiveSubscription(ctx, cust.ID); err == nil {
		t.Fatalf("the customer is on a plan after the refusal: %+v", sub)
	}
}

// A form's own check (a number that is not one) is said in the user's
// language, beside the field.
func TestFormErrorInArabic(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	admin := a.newUser(models.RoleAdmin, "admin@example.com")
	if err := a.store.SetUserLanguage(ctx, models.SystemActor, admin.ID, "ar"); err != nil {
		t.Fatal(err)
	}
	c := a.client()
	c.login(admin.Email)
	r := c.submit("/admin/plans", "/admin/plans", url.Values{"name": {"Gold"}, "max_channels": {"many"}, "days_per_period": {"30"}, "period_days": {"30"}})
	wantArabicPage(t, r, http.StatusUnprocessableEntity, "أدخل عددًا صحيحًا")
	plans, err := a.store.ListPlans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 0 {
		t.Fatalf("a plan was made from a refused form: %+v", plans)
	}

	// A password change's own checks, in French for a user who set it.
	u := a.newUser(models.RoleCustomer, "claire@example.com")
	if err := a.store.SetUserLanguage(ctx, models.SystemActor, u.ID, "fr"); err != nil {
		t.Fatal(err)
	}
	c = a.client()
	c.login(u.Email)
	r = c.submit("/account/password", "/account/password", url.Values{"current_password": {""}, "new_password": {"x"}, "confirm_password": {"x"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "aisissez votre mot de passe actuel") {
		t.Errorf("password form in French: %d %.500s", r.StatusCode, r.body)
	}
	r = c.submit("/account/password", "/account/password", url.Values{"current_password": {testPassword}, "new_password": {"short"}, "confirm_password": {"short"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "e mot de passe doit compter au moins 10 caractères") {
		t.Errorf("short password in French: %d %.500s", r.StatusCode, r.body)
	}
}

// arabicContext is an Echo context of a request read in Arabic, as the
// localize middleware leaves it.
func arabicContext() echo.Context {
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req = req.WithContext(i18n.With(req.Context(), i18n.For("ar")))
	return echo.New().NewContext(req, httptest.NewRecorder())
}

// The helpers other handlers call with their request say their words in
// its language.
func TestRequestHelpersSpeakTheRequestsLanguage(t *testing.T) {
	c := arabicContext()
	if status, code, msg, ok := domainErrorIn(loc(c), models.ErrPlanLimit); !ok || status != http.StatusConflict || code != "plan_limit" ||
		msg != "بلغت الباقة الحد الأقصى للقنوات: احذف قناة أو انتقل إلى باقة أكبر" {
		t.Errorf("requestError: %d %q %q %v", status, code, msg, ok)
	}
	if kind, text, err := requestProblem(c, provision.ErrOutcomeUnknown); err != nil || kind != "warning" ||
		text != "لم يُؤكَّد التغيير بعد؛ ستجري مراجعته وتسويته تلقائيًا، ولن يضيع أي يوم." {
		t.Errorf("requestProblem: %q %q %v", kind, text, err)
	}
	if got := loc(c).T("errors.admin.save_token_first"); got != "احفظه أولًا في إعدادات WHAPI." {
		t.Errorf("save_token_first: %q", got)
	}
}

// The sign-in throttle's refusals, in Arabic, with the wait in Arabic
// words and the Retry-After header in seconds.
func TestThrottledTextInArabic(t *testing.T) {
	e := echo.New()
	for _, tc := range []struct {
		scope throttleScope
		wait  time.Duration
		want  string
	}{
		{scopeDevice, 90 * time.Second, "محاولات دخول فاشلة كثيرة من هذا المتصفح. حاول مرة أخرى بعد دقيقتين."},
		{scopeAddress, 30 * time.Second, "محاولات دخول فاشلة كثيرة من شبكتك. حاول مرة أخرى بعد دقيقة واحدة."},
		{scopeAccount, 15 * time.Minute, "محاولات دخول فاشلة كثيرة إلى هذا الحساب من متصفحات لم يُستخدم فيها من قبل. حاول مرة أخرى بعد ١٥ دقيقة، أو سجّل الدخول من متصفح سبق أن سجّلت الدخول منه."},
		{scopePassword, 4 * time.Minute, "محاولات كثيرة بكلمة مرور خاطئة. حاول مرة أخرى بعد ٤ دقائق."},
	} {
		req := httptest.NewRequest(http.MethodPost, "/login", nil)
		req = req.WithContext(i18n.With(req.Context(), i18n.For("ar")))
		rec := httptest.NewRecorder()
		c := e.NewContext(req, rec)
		got := throttledText(c, &throttled{key: throttleKey{scope: tc.scope}, wait: tc.wait})
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.scope, got, tc.want)
		}
		if ra := rec.Header().Get("Retry-After"); ra != strconv.Itoa(int(tc.wait.Seconds())) {
			t.Errorf("%s: Retry-After %q", tc.scope, ra)
		}
	}
}

// Every error of domainError's table has words in every language, the
// same code whatever the language, and no language falls back to
// showing an id.
func TestDomainErrorsInEveryLanguage(t *testing.T) {
	errs := []error{
		models.ErrDecrypt, provision.FieldErrors{"x": "y"}, &provision.RetryLaterError{After: time.Minute},
		&provision.RetryLaterError{After: 3 * time.Minute, Code: provision.CodeCreateBudget, Again: "you can add a channel again"},
		&provision.RetryLaterError{After: time.Minute, Code: provision.CodePairingLimit, Again: "you can ask for another code"},
		&provision.RetryLaterError{After: 2 * time.Minute, What: "this line was reconnected a moment ago"},
		&provision.ExtendTooSoonError{After: 30 * time.Second}, models.ErrNotFound, models.ErrPlanLimit,
		models.ErrNoActivePlan, models.ErrInsufficientBalance, &models.PlanTooSmallError{Live: 3, Max: 1},
		models.ErrPlanRetired, models.ErrAlreadyOnPlan, models.ErrNotCustomer, models.ErrCustomerDisabled,
		models.ErrAlreadyDeleted, models.ErrInvalidMode, models.ErrChannelBusy, provision.ErrChannelStopped,
		provision.ErrNotLinked, provision.ErrChannelRunning, models.ErrEmailTaken, provision.ErrNotConfigured,
		&provision.ProjectError{ProjectID: "P1"}, provision.ErrPartnerShort, provision.ErrOutcomeUnknown,
		provision.ErrUnconfirmed, provision.ErrUnavailable, provision.ErrRefused,
	}
	for _, err := range errs {
		_, enCode, enMsg, ok := domainErrorIn(i18n.For("en"), err)
		if !ok {
			t.Errorf("%v: not the user's to fix?", err)
		}
		for _, tag := range []string{"ar", "fr"} {
			_, code, msg, _ := domainErrorIn(i18n.For(tag), err)
			if code != enCode {
				t.Errorf("%v in %s: code %q, English %q", err, tag, code, enCode)
			}
			if msg == enMsg || strings.HasPrefix(msg, "errors.") || strings.Contains(msg, "{{") {
				t.Errorf("%v in %s: %q (English %q)", err, tag, msg, enMsg)
			}
		}
	}
	// English keeps the words it always had.
	for err, want := range map[error]string{
		&provision.RetryLaterError{After: 90 * time.Second}:                                                                        "too many new channels at once: try again in 2 minutes",
		&provision.RetryLaterError{After: 2 * time.Minute, What: "this line was reconnected a moment ago"}:                         "this line was reconnected a moment ago: try again in 2 minutes",
		&provision.RetryLaterError{After: 3 * time.Minute, Code: provision.CodeCreateBudget, Again: "you can add a channel again"}: "you can add a channel again in 3 minutes",
		&provision.ExtendTooSoonError{After: time.Minute}:                                                                          "the channel was extended moments ago and can be extended again in 1 minute; nothing was moved",
		&models.PlanTooSmallError{Live: 3, Max: 1}:                                                                                 "the customer has 3 live channels and this plan allows 1: delete channels first",
	} {
		if _, _, msg, _ := domainError(err); msg != want {
			t.Errorf("%v: %q, want %q", err, msg, want)
		}
		if e, ok := err.(*provision.RetryLaterError); ok && e.Error() != want {
			t.Errorf("provision's own words changed: %q, the catalog's %q", e.Error(), want)
		}
	}
	// The flash of a problem: a sentence of the language.
	if _, text, err := problemTextIn(i18n.For("ar"), models.ErrInsufficientBalance); err != nil || text != "رصيد الأيام لا يكفي لذلك." {
		t.Errorf("Arabic problem text: %q, %v", text, err)
	}
	if _, text, _ := problemTextIn(i18n.For(i18n.Default), models.ErrInsufficientBalance); text != "The day balance is too small for this." {
		t.Errorf("English problem text: %q", text)
	}
	// The ids apiCleanName answers are in the catalog.
	for _, in := range []string{"\xff", strings.Repeat("a", 101), "a\nb"} {
		if _, id := apiCleanName(in); !i18n.Has(id) {
			t.Errorf("apiCleanName(%q): %q is not in the catalog", in, id)
		}
	}
}

// The error answer keeps its shape in every language: code, message,
// fields.
func TestAPIErrorShapeInArabic(t *testing.T) {
	f := newAPIFix(t)
	r := f.c.jsonReq("GET", "/api/nothing-here", "", "Authorization", "Bearer "+f.alice.key, "Accept-Language", "ar")
	var raw map[string]map[string]any
	if err := json.Unmarshal([]byte(r.body), &raw); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if r.StatusCode != http.StatusNotFound || raw["error"]["code"] != "not_found" ||
		raw["error"]["message"] != "لا يوجد مسار API بهذا العنوان (أو أنه لا يقبل هذه الطريقة): انظر docs/api.md" {
		t.Errorf("unknown API route in Arabic: %d %s", r.StatusCode, r.body)
	}
}
