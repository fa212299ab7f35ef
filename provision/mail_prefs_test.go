package provision

import (
	"database/sql"
	"net/url"
	"testing"

	"whapidesk/models"
)

// queueMail is the one door of every mail, and it keeps each user's
// preferences: a switchable kind the user switched off writes no outbox
// row (and no job), on again it does; a security mail (the invitation, the
// password reset) is queued whatever the user said.
func TestQueueMailKeepsPreferences(t *testing.T) {
	e := newEnv(t)
	u := e.customer("pref", 1, 30, 30)
	base, _ := url.Parse("https://desk.example.com")
	queue := func(kind, key string) {
		t.Helper()
		if err := e.store.InSQLTx(e.ctx, func(tx *sql.Tx) error {
			_, err := e.svc.queueMail(e.ctx, tx, u, kind, renderedMail{subject: "s", text: "t", html: "<p>h</p>"}, key, base)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(kind string) int {
		t.Helper()
		ms, _, err := e.store.Mails(e.ctx, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range ms {
			if m.Kind == kind {
				n++
			}
		}
		return n
	}
	if err := e.store.SetMailPrefs(e.ctx, models.SystemActor, u.ID, map[string]bool{models.MailExpiryReminder: true}); err != nil {
		t.Fatal(err)
	}
	queue(MailKindDisconnectAlert, "a")
	queue(MailKindExpiryReminder, "b")
	queue(MailKindPasswordReset, "c")
	queue(MailKindInvitation, "d")
	if count(MailKindDisconnectAlert) != 0 || count(MailKindExpiryReminder) != 1 || count(MailKindPasswordReset) != 1 || count(MailKindInvitation) != 1 {
		t.Fatalf("outbox after queueing with the disconnect alert off: alert %d, reminder %d, reset %d, invitation %d",
			count(MailKindDisconnectAlert), count(MailKindExpiryReminder), count(MailKindPasswordReset), count(MailKindInvitation))
	}
	if err := e.store.SetMailPrefs(e.ctx, models.SystemActor, u.ID, map[string]bool{models.MailDisconnectAlert: true, models.MailExpiryReminder: true}); err != nil {
		t.Fatal(err)
	}
	queue(MailKindDisconnectAlert, "a")
	if count(MailKindDisconnectAlert) != 1 {
		t.Error("switched on again, the alert is not queued")
	}
}
