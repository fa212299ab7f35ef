package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"whapidesk/models"
)

// rtlRoot is how an Arabic page starts its document.
const rtlRoot = `<html lang="ar" dir="rtl">`

// The admin pages speak the reader's language: asked with Accept-Language:
// ar, each comes right to left, in Arabic, its words from the catalog;
// an audit line's action is in Arabic words while what was recorded
// (subject, detail) is shown as it is, isolated.
func TestAdminPagesInArabic(t *testing.T) {
	a, c := adminClient(t)
	c.saveToken(a.partnerToken)
	c.header.Set("Accept-Language", "ar")
	for _, tt := range []struct{ path, want string }{
		{"/admin/audit", "سجل التدقيق"},
		{"/admin/attention", "لا شيء يحتاج إلى انتباه."},
		{"/admin/jobs", "لا يشغّل هذا الخادم أي مهام في الخلفية."},
		{"/admin/outbox", "كل رسالة بريد يرسلها التطبيق"},
		{"/admin/webhooks", "نقطة استقبال جديدة"},
		{"/admin/settings/whapi", "رمز الشريك"},
		{"/admin/partner/entries", "قيود رصيد الشريك"},
	} {
		r := c.get(tt.path)
		if r.StatusCode != http.StatusOK || !strings.Contains(r.body, rtlRoot) || !strings.Contains(r.body, tt.want) {
			t.Errorf("%s in Arabic: status %d, rtl %v, %q %v:\n%s", tt.path, r.StatusCode, strings.Contains(r.body, rtlRoot),
				tt.want, strings.Contains(r.body, tt.want), r.body)
		}
	}

	// The token's save is on the audit log: its action in Arabic words
	// (the raw action kept for tools), the admin's e-mail isolated.
	audit := c.get("/admin/audit").body
	for _, want := range []string{`data-action="settings.whapi.update">تعديل إعدادات WHAPI</td>`, `<bdi>admin@example.com</bdi>`,
		`class="table table-cards"`, `data-label="الإجراء"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("the Arabic audit log lacks %s:\n%s", want, audit)
		}
	}
	// An action the catalog does not know is shown as recorded.
	if err := a.store.RecordAudit(context.Background(), models.SystemActor, "test.unknown_action", "x", "y"); err != nil {
		t.Fatal(err)
	}
	if audit := c.get("/admin/audit").body; !strings.Contains(audit, `data-action="test.unknown_action">test.unknown_action</td>`) {
		t.Errorf("an unknown action is not shown as recorded:\n%s", audit)
	}

	// "Test connection" answers in Arabic, and its lines' outcomes too.
	r := c.submit("/admin/settings/whapi", "/admin/settings/whapi/test", nil)
	if !strings.Contains(r.body, rtlRoot) || !strings.Contains(r.body, "تم التحقق: قبل WHAPI الرمز ويعرف المشروع") ||
		!strings.Contains(r.body, `<span class="badge badge-ok">ناجح</span>`) {
		t.Errorf("Test connection in Arabic:\n%s", r.body)
	}
}

// A refused token comes back next to its field, in the reader's language:
// the field marked invalid and described by its message, which says the
// pasted text was not kept — the token is never written back — while the
// other values typed are.
func TestAdminSettingsTokenErrorByTheField(t *testing.T) {
	a, c := adminClient(t)
	c.saveToken(a.partnerToken)
	c.header.Set("Accept-Language", "ar")
	refused := "wrong" + strings.Repeat("x", 40) + "token"
	r := c.submit("/admin/settings/whapi", "/admin/settings/whapi", url.Values{"partner_token": {refused},
		"project_id": {"TypedProject0001"}, "low_balance_threshold": {"77"}})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a refused token: status %d, want 422:\n%s", r.StatusCode, r.body)
	}
	for _, want := range []string{rtlRoot, `aria-describedby="partner_token-hint partner_token-error" aria-invalid="true"`,
		`id="partner_token-error" role="alert"`, "حفاظًا على الأمان لم يُحتفظ بالنص الذي لصقته", "احفظه على أي حال",
		`value="TypedProject0001"`, `value="77"`, "لم يُحفظ شيء: رفض WHAPI الرمز الجديد."} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the refused form lacks %s:\n%s", want, r.body)
		}
	}
	if strings.Contains(r.body, refused) {
		t.Error("the page shows the refused token")
	}
}

// An admin whose own language is French reads the settings' flashes, the
// webhooks' form errors' surroundings and the jobs page in French,
// whatever the browser asks.
func TestAdminFrenchUserReadsFrench(t *testing.T) {
	a := newTestApp(t)
	u := a.newUser(models.RoleAdmin, "admin@example.com")
	if err := a.store.SetUserLanguage(context.Background(), models.SystemActor, u.ID, "fr"); err != nil {
		t.Fatal(err)
	}
	c := a.client()
	c.header.Set("Accept-Language", "ar")
	c.login("admin@example.com")
	r := c.saveToken(a.partnerToken)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: status %d:\n%s", r.StatusCode, r.body)
	}
	page := c.get("/admin/settings/whapi").body
	if !strings.Contains(page, `<html lang="fr" dir="ltr">`) ||
		!strings.Contains(page, "Enregistré et vérifié : WHAPI a accepté le jeton et connaît le projet "+models.DefaultProjectID+".") {
		t.Errorf("the settings page after a save, in French:\n%s", page)
	}
	r = c.submit("/admin/webhooks", "/admin/webhooks", url.Values{"url": {"https://example.com/hook"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `value="https://example.com/hook"`) ||
		!strings.Contains(r.body, "Nouveau point de terminaison") || !strings.Contains(r.body, `data-testid="error-events"`) {
		t.Errorf("a webhook without events, in French: status %d:\n%s", r.StatusCode, r.body)
	}
	if r := c.get("/admin/audit"); !strings.Contains(r.body, "Réglages WHAPI modifiés") || !strings.Contains(r.body, "Journal d’audit") {
		t.Errorf("the audit log in French:\n%s", r.body)
	}
}
