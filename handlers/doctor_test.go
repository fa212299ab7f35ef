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
	"whapidesk/provision"
)

// doctorRow is one line of the page's connection check: the check, its
// badge and what it found.
type doctorRow struct{ check, badge, tone, detail string }

var doctorLine = regexp.MustCompile(`<tr data-testid="doctor-line" data-check="([^"]+)"><td[^>]*><span class="badge badge-([a-z]+)">([^<]+)</span></td><td[^>]*>[^<]*</td><td[^>]*>([^<]*)</td></tr>`)

// doctorRows reads the connection check's lines off a page.
func doctorRows(body string) []doctorRow {
	var rows []doctorRow
	for _, m := range doctorLine.FindAllStringSubmatch(body, -1) {
		rows = append(rows, doctorRow{check: html.UnescapeString(m[1]), tone: m[2], badge: m[3], detail: html.UnescapeString(m[4])})
	}
	return rows
}

// "Test connection" shows the doctor's lines — the same checks, in the
// same order and words as `whapidesk doctor` — with a badge each, on the
// page it answers with (HTMX or not); they are not kept for the next
// visit. The token's check is recorded as before.
func TestTestConnectionShowsTheDoctorsLines(t *testing.T) {
	a, c := adminClient(t)
	c.saveToken(a.partnerToken)
	if rows := doctorRows(c.get("/admin/settings/whapi").body); len(rows) != 0 {
		t.Fatalf("lines before any test: %v", rows)
	}
	for _, htmx := range []bool{false, true} {
		c.header.Del("HX-Request")
		if htmx {
			c.header.Set("HX-Request", "true")
		}
		r := c.submit("/admin/settings/whapi", "/admin/settings/whapi/test", nil)
		if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Verified: WHAPI accepted the token") {
			t.Fatalf("htmx %v: %d, no flash:\n%s", htmx, r.StatusCode, r.body)
		}
		rows := doctorRows(r.body)
		want := []doctorRow{
			{provision.CheckToken, "Pass", "ok", "accepted by WHAPI"},
			{provision.CheckManager, "Pass", "ok", "answered in"},
			{provision.CheckProject, "Pass", "ok", "WHAPI lists " + models.DefaultProjectID},
			{provision.CheckClock, "Pass", "ok", "agrees with WHAPI's"},
			{provision.CheckGate, "Warning", "warn", "no channel to test the gate with yet"},
			{provision.CheckPublicURL, "Warning", "warn", "not set: no webhooks"},
			{provision.CheckWebhooks, "Skipped", "muted", "no public URL"},
		}
		if len(rows) != len(want) {
			t.Fatalf("htmx %v: %d lines, want %d:\n%s", htmx, len(rows), len(want), r.body)
		}
		for i, w := range want {
			if g := rows[i]; g.check != w.check || g.badge != w.badge || g.tone != w.tone || !strings.Contains(g.detail, w.detail) {
				t.Errorf("htmx %v: line %d is %+v, want %+v", htmx, i, g, w)
			}
		}
		if s := `data-testid="doctor-summary">4 passed, 2 warnings, 1 not checked · checked `; !strings.Contains(r.body, s) {
			t.Errorf("htmx %v: no summary %q", htmx, s)
		}
		if strings.Contains(r.body, a.partnerToken[len(a.partnerToken)-40:]) {
			t.Fatal("the page shows the partner token")
		}
	}
	c.header.Del("HX-Request")
	if rows := doctorRows(c.get("/admin/settings/whapi").body); len(rows) != 0 {
		t.Fatalf("the lines were kept: %v", rows)
	}
}

// A partner token WHAPI no longer takes: the token's line fails, the ones
// that need its answer are not checked, and the refusal is recorded as
// the page's status.
func TestTestConnectionShowsARefusedToken(t *testing.T) {
	a, c := adminClient(t)
	c.saveToken(a.partnerToken)
	a.sim.SetPartnerToken(fakeJWT(1300)) // WHAPI revoked it
	r := c.submit("/admin/settings/whapi", "/admin/settings/whapi/test", nil)
	rows := doctorRows(r.body)
	if r.StatusCode != http.StatusOK || len(rows) != 7 {
		t.Fatalf("%d, %d lines", r.StatusCode, len(rows))
	}
	if g := rows[0]; g.check != provision.CheckToken || g.badge != "Fail" || g.tone != "bad" || !strings.Contains(g.detail, "WHAPI refused it (401)") {
		t.Errorf("token line %+v", g)
	}
	if g := rows[2]; g.badge != "Skipped" || !strings.Contains(g.detail, "refused") {
		t.Errorf("project line %+v", g)
	}
	if !strings.Contains(r.body, "1 failed") {
		t.Error("the summary does not count the failure")
	}
	st, err := a.store.Settings(context.Background())
	if err != nil || st.VerifyStatus != models.VerifyRefused {
		t.Fatalf("recorded %q, %v", st.VerifyStatus, err)
	}
}

// Only an admin runs the checks, and only with the page's CSRF token:
// anything else runs nothing (WHAPI is not asked).
func TestTestConnectionIsAdminOnly(t *testing.T) {
	a, admin := adminClient(t)
	admin.saveToken(a.partnerToken)
	a.newUser(models.RoleCustomer, "customer@example.com")
	customer := a.client()
	customer.login("customer@example.com")
	anon := a.client()
	a.sim.ResetRequests()

	if r := customer.postForm("/admin/settings/whapi/test", url.Values{"_csrf": {customer.csrf("/app")}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("customer: %d, want 403", r.StatusCode)
	}
	if r := anon.postForm("/admin/settings/whapi/test", url.Values{"_csrf": {anon.csrf("/login")}}); r.StatusCode != http.StatusSeeOther ||
		!strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("anonymous: %d to %q, want a redirect to the login", r.StatusCode, r.Header.Get("Location"))
	}
	if r := admin.postForm("/admin/settings/whapi/test", nil); r.StatusCode != http.StatusForbidden {
		t.Errorf("admin without the CSRF token: %d, want 403", r.StatusCode)
	}
	if n := len(a.sim.Requests()); n != 0 {
		t.Fatalf("WHAPI was asked %d times", n)
	}
}

// The connection check speaks the reader's language: its checks' names
// and findings in Arabic and French, numbers in the language's digits,
// the project's id kept apart from an Arabic sentence; the command line
// and the log keep English (provision's Detail).
func TestTestConnectionInTheReadersLanguage(t *testing.T) {
	for _, tc := range []struct {
		lang             string
		name, project    string
		manager, webhook string
	}{
		{"ar", "الرمز", "تُدرج WHAPI المشروع \u2068" + models.DefaultProjectID + "\u2069", "أجاب خلال ", "معطّلة: لم يُحدَّد عنوان عام"},
		{"fr", "jeton", "WHAPI liste " + models.DefaultProjectID, "a répondu en ", "désactivés : aucune URL publique n’est définie"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			a, c := adminClient(t)
			c.saveToken(a.partnerToken)
			c.header.Set("Accept-Language", tc.lang)
			r := c.submit("/admin/settings/whapi", "/admin/settings/whapi/test", nil)
			rows := doctorRows(r.body)
			if r.StatusCode != http.StatusOK || len(rows) != 7 {
				t.Fatalf("%d, %d lines:\n%s", r.StatusCode, len(rows), r.body)
			}
			if !strings.Contains(r.body, ">"+tc.name+"</td>") {
				t.Errorf("the token check is not named %q", tc.name)
			}
			if g := rows[2].detail; !strings.HasPrefix(g, tc.project+" (") {
				t.Errorf("project line %q, want %q", g, tc.project)
			}
			if g := rows[1].detail; !strings.HasPrefix(g, tc.manager) || strings.Contains(g, "answered") {
				t.Errorf("manager line %q", g)
			}
			if tc.lang == "ar" && strings.ContainsAny(rows[1].detail, "0123456789") {
				t.Errorf("manager line %q: Western digits in Arabic", rows[1].detail)
			}
			if g := rows[6].detail; g != tc.webhook {
				t.Errorf("webhooks line %q, want %q", g, tc.webhook)
			}
			for _, row := range rows {
				for _, en := range []string{"not set", "answered in", "agrees with", "no channel"} {
					if strings.Contains(row.detail, en) {
						t.Errorf("%s line is English: %q", row.check, row.detail)
					}
				}
			}
		})
	}
}
