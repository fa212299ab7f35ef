package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"whapidesk/models"
	"whapidesk/provision"
)

// Fuzz targets for every admin form and admin JSON body that
// fuzz_test.go does not cover. Each target builds the app once (not per
// input) and checks, for every input:
//
//   - the answer is never a 5xx, and its status is one the route gives;
//   - a 4xx answer (and a form's 303 back with an error) changed nothing:
//     the database fingerprint below is the same before and after;
//   - a success did what it said (the record holds exactly the parsed
//     input) and left the invariants intact (ledger sums, no negative
//     balance, plan limits, no operation left open);
//   - no input is shown unescaped, on the answer or on the page a 303
//     leads to; secrets (partner token, password, its hash) are never shown.
//
// Where the outcome can be computed from the input (a valid plan is
// created, an invalid one refused) the target says which it must be.

// adminFuzz is the fuzz app of fuzz_test.go with an admin signed in (the
// forms' session and CSRF token), a second customer in auto mode with a
// channel, a plan to edit, a second handle on the database for
// fingerprints, and the admin pages' template text (baseline) to tell a
// reflected input from markup the page always has.
type adminFuzz struct {
	*fuzzApp
	raw       *gorm.DB
	plan      *models.Plan // the customers' plan ("Fuzz", 1,000 channels)
	editPlan  *models.Plan // no subscribers: edits cannot break a limit
	autoCust  *models.User
	autoCh    *models.Channel
	adminHTTP *http.Client
	adminCSRF string
	apiHTTP   *http.Client
	baseline  string
}

func newAdminFuzz(f *testing.F) *adminFuzz {
	f.Helper()
	ctx := context.Background()
	af := &adminFuzz{fuzzApp: newFuzzApp(f), apiHTTP: &http.Client{Timeout: 30 * time.Second}}
	plans, err := af.store.ListPlans(ctx)
	if err != nil || len(plans) != 1 {
		f.Fatalf("plans: %v %d", err, len(plans))
	}
	af.plan = &plans[0].Plan
	if af.editPlan, err = af.store.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: "Edit me", MaxChannels: 5, DaysPerPeriod: 30, PeriodDays: 30}); err != nil {
		f.Fatal(err)
	}
	if af.autoCust, err = af.store.CreateUser(ctx, models.NewUser{Email: "auto@example.com", Name: "Auto", Password: testPassword, Role: models.RoleCustomer}); err != nil {
		f.Fatal(err)
	}
	if _, err := af.svc.ActivatePlan(ctx, models.SystemActor, af.autoCust.ID, af.plan.ID); err != nil {
		f.Fatal(err)
	}
	if err := af.store.SetAllocationMode(ctx, models.SystemActor, af.autoCust.ID, models.AllocationAuto); err != nil {
		f.Fatal(err)
	}
	if af.autoCh, err = af.svc.CreateChannel(ctx, models.SystemActor, provision.CreateInput{UserID: af.autoCust.ID, Name: "Auto line"}); err != nil {
		f.Fatal(err)
	}
	af.raw = fuzzOpenRaw(f, af.testApp)
	af.adminHTTP, af.adminCSRF = fuzzLogin(f, af.srv.URL, "admin@example.com", "/admin")

	// The baseline: every page the targets can answer or lead to, as
	// rendered with harmless data, and each form refused once (empty).
	var base strings.Builder
	get := func(path string) {
		res, err := af.adminHTTP.Get(af.srv.URL + path)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		base.Write(b)
	}
	post := func(path string, form url.Values, hx bool) {
		form.Set("_csrf", af.adminCSRF)
		req, _ := http.NewRequest(http.MethodPost, af.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if hx {
			req.Header.Set("HX-Request", "true")
		}
		res, err := af.adminHTTP.Do(req)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusUnprocessableEntity {
			f.Fatalf("baseline POST %s: %d, want 422", path, res.StatusCode)
		}
		base.Write(b)
	}
	cust, ch := af.idOf(af.customer.ID), af.idOf(af.channel.ID)
	for _, p := range []string{"/admin", "/admin/users", "/admin/users?role=all", "/admin/users/" + cust, "/admin/users/" + af.idOf(af.autoCust.ID),
		"/admin/users/" + af.idOf(af.admin.ID), "/admin/plans", "/admin/plans/" + af.idOf(af.editPlan.ID) + "/edit", "/admin/channels",
		"/admin/channels?extend=" + ch, "/admin/settings/whapi", "/admin/audit", "/admin/nothing-here"} {
		get(p)
	}
	post("/admin/plans", url.Values{}, false)
	post("/admin/plans/"+af.idOf(af.editPlan.ID), url.Values{}, false)
	post("/admin/users", url.Values{}, false)
	post("/admin/users/"+cust+"/days", url.Values{}, false)
	post("/admin/channels/"+ch+"/extend", url.Values{}, false)
	post("/admin/users/"+cust+"/channels/"+ch+"/extend", url.Values{}, false)
	post("/admin/settings/whapi", url.Values{"low_balance_threshold": {"x"}}, false)
	post("/admin/users/"+cust+"/mode", url.Values{}, true)
	af.baseline = base.String()
	return af
}

func (af *adminFuzz) idOf(id int64) string { return strconv.FormatInt(id, 10) }

// fuzzOpenRaw opens a second handle on the app's SQLite file, only to
// read: the store exports no raw handle, and a fingerprint of every table
// is the surest "nothing changed".
//
// On PostgreSQL, where a read-only second handle would see the same
// committed rows, it is the store's own.
func fuzzOpenRaw(f *testing.F, a *testApp) *gorm.DB {
	f.Helper()
	if a.store.Postgres() {
		return a.store.DB()
	}
	path := a.dbPath
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_query_only", "true")
	db, err := gorm.Open(sqlite.Open("file:"+path+"?"+q.Encode()), &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			_ = s.Close()
		}
	})
	return db
}

// fuzzFPQueries make the fingerprint: every row of the tables a request
// may change, and the size of the append-only ones. Left out: sessions
// (every request touches its own; the flash lives there) and the API
// keys' last_used_at (every API call stamps it).
var fuzzFPQueries = []string{
	"SELECT 'users', * FROM users ORDER BY id",
	"SELECT 'api_keys', id, user_id, name, prefix, hash, created_at, revoked_at FROM api_keys ORDER BY id",
	"SELECT 'settings', * FROM settings",
	"SELECT 'plans', * FROM plans ORDER BY id",
	"SELECT 'subscriptions', * FROM subscriptions ORDER BY id",
	"SELECT 'channels', * FROM channels ORDER BY id",
	"SELECT 'operations', * FROM operations ORDER BY id",
	"SELECT 'audit_events', count(*), max(id) FROM audit_events",
	"SELECT 'day_ledger', count(*), max(id), COALESCE(SUM(delta), 0) FROM day_ledger",
	"SELECT 'partner_ledger', count(*), max(id), COALESCE(SUM(delta), 0) FROM partner_ledger",
}

// fingerprint is the database's state, one line per row.
func (af *adminFuzz) fingerprint(t *testing.T) []string {
	t.Helper()
	var lines []string
	for _, q := range fuzzFPQueries {
		rows, err := af.raw.Raw(q).Rows()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if i > 0 {
					b.WriteByte('|')
				}
				switch v := v.(type) {
				case []byte:
					fmt.Fprintf(&b, "%q", v)
				case time.Time:
					b.WriteString(v.UTC().Format(time.RFC3339Nano))
				default:
					fmt.Fprintf(&b, "%v", v)
				}
			}
			lines = append(lines, b.String())
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return lines
}

// fpDiff says how two fingerprints differ ("" when they do not).
func fpDiff(before, after []string) string {
	if slices.Equal(before, after) {
		return ""
	}
	var b strings.Builder
	n := 0
	for _, l := range before {
		if !slices.Contains(after, l) && n < 8 {
			fmt.Fprintf(&b, "  - %.300s\n", l)
			n++
		}
	}
	for _, l := range after {
		if !slices.Contains(before, l) && n < 16 {
			fmt.Fprintf(&b, "  + %.300s\n", l)
			n++
		}
	}
	return b.String()
}

// unchanged fails the input when the database changed since before.
func (af *adminFuzz) unchanged(t *testing.T, before []string, what string) {
	t.Helper()
	if d := fpDiff(before, af.fingerprint(t)); d != "" {
		t.Fatalf("%s changed the database:\n%s", what, d)
	}
}

// invariants fails the input unless design §2's invariants hold.
func (af *adminFuzz) invariants(t *testing.T, what string) {
	t.Helper()
	ctx := context.Background()
	if bad, err := af.store.CheckLedger(ctx); err != nil || len(bad) > 0 {
		t.Fatalf("%s: ledger does not sum to the balances: %v %+v", what, err, bad)
	}
	for _, c := range []struct{ name, q string }{
		{"negative balances", `SELECT count(*) FROM users WHERE day_balance < 0`},
		{"customers above their plan's channel limit", `SELECT count(*) FROM (
			SELECT s.user_id FROM subscriptions s JOIN plans p ON p.id = s.plan_id
			LEFT JOIN channels c ON c.user_id = s.user_id AND c.status IN ('pending', 'trial', 'active')
			WHERE s.status = 'active' GROUP BY s.user_id, p.max_channels HAVING count(c.id) > p.max_channels) AS over_limit`},
		{"operations left open", `SELECT count(*) FROM operations WHERE state IN ('reserved', 'sent')`},
		{"channels with negative days", `SELECT count(*) FROM channels WHERE days_allocated < 0`},
		{"customers with two active plans", `SELECT count(*) FROM (SELECT user_id FROM subscriptions WHERE status = 'active' GROUP BY user_id HAVING count(*) > 1) AS twice`},
	} {
		var n int64
		if err := af.raw.Raw(c.q).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("%s: %d %s", what, n, c.name)
		}
	}
}

// fuzzMarkup are the characters an unescaped input could break a page with.
const fuzzMarkup = `<>"'`

// reflected returns an input shown raw in an HTML body ("" if none): one
// holding markup characters, long enough not to be a chance match, that
// is not template text of the admin pages. The XSS payloads of
// security_matrix_test.go never appear raw, whatever the input.
func (af *adminFuzz) reflected(body string, inputs ...string) string {
	for _, raw := range xssRaw {
		if strings.Contains(body, raw) {
			return raw
		}
	}
	for _, in := range inputs {
		for _, s := range []string{in, strings.TrimSpace(in)} {
			if len(s) >= 6 && strings.ContainsAny(s, fuzzMarkup) && strings.Contains(body, s) && !strings.Contains(af.baseline, s) {
				return s
			}
		}
	}
	return ""
}

// reflectedJSON is reflected for JSON answers: there only < and > could
// make markup (the encoder writes them as \u003c and \u003e).
func reflectedJSON(body string, inputs ...string) string {
	for _, raw := range xssRaw {
		if strings.Contains(body, raw) {
			return raw
		}
	}
	for _, in := range inputs {
		for _, s := range []string{in, strings.TrimSpace(in)} {
			if len(s) >= 2 && strings.ContainsAny(s, "<>") && strings.Contains(body, s) {
				return s
			}
		}
	}
	return ""
}

// checkHTML fails the input if the HTML answer shows an input raw or is
// not HTML at all.
func (af *adminFuzz) checkHTML(t *testing.T, r result, what string, inputs ...string) {
	t.Helper()
	if s := af.reflected(r.body, inputs...); s != "" {
		i := strings.Index(r.body, s)
		t.Fatalf("%s: %q is shown unescaped: …%s…", what, s, r.body[max(0, i-120):min(len(r.body), i+len(s)+120)])
	}
	if ct := r.Header.Get("Content-Type"); r.body != "" && !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
	if strings.Contains(r.body, "$2a$") {
		t.Fatalf("%s: a password hash is shown", what)
	}
}

// checkJSON is checkHTML for the API.
func checkJSON(t *testing.T, r result, what string, inputs ...string) {
	t.Helper()
	if s := reflectedJSON(r.body, inputs...); s != "" {
		t.Fatalf("%s: %q is in the JSON answer unescaped:\n%.600s", what, s, r.body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
	if !json.Valid([]byte(r.body)) {
		t.Fatalf("%s: the answer is not JSON:\n%.600s", what, r.body)
	}
	// (An error may name the field "password"; a record never has one.)
	if strings.Contains(r.body, "$2a$") || strings.Contains(r.body, `"password_hash"`) || r.StatusCode < 300 && strings.Contains(r.body, `"password"`) {
		t.Fatalf("%s: a password (or its hash) is in the answer:\n%.600s", what, r.body)
	}
}

// form posts an admin form with the session's CSRF token; hx sends it as
// HTMX does.
func (af *adminFuzz) form(t *testing.T, path string, form url.Values, hx bool) result {
	t.Helper()
	form.Set("_csrf", af.adminCSRF)
	req, err := http.NewRequest(http.MethodPost, af.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if hx {
		req.Header.Set("HX-Request", "true")
	}
	return af.clientOf(t, af.adminHTTP).do(req)
}

var (
	fuzzFlashRE         = regexp.MustCompile(`class="alert alert-([a-z]+)" role="status"`)
	fuzzPasswordInputRE = regexp.MustCompile(`<input[^>]*name="password"[^>]*>`)
)

// follow loads the page a 303 leads to, as the browser would, and returns
// it with the kind of its flash ("" if none). The page must answer 200.
func (af *adminFuzz) follow(t *testing.T, r result) (result, string) {
	t.Helper()
	page, kind := af.followAny(t, r)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("303 to %s, which answers %d", r.Header.Get("Location"), page.StatusCode)
	}
	return page, kind
}

// followAny is follow for a 303 whose target the request chose (a form's
// "back"): it must be a path of this site and not fail (5xx), but may be
// a page that does not exist.
func (af *adminFuzz) followAny(t *testing.T, r result) (result, string) {
	t.Helper()
	loc := r.Header.Get("Location")
	u, err := url.Parse(loc)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.ContainsRune(loc, '\\') {
		t.Fatalf("303 to %q: not a path of this site", loc)
	}
	page := af.clientOf(t, af.adminHTTP).get(browserURL(loc))
	if page.StatusCode >= 500 {
		t.Fatalf("303 to %s, which answers %d", loc, page.StatusCode)
	}
	kind := ""
	if m := fuzzFlashRE.FindStringSubmatch(page.body); m != nil {
		kind = m[1]
	}
	return page, kind
}

// browserURL percent-encodes what a browser encodes in a Location before
// following it (controls, space, non-ASCII, " < > `); Go's client would
// send them raw, which its server refuses as a malformed request line.
func browserURL(loc string) string {
	var b strings.Builder
	for i := 0; i < len(loc); i++ {
		if c := loc[i]; c <= 0x20 || c >= 0x7f || strings.IndexByte("\"<>`", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// api sends a JSON body with the admin's API key.
func (af *adminFuzz) api(t *testing.T, method, path, body string) result {
	t.Helper()
	req, err := http.NewRequest(method, af.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+af.adminKey)
	return af.clientOf(t, af.apiHTTP).do(req)
}

// fuzzDecode decodes a body as the API does (decodeJSON): one object,
// each key once and spelt exactly as a field of v, nothing after it. The
// bodies of the API are flat, so keys are checked at the top (a nested
// object is a wrong type anyway).
func fuzzDecode(body string, v any) bool {
	known := map[string]bool{}
	rt := reflect.TypeOf(v).Elem()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		known[name] = true
	}
	dec := json.NewDecoder(strings.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		k, _ := tok.(string)
		if err != nil || seen[k] || !known[k] {
			return false
		}
		seen[k] = true
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			return false
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		return false
	}
	dec = json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v) == nil
}

// fuzzInt parses a form number as readFormInt does.
func fuzzInt(raw string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	return n, err == nil
}

// fuzzJSONString is s as a JSON string.
func fuzzJSONString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// fuzzText reports whether s passes the app's check of one-line texts
// (names, comments): trimmed, valid UTF-8, at most maxRunes, no control
// characters, not empty when required.
func fuzzText(s string, maxRunes int, required bool) bool {
	t := strings.TrimSpace(s)
	if t == "" {
		return !required
	}
	if !utf8.ValidString(t) || utf8.RuneCountInString(t) > maxRunes {
		return false
	}
	for _, r := range t {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func fuzzComment(s string) bool { return fuzzText(s, provision.MaxComment, true) }

// The seeds shared by the text fields.
var fuzzTextSeeds = []string{
	"", " ", "ok", "Plan B", "<script>alert(1)</script>", `"><img src=x onerror=alert(1)>`, "a\x00b", "\xff\xfe",
	"line\nbreak", "tab\there", "\u202eevil", "ünïcödé ✓ 日本語", strings.Repeat("x", 60), strings.Repeat("é", 61),
	strings.Repeat("y", 200), strings.Repeat("z", 201), strings.Repeat("w", 5000), "  padded  ", "' OR 1=1 --", "{{.}}", "${7*7}",
}

// The seeds shared by the number fields.
var fuzzNumberSeeds = []string{
	"1", "0", "-1", "30", " 30 ", "3650", "3651", "1000", "1001", "100000", "100001", "9223372036854775807",
	"-9223372036854775808", "99999999999999999999", "1e3", "1.5", "0x10", "+5", "٣", "", "abc", "5\x00",
}

// FuzzAdminPlanForm posts the plan form (create, or edit of a plan without
// subscribers) with any name and numbers: 303 (saved) exactly when every
// field is valid and the name is free, else 422 with nothing changed; a
// saved plan holds exactly the parsed fields.
func FuzzAdminPlanForm(f *testing.F) {
	seeds := [][4]string{
		{"Basic", "3", "30", "30"}, {"", "", "", ""}, {"Zero", "0", "0", "0"}, {"Neg", "-1", "-30", "-30"},
		{"Max", "1000", "3650", "3650"}, {"Over", "1001", "3651", "3651"}, {"Huge", "9223372036854775807", "9223372036854775807", "9223372036854775807"},
		{"Min", "-9223372036854775808", "1", "1"}, {"Overflow", "99999999999999999999", "1", "1"}, {"Float", "1.5", "1e3", "0x10"},
		{"Spaces", " 3 ", "\t30\n", " 30"}, {"Arabic digits", "٣", "30", "30"}, {"Fuzz", "1", "1", "1"}, {"edit me", "1", "1", "1"},
	}
	for _, s := range fuzzTextSeeds {
		seeds = append(seeds, [4]string{s, "2", "30", "30"})
	}
	for i, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], i%3 == 0)
	}
	af := newAdminFuzz(f)
	f.Fuzz(func(t *testing.T, name, maxCh, daysPer, period string, edit bool) {
		path := "/admin/plans"
		if edit {
			path += "/" + af.idOf(af.editPlan.ID)
		}
		what := fmt.Sprintf("POST %s name %q max %q days %q period %q", path, name, maxCh, daysPer, period)
		in := models.PlanInput{Name: name}
		var okMax, okDays, okPeriod bool
		in.MaxChannels, okMax = fuzzInt(maxCh)
		in.DaysPerPeriod, okDays = fuzzInt(daysPer)
		in.PeriodDays, okPeriod = fuzzInt(period)
		clean, verr := provision.ValidatePlan(context.Background(), in)
		valid := okMax && okDays && okPeriod && verr == nil

		before := af.fingerprint(t)
		r := af.form(t, path, url.Values{"name": {name}, "max_channels": {maxCh}, "days_per_period": {daysPer}, "period_days": {period}}, false)
		inputs := []string{name, maxCh, daysPer, period}
		switch r.StatusCode {
		case http.StatusUnprocessableEntity:
			af.unchanged(t, before, what+" → 422")
			af.checkHTML(t, r, what, inputs...)
			if valid {
				var taken int64
				q := `SELECT count(*) FROM plans WHERE lower(name) = lower(?)`
				if edit {
					q += " AND id <> " + af.idOf(af.editPlan.ID)
				}
				if err := af.raw.Raw(q, clean.Name).Scan(&taken).Error; err != nil {
					t.Fatal(err)
				}
				if taken == 0 {
					t.Fatalf("%s: valid, name free, but refused:\n%.600s", what, r.body)
				}
			}
		case http.StatusSeeOther:
			if !valid {
				t.Fatalf("%s: invalid but saved (→ %s)", what, r.Header.Get("Location"))
			}
			if loc := r.Header.Get("Location"); loc != "/admin/plans" {
				t.Fatalf("%s: 303 to %q", what, loc)
			}
			page, kind := af.follow(t, r)
			if kind != "success" {
				t.Fatalf("%s: saved, but the flash is %q", what, kind)
			}
			af.checkHTML(t, page, what+" (the plans page after)", inputs...)
			var got []models.Plan
			if err := af.raw.Raw(`SELECT * FROM plans WHERE name = ?`, clean.Name).Scan(&got).Error; err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].MaxChannels != clean.MaxChannels || got[0].DaysPerPeriod != clean.DaysPerPeriod || got[0].PeriodDays != clean.PeriodDays {
				t.Fatalf("%s: saved as %+v, want %+v", what, got, clean)
			}
			if edit != (got[0].ID == af.editPlan.ID) {
				t.Fatalf("%s: saved plan %d (edit %v, plan to edit %d)", what, got[0].ID, edit, af.editPlan.ID)
			}
			af.invariants(t, what)
		default:
			t.Fatalf("%s → %d:\n%.600s", what, r.StatusCode, r.body)
		}
	})
}

// FuzzAdminUserForm posts the "new account" form with any email, name,
// password and role (as a form and as HTMX): the account is created
// exactly when every field is valid and the email is free; it then signs
// in with exactly that password. The password is never shown back.
func FuzzAdminUserForm(f *testing.F) {
	seeds := [][4]string{
		{"new@example.com", "New", "a long password", "customer"}, {"adm@example.com", "", "another password", "admin"},
		{"invited@example.com", "Invited", "", "customer"},
		{"", "", "", ""}, {"not-an-email", "x", "a long password", "customer"}, {"NEW2@Example.COM ", " Spaced ", "a long password", "customer"},
		{"customer@example.com", "taken", "a long password", "customer"}, {"x@example.com", "x", "short", "customer"},
		{"y@example.com", "y", strings.Repeat("p", 72), "customer"}, {"z@example.com", "z", strings.Repeat("p", 73), "customer"},
		{"w@example.com", "w", strings.Repeat("é", 36), "customer"}, {"v@example.com", "v", "a long password", "root"},
		{"u@example.com", "u", "a long password", "Admin"}, {"t@example.com", "t", "a long password", ""},
		{"<script>alert(1)</script>@example.com", "x", "a long password", "customer"}, {"a@b", "x", "a long password", "customer"},
		{"\"q\"@example.com", "q", "a long password", "customer"}, {"s@example.com", "s", "pass\x00word12345", "customer"},
		{"r@example.com", "r", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6", "customer"}, {strings.Repeat("a", 250) + "@example.com", "x", "a long password", "customer"},
		{"ü@exämple.com", "x", "a long password", "customer"}, {"p@example.com", "p", "<script>alert(1)</script>", "customer"},
	}
	for _, s := range fuzzTextSeeds {
		seeds = append(seeds, [4]string{"n" + strconv.Itoa(len(seeds)) + "@example.com", s, "a long password", "customer"})
	}
	for i, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], i%4 == 1)
	}
	af := newAdminFuzz(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, email, name, password, role string, hx bool) {
		what := fmt.Sprintf("POST /admin/users email %q name %q password %q role %q hx %v", email, name, password, role, hx)
		norm, emailErr := models.NormalizeEmail(email)
		// No password at all is an invitation (a set-password link by mail).
		invited := password == ""
		valid := emailErr == nil && fuzzText(name, 100, false) && (invited || utf8.RuneCountInString(password) >= models.MinPasswordLength &&
			len(password) <= 72) && (role == "admin" || role == "customer")
		before := af.fingerprint(t)
		r := af.form(t, "/admin/users", url.Values{"email": {email}, "name": {name}, "password": {password}, "role": {role}}, hx)
		inputs := []string{email, name, password, role}
		var created *models.User
		switch {
		case r.StatusCode == http.StatusUnprocessableEntity:
			af.unchanged(t, before, what+" → 422")
			af.checkHTML(t, r, what, inputs...)
			if m := fuzzPasswordInputRE.FindString(r.body); strings.Contains(m, "value=") {
				t.Fatalf("%s: the password field is filled in again: %s", what, m)
			}
			if valid {
				if _, err := af.store.UserByEmail(ctx, norm); err != nil {
					t.Fatalf("%s: valid, email free, but refused:\n%.600s", what, r.body)
				}
			}
			return
		case r.StatusCode == http.StatusSeeOther && !hx, r.StatusCode == http.StatusOK && hx:
			if !valid {
				t.Fatalf("%s: invalid but created (%d)", what, r.StatusCode)
			}
			u, err := af.store.UserByEmail(ctx, norm)
			if err != nil {
				t.Fatalf("%s: created, but %q is not found: %v", what, norm, err)
			}
			created = u
			want := userPath(u.ID)
			if hx {
				if got := r.Header.Get("HX-Redirect"); got != want {
					t.Fatalf("%s: HX-Redirect %q, want %q", what, got, want)
				}
			} else if got := r.Header.Get("Location"); got != want {
				t.Fatalf("%s: 303 to %q, want %q", what, got, want)
			}
			r.Header.Set("Location", want)
			page, kind := af.follow(t, r)
			if kind != "success" {
				t.Fatalf("%s: created, but the flash is %q", what, kind)
			}
			af.checkHTML(t, page, what+" (the user page after)", inputs...)
		default:
			t.Fatalf("%s → %d:\n%.600s", what, r.StatusCode, r.body)
		}
		if string(created.Role) != role || created.Name != strings.TrimSpace(name) || created.DayBalance != 0 || created.Disabled {
			t.Fatalf("%s: created as %+v", what, created)
		}
		if _, err := af.store.Authenticate(ctx, email, password); (err != nil) != invited {
			t.Fatalf("%s: the new account (invited %v) signs in with its password: %v", what, invited, err)
		}
		af.invariants(t, what)
	})
}

// FuzzAdminCreditDaysForm posts "credit days" on the user page of a
// manual customer (or one in auto mode) with any days and comment: 303
// and exactly the days credited when both are valid (auto mode may pass
// some on to channels), else 422 with nothing changed.
func FuzzAdminCreditDaysForm(f *testing.F) {
	for i, d := range fuzzNumberSeeds {
		f.Add(d, "goodwill", i%5 == 0)
	}
	for i, c := range fuzzTextSeeds {
		f.Add("5", c, i%5 == 0)
	}
	af := newAdminFuzz(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, days, comment string, auto bool) {
		u := af.customer
		if auto {
			u = af.autoCust
		}
		path := userPath(u.ID) + "/days"
		what := fmt.Sprintf("POST %s days %q comment %q", path, days, comment)
		n, ok := fuzzInt(days)
		valid := ok && n >= 1 && n <= 100_000 && fuzzComment(comment)
		u0, err := af.store.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		before := af.fingerprint(t)
		r := af.form(t, path, url.Values{"days": {days}, "comment": {comment}}, false)
		switch r.StatusCode {
		case http.StatusUnprocessableEntity:
			af.unchanged(t, before, what+" → 422")
			af.checkHTML(t, r, what, days, comment)
			if valid {
				t.Fatalf("%s: valid but refused:\n%.600s", what, r.body)
			}
		case http.StatusSeeOther:
			if !valid {
				t.Fatalf("%s: invalid but answered 303 → %s", what, r.Header.Get("Location"))
			}
			if loc := r.Header.Get("Location"); loc != userPath(u.ID) {
				t.Fatalf("%s: 303 to %q", what, loc)
			}
			page, kind := af.follow(t, r)
			if kind != "success" {
				t.Fatalf("%s: the flash is %q", what, kind)
			}
			af.checkHTML(t, page, what+" (the user page after)", days, comment)
			u1, err := af.store.UserByID(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !auto && u1.DayBalance != u0.DayBalance+n {
				t.Fatalf("%s: balance %d → %d, want +%d", what, u0.DayBalance, u1.DayBalance, n)
			}
			if auto && (u1.DayBalance > u0.DayBalance+n || u1.DayBalance < u0.DayBalance) {
				t.Fatalf("%s: auto mode balance %d → %d after +%d", what, u0.DayBalance, u1.DayBalance, n)
			}
			af.invariants(t, what)
		default:
			t.Fatalf("%s → %d:\n%.600s", what, r.StatusCode, r.body)
		}
	})
}

// FuzzAdminExtendForm extends the manual customer's channel from the
// channel list (with its "back" list query) or from the user page, with
// any days and comment: with valid ones (the balance is kept large
// enough) the channel gets exactly those days from the balance, at WHAPI
// too, and the answer leads back to the list or the user page; otherwise
// 422 and nothing changed.
func FuzzAdminExtendForm(f *testing.F) {
	backs := []string{"", "status=active", "owner=customer%40example.com&page=2", "//evil.example", "https://evil.example/", "status=<script>", "page=-1&expiring=1", "%zz", "\x00"}
	for i, d := range fuzzNumberSeeds {
		f.Add(d, "renewal", backs[i%len(backs)], i%2 == 0)
	}
	for i, c := range fuzzTextSeeds {
		f.Add("2", c, backs[i%len(backs)], i%2 == 1)
	}
	af := newAdminFuzz(f)
	ctx := context.Background()
	ch := af.channel
	f.Fuzz(func(t *testing.T, days, comment, back string, fromUserPage bool) {
		// Keep room for any valid extend, and the channel's date sane.
		if u, err := af.store.UserByID(ctx, af.customer.ID); err != nil {
			t.Fatal(err)
		} else if u.DayBalance < provision.MaxExtendDays {
			if err := af.svc.CreditDays(ctx, models.SystemActor, u.ID, 100_000, "fuzz top-up"); err != nil {
				t.Fatal(err)
			}
		}
		if cur, err := af.store.ChannelByID(ctx, ch.ID); err != nil {
			t.Fatal(err)
		} else if cur.ActiveTill != nil && cur.ActiveTill.After(time.Now().AddDate(30, 0, 0)) {
			if _, err := af.svc.Delete(ctx, models.SystemActor, ch.ID); err != nil {
				t.Fatal(err)
			}
			if ch, err = af.svc.CreateChannel(ctx, models.SystemActor, provision.CreateInput{UserID: af.customer.ID, Name: "Fuzz line"}); err != nil {
				t.Fatal(err)
			}
		}
		path := "/admin/channels/" + af.idOf(ch.ID) + "/extend"
		form := url.Values{"days": {days}, "comment": {comment}, "back": {back}}
		if fromUserPage {
			path = userPath(af.customer.ID) + "/channels/" + af.idOf(ch.ID) + "/extend"
			form.Del("back")
		}
		what := fmt.Sprintf("POST %s days %q comment %q back %q", path, days, comment, back)
		n, ok := fuzzInt(days)
		valid := ok && n >= 1 && n <= provision.MaxExtendDays && fuzzComment(comment)
		u0, _ := af.store.UserByID(ctx, af.customer.ID)
		c0, _ := af.store.ChannelByID(ctx, ch.ID)
		s0, _ := af.sim.Channel(c0.RemoteID())
		before := af.fingerprint(t)
		r := af.form(t, path, form, false)
		switch r.StatusCode {
		case http.StatusUnprocessableEntity:
			af.unchanged(t, before, what+" → 422")
			af.checkHTML(t, r, what, days, comment, back)
			if valid {
				t.Fatalf("%s: valid but refused:\n%.600s", what, r.body)
			}
		case http.StatusSeeOther:
			if !valid {
				t.Fatalf("%s: invalid but answered 303 → %s", what, r.Header.Get("Location"))
			}
			loc := r.Header.Get("Location")
			if fromUserPage && loc != userPath(af.customer.ID) || !fromUserPage && loc != "/admin/channels" && !strings.HasPrefix(loc, "/admin/channels?") {
				t.Fatalf("%s: 303 to %q", what, loc)
			}
			page, kind := af.follow(t, r)
			if kind != "success" {
				t.Fatalf("%s: the flash is %q:\n%.600s", what, kind, page.body)
			}
			af.checkHTML(t, page, what+" (the page after)", days, comment, back)
			u1, _ := af.store.UserByID(ctx, af.customer.ID)
			c1, _ := af.store.ChannelByID(ctx, ch.ID)
			s1, _ := af.sim.Channel(c1.RemoteID())
			if u1.DayBalance != u0.DayBalance-n || c1.DaysAllocated != c0.DaysAllocated+n || s1.ExtendedDays != s0.ExtendedDays+int(n) {
				t.Fatalf("%s: balance %d → %d, channel days %d → %d, WHAPI days %d → %d; want %d moved",
					what, u0.DayBalance, u1.DayBalance, c0.DaysAllocated, c1.DaysAllocated, s0.ExtendedDays, s1.ExtendedDays, n)
			}
			af.invariants(t, what)
		default:
			t.Fatalf("%s → %d:\n%.600s", what, r.StatusCode, r.body)
		}
	})
}

// FuzzAdminModeToggle posts the auto/manual toggle with any mode and
// "back", as a form or as HTMX, for a customer, for the admin (who has no
// mode) and for a user that does not exist: the mode changes exactly for
// "auto" or "manual" on a customer; the answer leads only to a page of
// this site; a refusal changes nothing.
func FuzzAdminModeToggle(f *testing.F) {
	for i, s := range []struct{ mode, back string }{
		{"auto", "/admin/users"}, {"manual", "/admin/users?q=x&page=2"}, {"auto", ""}, {"", ""}, {"AUTO", "/admin/users/1"},
		{"manual ", "//evil.example/admin/users"}, {"auto", "https://evil.example"}, {"manual", "/\\evil.example"},
		{"auto", "/admin/users/../../logout"}, {"manual", "/admin/users?x=<script>alert(1)</script>"}, {"auto", "javascript:alert(1)"},
		{"<script>alert(1)</script>", "/admin/users"}, {"auto\x00", "/admin/users\r\nSet-Cookie: x=1"}, {"manual", strings.Repeat("/admin/users/", 100)},
		{"aut", "/admin/usersX"}, {"manual", "/%2F%2Fevil.example"},
		// Found by fuzzing, kept: a "back" to a page that does not exist
		// (the flash is lost on a 404 page) and one with a raw space (the
		// Location header is then not a valid URI; browsers encode it).
		{"0", "/admin/users/"}, {"manual", "/admin/users? 000000000"},
	} {
		f.Add(s.mode, s.back, i%2 == 0, uint8(i))
	}
	af := newAdminFuzz(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, mode, back string, hx bool, who uint8) {
		var id int64
		switch who % 4 {
		case 0, 1:
			id = af.customer.ID
		case 2:
			id = af.admin.ID
		default:
			id = 999_999
		}
		path := userPath(id) + "/mode"
		what := fmt.Sprintf("POST %s mode %q back %q hx %v", path, mode, back, hx)
		good := id == af.customer.ID && (mode == "auto" || mode == "manual")
		before := af.fingerprint(t)
		r := af.form(t, path, url.Values{"mode": {mode}, "back": {back}}, hx)
		// kind is the flash shown, or "-" when the page led to is not one
		// that shows it (a "back" to a user that does not exist).
		after := func(kind string) {
			if kind != "-" && good != (kind == "success") {
				t.Fatalf("%s: flash %q", what, kind)
			}
			if !good {
				af.unchanged(t, before, what+" (refused)")
				return
			}
			u, err := af.store.UserByID(ctx, id)
			if err != nil || string(u.AllocationMode) != mode {
				t.Fatalf("%s: mode is %q (%v)", what, u.AllocationMode, err)
			}
			af.invariants(t, what)
		}
		switch {
		case r.StatusCode == http.StatusNotFound && id == 999_999:
			af.unchanged(t, before, what+" → 404")
			af.checkHTML(t, r, what, mode, back)
		case hx && (r.StatusCode == http.StatusOK || r.StatusCode == http.StatusUnprocessableEntity):
			af.checkHTML(t, r, what, mode, back)
			kind := ""
			if m := fuzzFlashRE.FindStringSubmatch(r.body); m != nil {
				kind = m[1]
			}
			if (r.StatusCode == http.StatusOK) != (kind == "success") {
				t.Fatalf("%s → %d with a %q flash", what, r.StatusCode, kind)
			}
			after(kind)
		case !hx && r.StatusCode == http.StatusSeeOther:
			if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "/admin/users") {
				t.Fatalf("%s: 303 to %q", what, loc)
			}
			page, kind := af.followAny(t, r)
			af.checkHTML(t, page, what+" (the page after)", mode, back)
			if page.StatusCode != http.StatusOK {
				kind = "-"
			}
			after(kind)
		default:
			t.Fatalf("%s → %d:\n%.600s", what, r.StatusCode, r.body)
		}
	})
}

// FuzzAdminWHAPISettingsForm posts the WHAPI Settings form with any token,
// project id, threshold and top-up window, with or without "Save it
// anyway": saved (303) exactly when every field is valid and WHAPI accepts
// the new token or the admin saves it anyway, each field then holds what
// was sent (the token normalised, its hint its last four characters, its
// status WHAPI's answer), else 422 with nothing changed — a token WHAPI
// refuses with the reason next to its field and the offer to save it
// anyway. The token is never shown, not even when refused.
func FuzzAdminWHAPISettingsForm(f *testing.F) {
	tok := fakeJWT(1300)
	for _, s := range [][4]string{
		{"", "", "", ""}, {tok, "", "", ""}, {"Bearer " + tok, "HPN0H0hFDL1GFg154PI", "100", "3"}, {"bearer  bearer " + tok + "\n", "default", "0", "0"},
		{"Authorization: Bearer " + tok, "", "1000000", "365"}, {"", "short", "", ""}, {"", "", "-1", "366"}, {"", "", "1000001", "-1"},
		{"", "", "9223372036854775807", "x"}, {"", "", " 5 ", " 7 "}, {"tok en", "", "", ""}, {"abc", "", "", ""}, {strings.Repeat("A", 16), "", "", ""},
		{strings.Repeat("A", 16*1024+1), "", "", ""}, {"<script>alert(1)</script>" + tok, "", "", ""}, {tok[:40] + "\x00" + tok[40:80], "", "", ""},
		{"\xff" + tok[:40], "", "", ""}, {tok[:50] + "\n" + tok[50:100], "", "", ""}, {"", "<script>alert(1)</script>", "", ""}, {"", "proj 123", "", ""},
		{"", strings.Repeat("p", 64), "", ""}, {"", strings.Repeat("p", 65), "", ""}, {"", "ünïcödé123", "", ""}, {tok[:30] + "==", "abcdefgh", "1", "1"},
	} {
		f.Add(s[0], s[1], s[2], s[3], false)
		f.Add(s[0], s[1], s[2], s[3], true)
	}
	af := newAdminFuzz(f)
	// The token WHAPI accepts, as pasted in a few ways.
	for _, paste := range []string{af.partnerToken, "Bearer " + af.partnerToken, " bearer Bearer " + af.partnerToken + "\n"} {
		f.Add(paste, "", "12", "", false)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token, project, threshold, window string, anyway bool) {
		what := fmt.Sprintf("POST /admin/settings/whapi token %.80q (%d bytes) project %q threshold %q window %q anyway %v", token, len(token), project, threshold, window, anyway)
		in := provision.SettingsInput{PartnerToken: token, ProjectID: project, ReplaceRefused: anyway}
		valid := true
		for _, p := range []struct {
			raw string
			dst **int64
		}{{threshold, &in.LowBalanceThreshold}, {window, &in.TopupWindowDays}} {
			if strings.TrimSpace(p.raw) == "" {
				continue
			}
			v, ok := fuzzInt(p.raw)
			valid = valid && ok
			*p.dst = &v
		}
		valid = valid && len(provision.ValidateSettings(context.Background(), in)) == 0
		// A new token WHAPI does not know is refused unless saved anyway.
		newTok := strings.TrimSpace(token) != ""
		accepted := !newTok || mustNorm(token) == "Bearer "+af.partnerToken
		refused := valid && !accepted && !anyway
		st0, err := af.store.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		before := af.fingerprint(t)
		form := url.Values{"partner_token": {token}, "project_id": {project}, "low_balance_threshold": {threshold}, "topup_window_days": {window}}
		if anyway {
			form.Set("replace_refused", "1")
		}
		r := af.form(t, "/admin/settings/whapi", form, false)
		secret := func(body string) {
			t.Helper()
			// The token (as sent, and as stored) is never on a page.
			for _, s := range []string{strings.TrimSpace(token), strings.TrimPrefix(mustNorm(token), "Bearer ")} {
				if len(s) >= 16 && strings.Contains(body, s) && !strings.Contains(af.baseline, s) {
					t.Fatalf("%s: the token is shown", what)
				}
			}
		}
		switch r.StatusCode {
		case http.StatusUnprocessableEntity:
			af.unchanged(t, before, what+" → 422")
			af.checkHTML(t, r, what, token, project, threshold, window)
			secret(r.body)
			if refused != strings.Contains(r.body, `data-testid="save-anyway"`) ||
				refused != strings.Contains(r.body, "WHAPI refused this token (401): the current token stays in use.") {
				t.Fatalf("%s: WHAPI refuses the token: %v, but the page says otherwise:\n%.600s", what, refused, r.body)
			}
			if valid && !refused {
				t.Fatalf("%s: valid but refused:\n%.600s", what, r.body)
			}
		case http.StatusSeeOther:
			if !valid || refused {
				t.Fatalf("%s: invalid (%v) or refused by WHAPI (%v) but saved", what, !valid, refused)
			}
			if loc := r.Header.Get("Location"); loc != "/admin/settings/whapi" {
				t.Fatalf("%s: 303 to %q", what, loc)
			}
			page, kind := af.follow(t, r)
			if kind == "" {
				t.Fatalf("%s: no flash after saving", what)
			}
			af.checkHTML(t, page, what+" (the settings page after)", token, project, threshold, window)
			secret(page.body)
			st, err := af.store.Settings(ctx)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := af.store.PartnerToken(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wantTok, wantHint := stored, st0.TokenHint
			if strings.TrimSpace(token) != "" {
				wantTok = mustNorm(token)
				wantHint = provision.TokenHint(wantTok)
			}
			wantProject := st0.ProjectID
			if p := strings.TrimSpace(project); p != "" {
				wantProject = p
			}
			wantThreshold, wantWindow := st0.LowBalanceThreshold, st0.TopupWindowDays
			if in.LowBalanceThreshold != nil {
				wantThreshold = *in.LowBalanceThreshold
			}
			if in.TopupWindowDays != nil {
				wantWindow = *in.TopupWindowDays
			}
			if stored != wantTok || st.TokenHint != wantHint || st.ProjectID != wantProject || st.LowBalanceThreshold != wantThreshold || st.TopupWindowDays != wantWindow {
				t.Fatalf("%s: saved hint %q project %q threshold %d window %d (token as wanted: %v); want hint %q project %q threshold %d window %d",
					what, st.TokenHint, st.ProjectID, st.LowBalanceThreshold, st.TopupWindowDays, stored == wantTok, wantHint, wantProject, wantThreshold, wantWindow)
			}
			if strings.Count(stored, "Bearer ") != 1 || !strings.HasPrefix(stored, "Bearer ") {
				t.Fatalf("%s: stored token %.20q… does not carry \"Bearer \" exactly once", what, stored)
			}
			if newTok && accepted != (st.VerifyStatus == models.VerifyVerified) {
				t.Fatalf("%s: stored token's status %s, WHAPI accepts it: %v", what, st.VerifyStatus, accepted)
			}
			af.invariants(t, what)
		default:
			t.Fatalf("%s → %d:\n%.600s", what, r.StatusCode, r.body)
		}
	})
}

// mustNorm is the normalised token, or "" when it is not one.
func mustNorm(token string) string {
	n, err := provision.NormalizePartnerToken(token)
	if err != nil {
		return ""
	}
	return n
}

// fuzzAPIStatus fails the input on a 5xx or on a status the route never
// gives.
func fuzzAPIStatus(t *testing.T, what string, r result, allowed ...int) {
	t.Helper()
	if !slices.Contains(allowed, r.StatusCode) {
		t.Fatalf("%s → %d:\n%.600s", what, r.StatusCode, r.body)
	}
}

// FuzzAPICreatePlan sends POST /api/plans with any name and any JSON in
// the number fields (numbers, strings, floats, null, garbage): 400 exactly
// when the body does not decode, 422 when a field is out of range (or the
// name taken), else 201 and the plan as the answer says.
func FuzzAPICreatePlan(f *testing.F) {
	nums := []string{"1", "0", "-1", "1000", "1001", "3650", "3651", "1.5", "1e3", `"5"`, "null", "true", "[]", "{}",
		"9223372036854775807", "9223372036854775808", "-9223372036854775809", "1,\"id\":2", "1,\"name\":\"dup\"", "", "0x10", "01"}
	for i, n := range nums {
		f.Add("API plan "+strconv.Itoa(i), n, "30", "30")
		f.Add("API plan b"+strconv.Itoa(i), "2", n, nums[(i+3)%len(nums)])
	}
	for _, s := range fuzzTextSeeds {
		f.Add(s, "1", "1", "1")
	}
	af := newAdminFuzz(f)
	f.Fuzz(func(t *testing.T, name, maxCh, daysPer, period string) {
		body := `{"name":` + fuzzJSONString(name) + `,"max_channels":` + maxCh + `,"days_per_period":` + daysPer + `,"period_days":` + period + `}`
		what := fmt.Sprintf("POST /api/plans %.300s", body)
		var in apiCreatePlanBody
		decoded := fuzzDecode(body, &in)
		clean, verr := provision.ValidatePlan(context.Background(), models.PlanInput{Name: in.Name, MaxChannels: in.MaxChannels, DaysPerPeriod: in.DaysPerPeriod, PeriodDays: in.PeriodDays})
		before := af.fingerprint(t)
		r := af.api(t, http.MethodPost, "/api/plans", body)
		fuzzAPIStatus(t, what, r, http.StatusCreated, http.StatusBadRequest, http.StatusUnprocessableEntity)
		checkJSON(t, r, what, name)
		switch {
		case r.StatusCode == http.StatusBadRequest:
			af.unchanged(t, before, what+" → 400")
			if decoded {
				t.Fatalf("%s: decodes, but 400:\n%s", what, r.body)
			}
		case !decoded:
			t.Fatalf("%s: does not decode, but %d:\n%s", what, r.StatusCode, r.body)
		case r.StatusCode == http.StatusUnprocessableEntity:
			af.unchanged(t, before, what+" → 422")
			var taken int64
			if err := af.raw.Raw(`SELECT count(*) FROM plans WHERE lower(name) = lower(?)`, clean.Name).Scan(&taken).Error; err != nil {
				t.Fatal(err)
			}
			if verr == nil && taken == 0 {
				t.Fatalf("%s: valid, name free, but 422:\n%s", what, r.body)
			}
		default:
			if verr != nil {
				t.Fatalf("%s: invalid (%v) but created", what, verr)
			}
			var got apiPlan
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatal(err)
			}
			p, err := af.store.PlanByID(context.Background(), got.ID)
			if err != nil {
				t.Fatalf("%s: answered plan %d, which is not found: %v", what, got.ID, err)
			}
			if p.Name != clean.Name || got.Name != clean.Name || p.MaxChannels != clean.MaxChannels || p.DaysPerPeriod != clean.DaysPerPeriod ||
				p.PeriodDays != clean.PeriodDays || !p.Active || got.MaxChannels != p.MaxChannels || got.DaysPerPeriod != p.DaysPerPeriod || got.PeriodDays != p.PeriodDays {
				t.Fatalf("%s: stored %+v, answered %+v, want %+v", what, p, got, clean)
			}
			af.invariants(t, what)
		}
	})
}

// FuzzAPICreateUser sends POST /api/users with any email, name, password
// and role: 201 exactly when every field is valid and the email free (the
// account then signs in with that password), 422 otherwise, nothing
// changed; the answer never holds the password or its hash.
func FuzzAPICreateUser(f *testing.F) {
	seeds := [][4]string{
		{"api@example.com", "API", "a long password", "customer"}, {"api-admin@example.com", "", "a long password", "admin"},
		{"api2@example.com", "x", "a long password", ""}, {"", "", "", ""}, {"bad", "x", "a long password", "customer"},
		{"customer@example.com", "taken", "a long password", "customer"}, {"API3@EXAMPLE.com", " x ", "a long password", "customer"},
		{"api4@example.com", "x", strings.Repeat("p", 73), "customer"}, {"api5@example.com", "x", strings.Repeat("€", 25), "customer"},
		{"api6@example.com", "x", "a long password", "superuser"}, {"api7@example.com", "x\x00", "a long password", "customer"},
		{"api8@example.com", "<script>alert(1)</script>", "a long password", "customer"}, {"<b>@example.com", "x", "a long password", "customer"},
		{"api9@example.com", "x", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5", "customer"}, {"api10@example.com", strings.Repeat("n", 101), "a long password", "customer"},
		{"api11@example.com", "Invited", "", "customer"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3])
	}
	af := newAdminFuzz(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, email, name, password, role string) {
		body := `{"email":` + fuzzJSONString(email) + `,"name":` + fuzzJSONString(name) + `,"password":` + fuzzJSONString(password) + `,"role":` + fuzzJSONString(role) + `}`
		what := fmt.Sprintf("POST /api/users %.400s", body)
		var in apiCreateUserBody
		if !fuzzDecode(body, &in) {
			t.Fatalf("%s: our own body does not decode", what)
		}
		if in.Role == "" {
			in.Role = "customer"
		}
		norm, emailErr := models.NormalizeEmail(in.Email)
		// No password at all is an invitation (a set-password link by mail).
		invited := in.Password == ""
		valid := emailErr == nil && fuzzText(in.Name, 100, false) && (invited || utf8.RuneCountInString(in.Password) >= models.MinPasswordLength &&
			len(in.Password) <= 72) && (in.Role == "admin" || in.Role == "customer")
		before := af.fingerprint(t)
		r := af.api(t, http.MethodPost, "/api/users", body)
		fuzzAPIStatus(t, what, r, http.StatusCreated, http.StatusUnprocessableEntity, http.StatusConflict)
		checkJSON(t, r, what, email, name, password, role)
		// A refusal never says the password back (a new account's answer
		// has only its own fields, checked by checkJSON).
		if pw := strings.Trim(fuzzJSONString(in.Password), `"`); r.StatusCode != http.StatusCreated && len(pw) >= models.MinPasswordLength &&
			strings.Contains(r.body, pw) && !strings.Contains(fuzzJSONString(in.Email)+fuzzJSONString(in.Name), pw) {
			t.Fatalf("%s: the password is in the answer:\n%s", what, r.body)
		}
		if r.StatusCode != http.StatusCreated {
			af.unchanged(t, before, fmt.Sprintf("%s → %d", what, r.StatusCode))
			if valid {
				if _, err := af.store.UserByEmail(ctx, norm); err != nil {
					t.Fatalf("%s: valid, email free, but %d:\n%s", what, r.StatusCode, r.body)
				}
			}
			return
		}
		if !valid {
			t.Fatalf("%s: invalid but created:\n%s", what, r.body)
		}
		var got apiUser
		if err := json.Unmarshal([]byte(r.body), &got); err != nil {
			t.Fatal(err)
		}
		u, err := af.store.UserByID(ctx, got.ID)
		if err != nil || u.Email != norm || got.Email != norm || string(u.Role) != in.Role || got.Role != in.Role ||
			u.Name != strings.TrimSpace(in.Name) || got.Name != u.Name || u.DayBalance != 0 || got.Plan != nil {
			t.Fatalf("%s: stored %+v (%v), answered %+v", what, u, err, got)
		}
		if _, err := af.store.Authenticate(ctx, in.Email, in.Password); (err != nil) != invited {
			t.Fatalf("%s: the new account (invited %v) signs in with its password: %v", what, invited, err)
		}
		af.invariants(t, what)
	})
}

// FuzzAPIPatchUser sends PATCH /api/users/{id} (the customer, or the admin
// themself) with any subset of allocation_mode, name and disabled, the
// latter as any JSON: 400 exactly when the body does not decode, 422 when
// a field is refused (nothing changed, not even the valid fields), else
// 200 with every field applied.
func FuzzAPIPatchUser(f *testing.F) {
	for i, s := range []struct {
		mode, name, disabled string
		fields               uint8
	}{
		{"auto", "", "", 1}, {"manual", "", "", 1}, {"AUTO", "", "", 1}, {"", "", "", 1}, {"auto", "New name", "false", 7},
		{"", "  Trimmed  ", "", 2}, {"", strings.Repeat("n", 100), "", 2}, {"", strings.Repeat("n", 101), "", 2}, {"", "a\nb", "", 2},
		{"", "<script>alert(1)</script>", "", 2}, {"", "\xff", "", 2}, {"", "", "true", 4}, {"", "", "false", 4}, {"", "", `"true"`, 4},
		{"", "", "1", 4}, {"", "", "null", 4}, {"", "", "{}", 4}, {"", "", "true,\"role\":\"admin\"", 4}, {"", "", "", 0},
		{"manual", "ok", "true", 7}, {"bogus", "ok", "false", 7}, {"auto", "\u202eevil", "", 3},
	} {
		f.Add(s.mode, s.name, s.disabled, s.fields, i%3 == 2)
	}
	af := newAdminFuzz(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, mode, name, disabled string, fields uint8, self bool) {
		target := af.customer
		if self {
			target = af.admin
		}
		var parts []string
		if fields&1 != 0 {
			parts = append(parts, `"allocation_mode":`+fuzzJSONString(mode))
		}
		if fields&2 != 0 {
			parts = append(parts, `"name":`+fuzzJSONString(name))
		}
		if fields&4 != 0 {
			parts = append(parts, `"disabled":`+disabled)
		}
		body := "{" + strings.Join(parts, ",") + "}"
		path := "/api/users/" + af.idOf(target.ID)
		what := fmt.Sprintf("PATCH %s %.400s", path, body)
		var in apiPatchUserBody
		decoded := fuzzDecode(body, &in)
		valid := decoded
		var cleanName string
		if in.AllocationMode != nil && (*in.AllocationMode != "auto" && *in.AllocationMode != "manual" || self) {
			valid = false
		}
		if in.Name != nil {
			var msg string
			if cleanName, msg = apiCleanName(*in.Name); msg != "" {
				valid = false
			}
		}
		if in.Disabled != nil && *in.Disabled && self {
			valid = false
		}
		before := af.fingerprint(t)
		r := af.api(t, http.MethodPatch, path, body)
		fuzzAPIStatus(t, what, r, http.StatusOK, http.StatusBadRequest, http.StatusUnprocessableEntity)
		checkJSON(t, r, what, mode, name, disabled)
		switch {
		case r.StatusCode != http.StatusOK:
			af.unchanged(t, before, fmt.Sprintf("%s → %d", what, r.StatusCode))
			if (r.StatusCode == http.StatusBadRequest) != !decoded || valid {
				t.Fatalf("%s: decodes %v, valid %v, but %d:\n%s", what, decoded, valid, r.StatusCode, r.body)
			}
		case !valid:
			t.Fatalf("%s: refusable (decodes %v) but 200:\n%s", what, decoded, r.body)
		default:
			u, err := af.store.UserByID(ctx, target.ID)
			if err != nil {
				t.Fatal(err)
			}
			var got apiUser
			if err := json.Unmarshal([]byte(r.body), &got); err != nil || got.ID != u.ID || got.Name != u.Name ||
				got.AllocationMode != string(u.AllocationMode) || got.Disabled != u.Disabled {
				t.Fatalf("%s: answered %+v (%v), stored %+v", what, got, err, u)
			}
			if in.AllocationMode != nil && string(u.AllocationMode) != *in.AllocationMode || in.Name != nil && u.Name != cleanName ||
				in.Disabled != nil && u.Disabled != *in.Disabled {
				t.Fatalf("%s: stored %+v", what, u)
			}
			af.invariants(t, what)
		}
	})
}

// FuzzAPICreditDays sends POST /api/users/{id}/days (a manual customer or
// one in auto mode) with any JSON for days and any comment: 400 exactly
// when the body does not decode, 422 when days are outside 1–100,000 or
// the comment is empty or not one line, else 200 with exactly the days
// credited (auto mode may pass some on to channels).
func FuzzAPICreditDays(f *testing.F) {
	for i, d := range []string{"1", "0", "-1", "100000", "100001", "1.5", "1e3", `"5"`, "null", "true", "9223372036854775807",
		"-9223372036854775808", "99999999999999999999", "5,\"day_balance\":1", "", "[1]", "{}"} {
		f.Add(d, "goodwill", i%3 == 0)
	}
	for i, c := range fuzzTextSeeds {
		f.Add("3", c, i%3 == 0)
	}
	af := newAdminFuzz(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, days, comment string, auto bool) {
		u := af.customer
		if auto {
			u = af.autoCust
		}
		body := `{"days":` + days + `,"comment":` + fuzzJSONString(comment) + `}`
		path := "/api/users/" + af.idOf(u.ID) + "/days"
		what := fmt.Sprintf("POST %s %.400s", path, body)
		var in apiDaysBody
		decoded := fuzzDecode(body, &in)
		valid := decoded && in.Days >= 1 && in.Days <= 100_000 && fuzzComment(in.Comment)
		u0, _ := af.store.UserByID(ctx, u.ID)
		before := af.fingerprint(t)
		r := af.api(t, http.MethodPost, path, body)
		fuzzAPIStatus(t, what, r, http.StatusOK, http.StatusBadRequest, http.StatusUnprocessableEntity)
		checkJSON(t, r, what, days, comment)
		u1, _ := af.store.UserByID(ctx, u.ID)
		switch {
		case r.StatusCode != http.StatusOK:
			af.unchanged(t, before, fmt.Sprintf("%s → %d", what, r.StatusCode))
			if (r.StatusCode == http.StatusBadRequest) != !decoded || valid {
				t.Fatalf("%s: decodes %v, valid %v, but %d:\n%s", what, decoded, valid, r.StatusCode, r.body)
			}
		case !valid:
			t.Fatalf("%s: invalid but 200:\n%s", what, r.body)
		case !auto && u1.DayBalance != u0.DayBalance+in.Days, auto && (u1.DayBalance > u0.DayBalance+in.Days || u1.DayBalance < u0.DayBalance):
			t.Fatalf("%s: balance %d → %d after +%d", what, u0.DayBalance, u1.DayBalance, in.Days)
		default:
			var got apiUser
			if err := json.Unmarshal([]byte(r.body), &got); err != nil || got.DayBalance != u1.DayBalance {
				t.Fatalf("%s: answered %+v (%v), balance %d", what, got, err, u1.DayBalance)
			}
			af.invariants(t, what)
		}
	})
}

// FuzzAPIPutSettings sends PUT /api/settings/whapi with any subset of the
// token, the project id, the two numbers (as any JSON) and
// "replace_refused": true: 400 exactly when the body does not decode, 422
// when a field is invalid, 409 token_refused when WHAPI refuses the new
// token and it is not to be saved anyway (nothing saved either way), else
// 200 and each field saved; the answer never holds the token.
func FuzzAPIPutSettings(f *testing.F) {
	tok := fakeJWT(1300)
	for _, s := range []struct {
		token, project, threshold, window string
		fields                            uint8
	}{
		{tok, "", "", "", 1}, {"Bearer " + tok, "default", "", "", 3}, {"", "", "", "", 1}, {"", "", "", "", 0},
		{"", "", "100", "3", 12}, {"", "", "-1", "366", 12}, {"", "", "1000001", "365", 12}, {"", "", `"5"`, "1.5", 12},
		{"", "", "null", "null", 12}, {"", "", "9223372036854775808", "0", 12}, {"", "short", "", "", 2}, {"", "<script>x</script>", "", "", 2},
		{"tok en " + tok, "", "", "", 1}, {"<script>alert(1)</script>" + tok, "", "", "", 1}, {tok[:20] + "\u0000" + tok[20:60], "", "", "", 1},
		{strings.Repeat("A", 16*1024+1), "", "", "", 1}, {"", "", "5,\"role\":\"admin\"", "", 4}, {tok[:30], "abcdefgh12", "0", "0", 15},
		{tok, "", "", "", 17}, {"Bearer " + tok, "default", "3", "", 23}, {"", "", "4", "", 20}, {"", "", "", "", 16},
	} {
		f.Add(s.token, s.project, s.threshold, s.window, s.fields)
	}
	af := newAdminFuzz(f)
	f.Add(af.partnerToken, "", "", "", uint8(1))
	f.Add("Bearer "+af.partnerToken, "", "", "", uint8(17))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token, project, threshold, window string, fields uint8) {
		var parts []string
		if fields&1 != 0 {
			parts = append(parts, `"partner_token":`+fuzzJSONString(token))
		}
		if fields&2 != 0 {
			parts = append(parts, `"project_id":`+fuzzJSONString(project))
		}
		if fields&4 != 0 {
			parts = append(parts, `"low_balance_threshold":`+threshold)
		}
		if fields&8 != 0 {
			parts = append(parts, `"topup_window_days":`+window)
		}
		if fields&16 != 0 {
			parts = append(parts, `"replace_refused":true`)
		}
		body := "{" + strings.Join(parts, ",") + "}"
		what := fmt.Sprintf("PUT /api/settings/whapi %.300s (%d bytes)", body, len(body))
		var in settingsPut
		decoded := fuzzDecode(body, &in)
		sin := provision.SettingsInput{LowBalanceThreshold: in.LowBalanceThreshold, TopupWindowDays: in.TopupWindowDays, ReplaceRefused: in.ReplaceRefused}
		if in.PartnerToken != nil {
			sin.PartnerToken = *in.PartnerToken
		}
		if in.ProjectID != nil {
			sin.ProjectID = *in.ProjectID
		}
		valid := decoded && len(provision.ValidateSettings(context.Background(), sin)) == 0
		newTok := strings.TrimSpace(sin.PartnerToken) != ""
		accepted := !newTok || mustNorm(sin.PartnerToken) == "Bearer "+af.partnerToken
		refused := valid && !accepted && !sin.ReplaceRefused
		st0, _ := af.store.Settings(ctx)
		tok0, _ := af.store.PartnerToken(ctx)
		before := af.fingerprint(t)
		r := af.api(t, http.MethodPut, "/api/settings/whapi", body)
		fuzzAPIStatus(t, what, r, http.StatusOK, http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge)
		if refused != (r.StatusCode == http.StatusConflict) || refused && !strings.Contains(r.body, `"code":"token_refused"`) {
			t.Fatalf("%s: WHAPI refuses the token: %v, but %d:\n%s", what, refused, r.StatusCode, r.body)
		}
		checkJSON(t, r, what, token, project, threshold, window)
		for _, s := range []string{strings.TrimSpace(sin.PartnerToken), strings.TrimPrefix(mustNorm(sin.PartnerToken), "Bearer "), strings.TrimPrefix(tok0, "Bearer ")} {
			if len(s) >= 16 && strings.Contains(r.body, s) {
				t.Fatalf("%s: the token is in the answer", what)
			}
		}
		switch {
		case r.StatusCode != http.StatusOK:
			af.unchanged(t, before, fmt.Sprintf("%s → %d", what, r.StatusCode))
			if r.StatusCode == http.StatusRequestEntityTooLarge && len(body) <= 64<<10 {
				t.Fatalf("%s: 413 for %d bytes", what, len(body))
			}
			if r.StatusCode == http.StatusBadRequest && decoded || r.StatusCode == http.StatusUnprocessableEntity && (!decoded || valid) {
				t.Fatalf("%s: decodes %v, valid %v, but %d:\n%s", what, decoded, valid, r.StatusCode, r.body)
			}
		case !valid || refused:
			t.Fatalf("%s: invalid (decodes %v) or refused by WHAPI (%v) but 200:\n%s", what, decoded, refused, r.body)
		default:
			st, _ := af.store.Settings(ctx)
			stored, _ := af.store.PartnerToken(ctx)
			want := tok0
			if strings.TrimSpace(sin.PartnerToken) != "" {
				want = mustNorm(sin.PartnerToken)
			}
			wantProject := st0.ProjectID
			if p := strings.TrimSpace(sin.ProjectID); p != "" {
				wantProject = p
			}
			if stored != want || st.ProjectID != wantProject || in.LowBalanceThreshold != nil && st.LowBalanceThreshold != *in.LowBalanceThreshold ||
				in.TopupWindowDays != nil && st.TopupWindowDays != *in.TopupWindowDays {
				t.Fatalf("%s: saved %+v (token as wanted: %v)", what, st, stored == want)
			}
			var got settingsJSON
			if err := json.Unmarshal([]byte(r.body), &got); err != nil || got.TokenHint != st.TokenHint || got.ProjectID != st.ProjectID || !got.Configured {
				t.Fatalf("%s: answered %+v (%v), stored %+v", what, got, err, st)
			}
			if newTok && (accepted != (st.VerifyStatus == models.VerifyVerified) || got.VerifyStatus != string(st.VerifyStatus)) {
				t.Fatalf("%s: stored token's status %s (answered %s), WHAPI accepts it: %v", what, st.VerifyStatus, got.VerifyStatus, accepted)
			}
			af.invariants(t, what)
		}
	})
}

// fuzzRawRoutes are the admin JSON bodies FuzzAdminJSONRaw sends anything to.
var fuzzRawRoutes = []struct{ method, path string }{
	{http.MethodPost, "/api/plans"},
	{http.MethodPost, "/api/users"},
	{http.MethodPatch, "/api/users/{customer}"},
	{http.MethodPost, "/api/users/{customer}/days"},
	{http.MethodPut, "/api/settings/whapi"},
}

// FuzzAdminJSONRaw sends any bytes as the body of each admin JSON route:
// type confusion, duplicate and unknown keys, trailing data, deep nesting,
// invalid UTF-8. Never a 5xx; a 4xx changes nothing; a 2xx leaves the
// invariants intact; nothing is echoed unescaped.
func FuzzAdminJSONRaw(f *testing.F) {
	for i, b := range []string{
		``, `{}`, `[]`, `null`, `"x"`, `1`, `{"name":1}`, `{"name":"Raw plan","max_channels":"2","days_per_period":30,"period_days":30}`,
		`{"name":"Raw plan","max_channels":2,"days_per_period":30,"period_days":30}`, `{"name":"Dup","name":"Dup2","max_channels":1,"days_per_period":1,"period_days":1}`,
		`{"email":"raw@example.com","password":"a long password","role":"customer"}`, `{"email":["raw@example.com"]}`, `{"email":null,"password":null}`,
		`{"allocation_mode":"auto"}`, `{"allocation_mode":true}`, `{"disabled":"false"}`, `{"name":{"first":"x"}}`, `{"days":5,"comment":"raw"}`,
		`{"days":5,"comment":"raw"} {"days":5}`, `{"days":5,"comment":"raw"}garbage`, `{"days":1e2,"comment":"x"}`, `{"days":-0,"comment":"x"}`,
		`{"partner_token":null,"project_id":null}`, `{"low_balance_threshold":1e400}`, `{"topup_window_days":[]}`, strings.Repeat("[", 10000),
		strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000), `{"<script>alert(1)</script>":1}`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}",
		`{"name":"x","max_channels":1,"days_per_period":1,"period_days":1,"id":9}`, "\xef\xbb\xbf{}", `{"Name":"Case","Max_Channels":1,"days_per_period":1,"period_days":1}`,
	} {
		f.Add(uint8(i), b)
		f.Add(uint8(i+1), b)
	}
	af := newAdminFuzz(f)
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := fuzzRawRoutes[int(route)%len(fuzzRawRoutes)]
		path := strings.ReplaceAll(rt.path, "{customer}", af.idOf(af.customer.ID))
		what := fmt.Sprintf("%s %s %.300q", rt.method, path, body)
		before := af.fingerprint(t)
		r := af.api(t, rt.method, path, body)
		fuzzAPIStatus(t, what, r, http.StatusOK, http.StatusCreated, http.StatusBadRequest, http.StatusConflict,
			http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge)
		checkJSON(t, r, what, body)
		if bytes.Contains([]byte(r.body), []byte(af.partnerToken)) {
			t.Fatalf("%s: the partner token is in the answer", what)
		}
		if r.StatusCode >= 400 {
			af.unchanged(t, before, fmt.Sprintf("%s → %d", what, r.StatusCode))
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s: the error is not {\"error\":{code,message}}: %s", what, r.body)
			}
			return
		}
		af.invariants(t, what)
	})
}
