package provision

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
)

// The admins' mails: the partner's days under the threshold alert each
// enabled admin once a day however often the job looks; a job given up
// alerts each admin once per job; the daily summary goes once per admin
// per day from the digest hour on, and not before; an admin who switched a
// kind off gets none of it; and no mail names the upstream service.
func TestAdminAlertsAndDigestOncePerCause(t *testing.T) {
	e := newEnv(t)
	e.svc.SetPublicURL("https://desk.example.com")
	if _, err := e.store.CreateUser(e.ctx, models.NewUser{Email: "boss@example.com", Password: "long enough pw", Role: models.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	quiet, err := e.store.CreateUser(e.ctx, models.NewUser{Email: "quiet@example.com", Password: "long enough pw", Role: models.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := e.store.CreateUser(e.ctx, models.NewUser{Email: "gone@example.com", Password: "long enough pw", Role: models.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetDisabled(e.ctx, models.SystemActor, gone.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetMailPrefs(e.ctx, models.SystemActor, quiet.ID, map[string]bool{models.MailAdminDigest: true}); err != nil {
		t.Fatal(err)
	}
	high := int64(1_000_000)
	if _, _, err := e.store.UpdateSettings(e.ctx, models.SystemActor, models.SettingsChange{LowBalanceThreshold: &high}); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	at := day.Add(6 * time.Hour) // before the digest hour
	e.svc.SetClock(func() time.Time { return at })

	mails := func(to, kind string) []models.Mail {
		t.Helper()
		all, _, err := e.store.Mails(e.ctx, 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []models.Mail
		for _, m := range all {
			if m.To == to && m.Kind == kind {
				full, err := e.store.MailByID(e.ctx, m.ID)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, *full)
			}
		}
		return out
	}
	in := AlertInput{DigestHour: DefaultDigestHour, Failures: []JobFailure{{ID: 41, What: "auto top-up", At: at.Add(-time.Hour)}}}
	for range 2 {
		if _, err := e.svc.AdminAlerts(e.ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if got := mails("boss@example.com", models.MailAdminAlert); len(got) != 2 {
		t.Fatalf("%d alerts to the admin after two looks, want 2 (the low balance, the job)", len(got))
	}
	if n := len(mails("quiet@example.com", models.MailAdminAlert)) + len(mails("gone@example.com", models.MailAdminAlert)); n != 0 {
		t.Errorf("%d alerts to the admin who switched them off or the disabled one", n)
	}
	if n := len(mails("boss@example.com", models.MailAdminDigest)); n != 0 {
		t.Errorf("a summary before the digest hour: %d", n)
	}

	// A second failed job: one more alert; the same day's low balance: none.
	in.Failures = append(in.Failures, JobFailure{ID: 42, What: "reconcile", At: at})
	at = day.Add(8 * time.Hour)
	for range 2 {
		if _, err := e.svc.AdminAlerts(e.ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if got := mails("boss@example.com", models.MailAdminAlert); len(got) != 3 {
		t.Errorf("%d alerts, want 3", len(got))
	}
	for _, to := range []string{"boss@example.com", "quiet@example.com"} {
		got := mails(to, models.MailAdminDigest)
		if len(got) != 1 {
			t.Fatalf("%d summaries to %s after two looks past the digest hour, want 1", len(got), to)
		}
		d := got[0]
		for _, want := range []string{"Partner days (estimate)", "auto top-up (job 41)", "reconcile (job 42)", "Needs attention", "https://desk.example.com/admin"} {
			if !strings.Contains(d.Text, want) || !strings.Contains(d.HTML, want) {
				t.Errorf("the summary lacks %q in a part:\n%s", want, d.Text)
			}
		}
	}
	if n := len(mails("gone@example.com", models.MailAdminDigest)); n != 0 {
		t.Error("a disabled admin got the summary")
	}
	// The next day: the low balance alerts again, the summary goes again.
	at = day.Add(24*time.Hour + 8*time.Hour)
	if _, err := e.svc.AdminAlerts(e.ctx, AlertInput{DigestHour: DefaultDigestHour}); err != nil {
		t.Fatal(err)
	}
	if got := mails("boss@example.com", models.MailAdminAlert); len(got) != 4 {
		t.Errorf("%d alerts after a second day under the threshold, want 4", len(got))
	}
	if got := mails("boss@example.com", models.MailAdminDigest); len(got) != 2 {
		t.Errorf("%d summaries after two days, want 2", len(got))
	}
	all, _, _ := e.store.Mails(e.ctx, 1000, 0)
	for _, m := range all {
		full, _ := e.store.MailByID(e.ctx, m.ID)
		if strings.Contains(strings.ToLower(full.Subject+full.Text+full.HTML), "whapi") {
			t.Errorf("mail %q names the upstream service", full.Subject)
		}
	}
}

// The daily summary's "Needs attention" section is the Attention list: a
// line disconnected past the alert's delay is in it, with a link to its
// connect page on the public address, and leaves it once linked again.
func TestDigestCarriesTheAttentionList(t *testing.T) {
	e := newEnv(t)
	e.svc.SetPublicURL("https://desk.example.com")
	if _, err := e.store.CreateUser(e.ctx, models.NewUser{Email: "boss@example.com", Password: "long enough pw", Role: models.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	ch := e.linked("amal")
	e.unlink(ch)
	e.clock.Advance(e.svc.DisconnectAlertAfter() + time.Minute)
	if _, err := e.svc.AdminAlerts(e.ctx, AlertInput{DigestHour: 0}); err != nil {
		t.Fatal(err)
	}
	digests := e.mails(MailKindAdminDigest)
	if len(digests) != 1 {
		t.Fatalf("%d summaries, want 1", len(digests))
	}
	link := fmt.Sprintf("https://desk.example.com/admin/channels/%d/connect", ch.ID)
	for _, want := range []string{ch.Name, "disconnected since", link} {
		if !strings.Contains(digests[0].Text, want) || !strings.Contains(digests[0].HTML, want) {
			t.Errorf("the summary's parts lack %q:\n%s", want, digests[0].Text)
		}
	}
	e.relink(ch)
	items, err := e.svc.digestAttention(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 0 {
		t.Errorf("linked again, still in the summary: %+v", items)
	}
}
