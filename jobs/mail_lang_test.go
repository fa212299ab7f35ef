package jobs_test

import (
	"mime"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/testsmtp"
	"whapidesk/models"
	"whapidesk/provision"
)

// subjectOf is a mail's Subject as its reader sees it (RFC 2047 decoded).
func subjectOf(t *testing.T, m testsmtp.Mail) (subject, text, html string) {
	t.Helper()
	h, p := m.Parts(t)
	s, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Fatalf("subject %q: %v", h.Get("Subject"), err)
	}
	return s, p["text/plain"], p["text/html"]
}

// A customer whose language is Arabic gets the disconnect alert in Arabic,
// through a real SMTP server: the subject and both parts in the catalog's
// Arabic words, the HTML part right to left, the channel's name isolated in
// the text part; the connect link (and so the Message-ID's domain) is the
// same as in English, and it works.
func TestDisconnectAlertInTheOwnersLanguage(t *testing.T) {
	e := newMailEnv(t)
	clock := &manualClock{now: time.Now().UTC().Truncate(time.Second)}
	e.store.SetClock(clock.Now)
	e.svc.SetClock(clock.Now)
	srv := testsmtp.Start(t, testsmtp.Options{})
	e.queueWithAlerts(t, srv)
	ch := e.linkedChannel(t, "rana@example.com")
	if err := e.store.SetUserLanguage(t.Context(), e.admin, ch.UserID, "ar"); err != nil {
		t.Fatal(err)
	}
	no := false
	if _, err := e.store.ApplyGate(t.Context(), ch.ID, models.GateObservation{Status: "QR", Linked: &no}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(e.svc.DisconnectAlertAfter() + time.Minute)
	if rep, err := e.svc.DisconnectAlerts(t.Context()); err != nil || rep.Queued != 1 {
		t.Fatalf("alerts: %+v %v", rep, err)
	}
	got := srv.To(t, "rana@example.com", 1)
	subject, text, html := subjectOf(t, got[0])
	for _, want := range []string{"غير متصل", "\u2068front desk\u2069"} {
		if !strings.Contains(subject, want) {
			t.Errorf("subject %q lacks %q", subject, want)
		}
	}
	for _, want := range []string{"مرحبًا", "خطك «\u2068front desk\u2069»", "أعد توصيله بمسح رمز جديد", "https://desk.example.com/l/"} {
		if !strings.Contains(text, want) {
			t.Errorf("the text part lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{`<html lang="ar" dir="rtl">`, "إعادة التوصيل", `href="https://desk.example.com/l/`, "<bdi>front desk</bdi>"} {
		if !strings.Contains(html, want) {
			t.Errorf("the HTML part lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(text, "Hello") || strings.Contains(html, "Reconnect") || strings.Contains(text, "mail.") {
		t.Errorf("English words (or a catalog id) in the Arabic alert:\n%s\n%s", text, html)
	}
	i := strings.Index(text, "https://desk.example.com/l/")
	token := strings.Fields(text[i+len("https://desk.example.com/l/"):])[0]
	token = strings.TrimRight(token, "\u2069")
	if _, _, err := e.svc.OpenConnectLink(t.Context(), token); err != nil {
		t.Fatalf("the mailed link does not open: %v", err)
	}
	if strings.Contains(strings.ToLower(got[0].Data), "whapi") {
		t.Fatalf("the alert shows WHAPI:\n%s", got[0].Data)
	}
}

// Each admin gets the daily summary in their own language: one whose
// language is French gets it in French (subject, both parts, the states'
// words), one with none in English, through a real SMTP server.
func TestDigestInEachAdminsLanguage(t *testing.T) {
	e := newMailEnv(t)
	fr, err := e.store.CreateUser(t.Context(), models.NewUser{Email: "chef@example.com", Password: "long enough pw 42", Role: models.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetUserLanguage(t.Context(), e.admin, fr.ID, "fr"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CreateUser(t.Context(), models.NewUser{Email: "boss@example.com", Password: "long enough pw 42", Role: models.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	srv := testsmtp.Start(t, testsmtp.Options{})
	e.queue(t, srv)
	in := provision.AlertInput{DigestHour: 0, Failures: []provision.JobFailure{
		{ID: 41, What: "auto top-up", Kind: "auto_top_up", At: time.Now().Add(-time.Hour)}}}
	if _, err := e.svc.AdminAlerts(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	digest := func(to string) (string, string, string) {
		t.Helper()
		for _, m := range srv.To(t, to, 3) {
			if s, text, html := subjectOf(t, m); strings.Contains(s, "résumé") || strings.Contains(s, "summary") {
				return s, text, html
			}
		}
		t.Fatalf("no summary to %s", to)
		return "", "", ""
	}
	subject, text, html := digest("chef@example.com")
	if !strings.Contains(subject, "Acme Desk : résumé quotidien") {
		t.Errorf("French subject %q", subject)
	}
	for _, want := range []string{"Jours partenaire (estimation)", "recharge automatique (tâche 41)", "À surveiller", "Canaux", "Essai gratuit :"} {
		if !strings.Contains(text, want) || !strings.Contains(html, want) {
			t.Errorf("the French summary lacks %q:\n%s\n%s", want, text, html)
		}
	}
	if !strings.Contains(html, `<html lang="fr" dir="ltr">`) || strings.Contains(text, "Partner days") {
		t.Errorf("the French summary:\n%s\n%s", text, html)
	}
	subject, text, _ = digest("boss@example.com")
	if !strings.Contains(subject, "Acme Desk: daily summary") || !strings.Contains(text, "Partner days (estimate)") ||
		!strings.Contains(text, "auto top-up (job 41)") {
		t.Errorf("the English summary %q:\n%s", subject, text)
	}
}
