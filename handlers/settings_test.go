package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/testdb"
	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// adminClient starts an app with an admin signed in.
func adminClient(t *testing.T, opts ...func(*appOptions)) (*testApp, *testClient) {
	t.Helper()
	a := newTestApp(t, opts...)
	a.newUser(models.RoleAdmin, "admin@example.com")
	c := a.client()
	c.login("admin@example.com")
	return a, c
}

func (c *testClient) saveToken(token string, extra ...string) result {
	c.t.Helper()
	form := url.Values{"partner_token": {token}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return c.submit("/admin/settings/whapi", "/admin/settings/whapi", form)
}

// storedToken is the token as whapidesk would send it.
func (a *testApp) storedToken() string {
	a.t.Helper()
	tok, err := a.store.PartnerToken(context.Background())
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// lastManagerAuth is the Authorization header of the last manager request
// the simulator received.
func (a *testApp) lastManagerAuth(path string) (string, bool) {
	reqs := a.sim.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Path == path {
			return reqs[i].Authorization, true
		}
	}
	return "", false
}

func TestSaveLongBearerTokenIsVerifiedAndSentOnce(t *testing.T) {
	for _, tt := range []struct {
		name  string
		size  int
		paste func(tok string) string
	}{
		{"1300 chars with Bearer", 1300, func(tok string) string { return "Bearer " + tok }},
		{"1300 chars without Bearer", 1300, func(tok string) string { return tok }},
		{"4096 chars with Bearer", 4096, func(tok string) string { return "Bearer " + tok }},
		{"spaces and line breaks around", 1300, func(tok string) string { return "\r\n  Bearer " + tok + "  \n\n\t" }},
		{"Authorization header copied from curl", 1300, func(tok string) string { return "Authorization: Bearer " + tok }},
		{"Bearer twice", 1300, func(tok string) string { return "Bearer Bearer " + tok }},
		{"lower-case bearer", 1300, func(tok string) string { return "bearer " + tok }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok := fakeJWT(tt.size)
			a, c := adminClient(t, func(o *appOptions) { o.sim.PartnerToken = tok })
			r := c.saveToken(tt.paste(tok))
			if r.StatusCode != http.StatusSeeOther {
				t.Fatalf("save: %d: %s", r.StatusCode, r.body)
			}
			if got := a.storedToken(); got != "Bearer "+tok {
				t.Fatalf("stored %q…, want Bearer + token", got[:20])
			}
			page := c.get("/admin/settings/whapi").body
			if !strings.Contains(page, "Saved and verified") || !strings.Contains(page, `data-testid="verify-status">Verified<`) {
				t.Fatalf("the page does not say verified:\n%s", page)
			}
			auth, ok := a.lastManagerAuth("/projects")
			if !ok || auth != "Bearer "+tok {
				t.Fatalf("WHAPI received Authorization %q…, want exactly \"Bearer <token>\"", auth[:min(len(auth), 20)])
			}
			if strings.Count(auth, "Bearer") != 1 {
				t.Fatal("Bearer sent more than once")
			}
			if strings.Contains(page, tok[len(tok)-40:]) {
				t.Fatal("the page shows the token")
			}
			if !strings.Contains(page, "…"+tok[len(tok)-4:]) || !strings.Contains(page, "changed by admin@example.com on ") {
				t.Fatal("the page does not show the masked token and who changed it")
			}
		})
	}
}

func TestSaveTokenOutcomesArePlain(t *testing.T) {
	t.Run("refused by WHAPI, no token saved yet", func(t *testing.T) {
		a, c := adminClient(t)
		other := fakeJWT(1300) // not the token WHAPI knows
		r := c.saveToken("Bearer " + other)
		if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "WHAPI refused this token (401): it was not saved.") {
			t.Fatalf("save: %d %s", r.StatusCode, r.body)
		}
		if st, _ := a.store.Settings(context.Background()); st.Configured() {
			t.Fatal("a refused first token was saved without the admin's choice")
		}
	})
	t.Run("WHAPI unreachable", func(t *testing.T) {
		a, c := adminClient(t, func(o *appOptions) { o.timeout = 500 * time.Millisecond })
		a.sim.InjectFault(whapisim.Fault{Path: "/projects", Kind: whapisim.FaultHang, Times: 5})
		c.saveToken(a.partnerToken)
		page := c.get("/admin/settings/whapi").body
		if !strings.Contains(page, "WHAPI could not be reached, so the token is not verified") {
			t.Fatalf("page: %s", page)
		}
		if a.storedToken() != "Bearer "+a.partnerToken {
			t.Fatal("the token must be saved even when WHAPI cannot be reached")
		}
	})
	t.Run("WHAPI 5xx", func(t *testing.T) {
		a, c := adminClient(t)
		a.sim.InjectFault(whapisim.Fault{Path: "/projects", Kind: whapisim.FaultStatus, Status: 503, Times: 5})
		c.saveToken(a.partnerToken)
		if page := c.get("/admin/settings/whapi").body; !strings.Contains(page, "not verified") {
			t.Fatalf("page: %s", page)
		}
	})
	t.Run("unknown project id", func(t *testing.T) {
		a, c := adminClient(t)
		c.saveToken(a.partnerToken, "project_id", "SomeOtherProject0001")
		page := c.get("/admin/settings/whapi").body
		if !strings.Contains(page, "WHAPI does not know the project id SomeOtherProject0001") {
			t.Fatalf("page: %s", page)
		}
		st, _ := a.store.Settings(context.Background())
		if st.ProjectKnown == nil || *st.ProjectKnown {
			t.Fatal("project_known should be false")
		}
	})
	t.Run("known project id", func(t *testing.T) {
		a, c := adminClient(t)
		c.saveToken(a.partnerToken)
		if page := c.get("/admin/settings/whapi").body; !strings.Contains(page, "knows project "+models.DefaultProjectID) {
			t.Fatalf("page: %s", page)
		}
	})
}

// refusedNextToField is what the settings form says next to the token field
// after WHAPI refused a new one.
const refusedNextToField = `data-testid="error-partner_token">WHAPI refused this token (401): the current token stays in use.`

// A pasted token that WHAPI refuses does not replace the verified one: the
// form comes back (422) with the reason next to the token field, the
// fields as typed but the token, the current token's masked form and
// status unchanged, nothing saved. "Save it anyway", with the token pasted
// again, replaces it (marked refused); without the token it is refused.
func TestRefusedTokenOnTheSettingsPage(t *testing.T) {
	a, c := adminClient(t)
	c.saveToken(a.partnerToken)
	ctx := context.Background()
	before, _ := a.store.Settings(ctx)
	audits, _ := a.store.ListAudit(ctx, 100, 0)
	hint := "…" + a.partnerToken[len(a.partnerToken)-4:]

	wrong := fakeJWT(1300)
	r := c.saveToken("Bearer "+wrong, "low_balance_threshold", "55", "project_id", "AnotherProject00001")
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("refused token: %d", r.StatusCode)
	}
	for _, want := range []string{refusedNextToField, "Nothing was saved: WHAPI refused the new token.", `data-testid="save-anyway"`,
		`name="replace_refused" value="1"`, `value="55"`, `value="AnotherProject00001"`, `<span class="mono">` + hint + `</span>`,
		`data-testid="verify-status">Verified<`} {
		if !strings.Contains(r.body, want) {
			t.Fatalf("the page lacks %s:\n%s", want, r.body)
		}
	}
	if strings.Contains(r.body, wrong[len(wrong)-40:]) || strings.Contains(r.body, a.partnerToken[len(a.partnerToken)-40:]) {
		t.Fatal("the page shows a token")
	}
	after, _ := a.store.Settings(ctx)
	if after.PartnerTokenEnc != before.PartnerTokenEnc || after.VerifyStatus != models.VerifyVerified || after.LowBalanceThreshold != before.LowBalanceThreshold ||
		after.ProjectID != before.ProjectID || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatal("a refused token changed the settings")
	}
	if audits2, _ := a.store.ListAudit(ctx, 100, 0); len(audits2) != len(audits) {
		t.Fatal("a refused token wrote an audit event")
	}
	if !strings.Contains(a.logs.String(), "whapi refused the new partner token: nothing saved") || !strings.Contains(a.logs.String(), "status=401") {
		t.Fatal("the log does not say that WHAPI refused the new token")
	}
	if page := c.get("/admin/settings/whapi").body; !strings.Contains(page, hint) || strings.Contains(page, "save-anyway") {
		t.Fatal("the page afterwards does not show the current token, or still offers to save anyway")
	}

	// "Save it anyway" without pasting the token again saves nothing.
	r = c.saveToken("", "replace_refused", "1", "low_balance_threshold", "55")
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-testid="error-partner_token">Paste the token to save it anyway.`) {
		t.Fatalf("save anyway without the token: %d %s", r.StatusCode, r.body)
	}
	if st, _ := a.store.Settings(ctx); st.LowBalanceThreshold != before.LowBalanceThreshold {
		t.Fatal("save anyway without the token saved the other fields")
	}

	// Pasted again, with "Save it anyway": replaced, marked refused.
	r = c.saveToken("Bearer "+wrong, "replace_refused", "1", "low_balance_threshold", "55")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save anyway: %d %s", r.StatusCode, r.body)
	}
	if a.storedToken() != "Bearer "+wrong {
		t.Fatal("save anyway did not replace the token")
	}
	page := c.get("/admin/settings/whapi").body
	for _, want := range []string{"Saved anyway, as you asked: WHAPI refused this token", `data-testid="verify-status">Refused by WHAPI<`, "…" + wrong[len(wrong)-4:]} {
		if !strings.Contains(page, want) {
			t.Fatalf("the page after saving anyway lacks %s:\n%s", want, page)
		}
	}
	if st, _ := a.store.Settings(ctx); st.LowBalanceThreshold != 55 {
		t.Fatal("save anyway did not save the other fields")
	}
}

// PUT /api/settings/whapi with a token WHAPI refuses: 409 token_refused
// with WHAPI's status, nothing saved; the same body with "replace_refused":
// true saves it (verify_status refused); an unreachable WHAPI saves it not
// verified. The new field is read as strictly as the others.
func TestSettingsAPIRefusedToken(t *testing.T) {
	a, c := adminClient(t)
	h := []string{"X-CSRF-Token", c.csrf("/admin/settings/whapi")}
	put := func(body string) (result, map[string]any) {
		t.Helper()
		r := c.jsonReq("PUT", "/api/settings/whapi", body, h...)
		got := map[string]any{}
		_ = json.Unmarshal([]byte(r.body), &got)
		return r, got
	}
	if r, _ := put(`{"partner_token":"Bearer ` + a.partnerToken + `"}`); r.StatusCode != 200 {
		t.Fatalf("PUT: %d %s", r.StatusCode, r.body)
	}
	ctx := context.Background()
	before, _ := a.store.Settings(ctx)
	wrong := fakeJWT(1300)

	r, got := put(`{"partner_token":"` + wrong + `","low_balance_threshold":9}`)
	e, _ := got["error"].(map[string]any)
	if r.StatusCode != http.StatusConflict || e["code"] != "token_refused" || e["whapi_status"] != 401.0 ||
		e["message"] != `WHAPI refused this token (401): the current token stays in use and nothing of this request was saved. To save it all the same, send it again with "replace_refused": true` {
		t.Fatalf("refused token: %d %s", r.StatusCode, r.body)
	}
	if strings.Contains(r.body, wrong[len(wrong)-40:]) {
		t.Fatal("the answer holds the token")
	}
	if st, _ := a.store.Settings(ctx); st.PartnerTokenEnc != before.PartnerTokenEnc || st.VerifyStatus != models.VerifyVerified || st.LowBalanceThreshold != before.LowBalanceThreshold {
		t.Fatal("a refused token changed the settings")
	}

	// The new field, strictly: other spellings, another type, twice, and
	// without a token to save.
	for _, bad := range []string{`{"partner_token":"` + wrong + `","Replace_refused":true}`, `{"partner_token":"` + wrong + `","REPLACE_REFUSED":true}`,
		`{"partner_token":"` + wrong + `","replace_refused":"true"}`, `{"partner_token":"` + wrong + `","replace_refused":1}`,
		`{"partner_token":"` + wrong + `","replace_refused":false,"replace_refused":true}`, `{"partner_token":"` + wrong + `","replaceRefused":true}`} {
		if r, _ := put(bad); r.StatusCode != 400 || !strings.Contains(r.body, `"code":"bad_json"`) {
			t.Errorf("PUT %.80s…: %d %s", bad[len(bad)-40:], r.StatusCode, r.body)
		}
	}
	if r, got := put(`{"replace_refused":true,"low_balance_threshold":9}`); r.StatusCode != 422 ||
		got["error"].(map[string]any)["fields"].(map[string]any)["partner_token"] != "paste the token to save it anyway" {
		t.Fatalf("replace_refused without a token: %d %s", r.StatusCode, r.body)
	}
	if st, _ := a.store.Settings(ctx); st.PartnerTokenEnc != before.PartnerTokenEnc || st.LowBalanceThreshold != before.LowBalanceThreshold {
		t.Fatal("a refused PUT changed the settings")
	}

	r, got = put(`{"partner_token":"` + wrong + `","low_balance_threshold":9,"replace_refused":true}`)
	if r.StatusCode != 200 || got["verify_status"] != "refused" || got["verified"] != false || got["low_balance_threshold"] != 9.0 ||
		got["token_hint"] != "…"+wrong[len(wrong)-4:] {
		t.Fatalf("replace_refused: %d %s", r.StatusCode, r.body)
	}
	if a.storedToken() != "Bearer "+wrong {
		t.Fatal("replace_refused did not save the token")
	}

	// WHAPI unreachable: saved, not verified, as before.
	a.sim.InjectFault(whapisim.Fault{Path: "/projects", Kind: whapisim.FaultStatus, Status: 503, Times: 5})
	r, got = put(`{"partner_token":"` + a.partnerToken + `"}`)
	if r.StatusCode != 200 || got["verify_status"] != "unreachable" || a.storedToken() != "Bearer "+a.partnerToken {
		t.Fatalf("unreachable: %d %s", r.StatusCode, r.body)
	}
}

func TestBadTokenInputChangesNothing(t *testing.T) {
	for _, tt := range []struct {
		name, token, field, want string
		configured               bool
	}{
		{"empty on first save", "", "partner_token", "paste the partner token", false},
		{"only Bearer", "Bearer ", "partner_token", "paste the partner token", true},
		{"not a token", "hello world, this is not it", "partner_token", "contains a space", true},
		{"odd characters", "Bearer <script>alert(1)</script>xxxxxxxxxxxx", "partner_token", "does not look like a WHAPI token", true},
		{"too short", "Bearer abc", "partner_token", "does not look like a WHAPI token", true},
		{"over 16 KB", "Bearer " + strings.Repeat("A", 16*1024+1), "partner_token", "longer than 16 KB", true},
		{"line break inside", "Bearer " + fakeJWT(600) + "\n" + fakeJWT(600), "partner_token", "line break", true},
		{"NUL inside", "Bearer " + fakeJWT(600) + "\x00" + fakeJWT(600), "partner_token", "control character", true},
		{"bad project id", "", "project_id", "8 to 64 letters and digits", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, c := adminClient(t)
			if tt.configured {
				c.saveToken(a.partnerToken)
			}
			before, _ := a.store.Settings(context.Background())
			audits, _ := a.store.ListAudit(context.Background(), 100, 0)
			a.sim.ResetRequests()

			extra := []string{}
			if tt.field == "project_id" {
				extra = []string{"project_id", "bad id!"}
			}
			r := c.saveToken(tt.token, extra...)
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", r.StatusCode)
			}
			if !strings.Contains(r.body, `data-testid="error-`+tt.field+`"`) || !strings.Contains(strings.ToLower(r.body), strings.ToLower(tt.want)) {
				t.Fatalf("no message %q next to %s:\n%s", tt.want, tt.field, r.body)
			}
			after, _ := a.store.Settings(context.Background())
			if after.PartnerTokenEnc != before.PartnerTokenEnc || after.ProjectID != before.ProjectID || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Fatal("bad input changed the settings")
			}
			if n := len(a.sim.Requests()); n != 0 {
				t.Fatalf("bad input reached WHAPI (%d requests)", n)
			}
			if audits2, _ := a.store.ListAudit(context.Background(), 100, 0); len(audits2) != len(audits) {
				t.Fatal("bad input wrote an audit event")
			}
			if strings.Contains(r.body, "xxxxxxxxxxxx") || (len(tt.token) > 40 && strings.Contains(r.body, tt.token[10:40])) {
				t.Fatal("the refused text is echoed back into the page")
			}
		})
	}
}

func TestEmptyFieldKeepsTokenAndReplaceWorks(t *testing.T) {
	a, c := adminClient(t)
	c.saveToken(a.partnerToken)
	first := a.storedToken()

	// An empty token field keeps the token, while other fields change.
	r := c.saveToken("", "low_balance_threshold", "55")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save without token: %d %s", r.StatusCode, r.body)
	}
	if a.storedToken() != first {
		t.Fatal("an empty field replaced the token")
	}
	if st, _ := a.store.Settings(context.Background()); st.LowBalanceThreshold != 55 {
		t.Fatal("threshold not saved")
	}

	// WHAPI rotates the token; the admin pastes the new one.
	next := fakeJWT(1400)
	a.sim.SetPartnerToken(next)
	c.saveToken("Bearer " + next)
	if a.storedToken() != "Bearer "+next {
		t.Fatal("the token was not replaced")
	}
	page := c.get("/admin/settings/whapi").body
	if !strings.Contains(page, "Saved and verified") || !strings.Contains(page, "…"+next[len(next)-4:]) {
		t.Fatalf("page after replace: %s", page)
	}
	if auth, _ := a.lastManagerAuth("/projects"); auth != "Bearer "+next {
		t.Fatal("the replaced token is not the one sent")
	}
}

func TestRemoveTokenNeedsConfirmation(t *testing.T) {
	a, c := adminClient(t)
	c.saveToken(a.partnerToken)
	page := c.get("/admin/settings/whapi/remove")
	if page.StatusCode != 200 || !strings.Contains(page.body, "Remove the partner token?") {
		t.Fatalf("confirmation page: %d", page.StatusCode)
	}
	r := c.submit("/admin/settings/whapi/remove", "/admin/settings/whapi/remove", nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove: %d", r.StatusCode)
	}
	st, _ := a.store.Settings(context.Background())
	if st.Configured() || st.TokenHint != "" {
		t.Fatal("the token is still there")
	}
	if body := c.get("/admin/settings/whapi").body; !strings.Contains(body, "Not configured") || !strings.Contains(body, "The partner token was removed.") {
		t.Fatal("the page does not say the token is gone")
	}
}

func TestTestConnection(t *testing.T) {
	a, c := adminClient(t)
	c.saveToken(a.partnerToken)
	a.sim.SetPartnerToken(fakeJWT(1300)) // WHAPI revoked it
	r := c.submit("/admin/settings/whapi", "/admin/settings/whapi/test", nil)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("test: %d", r.StatusCode)
	}
	if !strings.Contains(r.body, "WHAPI refused this token") || !strings.Contains(r.body, "Refused by WHAPI") {
		t.Fatalf("page: %s", r.body)
	}
	// The refusal is recorded: the page says so afterwards too.
	if body := c.get("/admin/settings/whapi").body; !strings.Contains(body, "Refused by WHAPI") {
		t.Fatalf("page: %s", body)
	}
}

func TestSettingsChangesAreAuditedWithoutTheToken(t *testing.T) {
	a, c := adminClient(t)
	c.saveToken(a.partnerToken, "project_id", "AnotherProject00001")
	c.saveToken("", "project_id", models.DefaultProjectID)
	c.submit("/admin/settings/whapi/remove", "/admin/settings/whapi/remove", nil)
	evs, err := a.store.ListAudit(context.Background(), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range evs {
		actions = append(actions, ev.Action+": "+ev.Detail)
		if strings.Contains(ev.Detail, a.partnerToken[:30]) || strings.Contains(ev.Detail, a.partnerToken[len(a.partnerToken)-30:]) {
			t.Fatal("an audit event holds the token")
		}
		if ev.Action != "user.login" && ev.ActorEmail != "admin@example.com" {
			t.Fatalf("audit event without its actor: %+v", ev)
		}
	}
	joined := strings.Join(actions, "\n")
	for _, want := range []string{"partner token replaced", "project id", "partner token removed", "settings.whapi.verify"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no audit event for %q in:\n%s", want, joined)
		}
	}
}

func TestTokenNeverInDatabaseFilesOrLogs(t *testing.T) {
	a, c := adminClient(t)
	c.saveToken("Bearer " + a.partnerToken)
	c.saveToken("", "low_balance_threshold", "10")
	// Read everything the database holds: on SQLite every byte of its
	// file and WAL, on PostgreSQL every row (testdb.Text).
	b := testdb.Text(t, testdb.Database(a.env.DB))
	if len(b) == 0 {
		t.Fatal("read nothing of the database")
	}
	for _, piece := range []string{a.partnerToken, a.partnerToken[100:140], a.partnerToken[len(a.partnerToken)-40:]} {
		if strings.Contains(b, piece) {
			t.Fatal("the database holds the token in plain text")
		}
	}
	if strings.Contains(a.logs.String(), a.partnerToken[100:140]) {
		t.Fatal("the logs hold the token")
	}
	if !strings.Contains(a.logs.String(), "path=/admin/settings/whapi") {
		t.Fatal("requests are not logged")
	}
}

func TestSettingsAPI(t *testing.T) {
	a, c := adminClient(t)
	token := c.csrf("/admin/settings/whapi")
	h := []string{"X-CSRF-Token", token}

	r := c.jsonReq("GET", "/api/settings/whapi", "")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.StatusCode != 200 {
		t.Fatalf("GET: %d %s", r.StatusCode, r.body)
	}
	if got["configured"] != false || got["project_id"] != models.DefaultProjectID {
		t.Fatalf("GET before: %v", got)
	}

	body, _ := json.Marshal(map[string]string{"partner_token": "Bearer " + a.partnerToken})
	r = c.jsonReq("PUT", "/api/settings/whapi", string(body), h...)
	if r.StatusCode != 200 {
		t.Fatalf("PUT: %d %s", r.StatusCode, r.body)
	}
	got = map[string]any{}
	_ = json.Unmarshal([]byte(r.body), &got)
	if got["configured"] != true || got["verified"] != true || got["token_hint"] != "…"+a.partnerToken[len(a.partnerToken)-4:] {
		t.Fatalf("PUT answer: %v", got)
	}
	if strings.Contains(r.body, a.partnerToken[:60]) || strings.Contains(r.body, a.partnerToken[len(a.partnerToken)-20:]) {
		t.Fatal("the API answer holds the token")
	}

	// Bad input: 422 with the field, nothing changed.
	r = c.jsonReq("PUT", "/api/settings/whapi", `{"partner_token":"not a token","project_id":"x"}`, h...)
	var e struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || r.StatusCode != 422 || e.Error.Code != "invalid_input" ||
		e.Error.Fields["partner_token"] == "" || e.Error.Fields["project_id"] == "" {
		t.Fatalf("bad PUT: %d %s", r.StatusCode, r.body)
	}
	if a.storedToken() != "Bearer "+a.partnerToken {
		t.Fatal("a refused PUT changed the token")
	}
	for _, bad := range []string{`{"partner_token": 5}`, `{"role":"admin"}`, `not json`, ``} {
		r = c.jsonReq("PUT", "/api/settings/whapi", bad, h...)
		if r.StatusCode != 400 || !strings.Contains(r.body, `"code":"bad_json"`) {
			t.Errorf("PUT %q: %d %s", bad, r.StatusCode, r.body)
		}
	}

	// Cookie-authenticated PUT without the CSRF header is refused.
	r = c.jsonReq("PUT", "/api/settings/whapi", `{"project_id":"AnotherProject00001"}`)
	if r.StatusCode != 403 || !strings.Contains(r.body, `"code":"csrf"`) {
		t.Fatalf("PUT without CSRF: %d %s", r.StatusCode, r.body)
	}
}

func TestAPIKeys(t *testing.T) {
	a := newTestApp(t)
	admin := a.newUser(models.RoleAdmin, "admin@example.com")
	customer := a.newUser(models.RoleCustomer, "customer@example.com")
	ctx := context.Background()
	adminKey, _, err := a.store.CreateAPIKey(ctx, models.SystemActor, admin.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	customerKey, _, err := a.store.CreateAPIKey(ctx, models.SystemActor, customer.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	c := a.client() // no cookies at all
	body, _ := json.Marshal(map[string]string{"partner_token": a.partnerToken})

	r := c.jsonReq("PUT", "/api/settings/whapi", string(body), "Authorization", "Bearer "+adminKey)
	if r.StatusCode != 200 {
		t.Fatalf("admin key PUT (no CSRF needed): %d %s", r.StatusCode, r.body)
	}
	if r := c.jsonReq("GET", "/api/settings/whapi", "", "Authorization", "Bearer "+customerKey); r.StatusCode != 403 {
		t.Fatalf("customer key: %d", r.StatusCode)
	}
	for _, bad := range []string{"Bearer wdk_nope", "Bearer " + adminKey + "x", "Basic abc", adminKey} {
		r := c.jsonReq("GET", "/api/settings/whapi", "", "Authorization", bad)
		if r.StatusCode != 401 || !strings.Contains(r.body, `"code":"unauthorized"`) {
			t.Errorf("%q: %d %s", bad[:10], r.StatusCode, r.body)
		}
	}
	keys, _ := a.store.ListAPIKeys(ctx, admin.ID)
	if err := a.store.RevokeAPIKey(ctx, models.SystemActor, keys[0].ID); err != nil {
		t.Fatal(err)
	}
	if r := c.jsonReq("GET", "/api/settings/whapi", "", "Authorization", "Bearer "+adminKey); r.StatusCode != 401 {
		t.Fatalf("revoked key: %d", r.StatusCode)
	}
}

// "Test connection" checks the token and runs the doctor on one answer of
// WHAPI's: one GET /projects, and the page shows both the check and the
// doctor's lines read from it.
func TestTestConnectionAsksWHAPIOnce(t *testing.T) {
	a, c := adminClient(t)
	c.saveToken(a.partnerToken)
	projects := func() int {
		n := 0
		for _, r := range a.sim.Requests() {
			if r.Method == http.MethodGet && r.Path == "/projects" {
				n++
			}
		}
		return n
	}
	before := projects()
	r := c.submit("/admin/settings/whapi", "/admin/settings/whapi/test", nil)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("test: %d", r.StatusCode)
	}
	if got := projects() - before; got != 1 {
		t.Errorf("Test connection asked GET /projects %d times, want once", got)
	}
	for _, want := range []string{"accepted by WHAPI", "answered in"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks the doctor's %q", want)
		}
	}
}
