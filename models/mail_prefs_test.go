package models

import (
	"database/sql"
	"errors"
	"testing"
)

// Each user's preferences: every switchable kind on by default; switched
// off, MailWantedTx says no in the queueing transaction; the security mails
// are always wanted and cannot be switched; a customer switches only a
// customer's kinds and an admin only an admin's.
func TestMailPrefs(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := t.Context()
	cust, err := s.CreateUser(ctx, NewUser{Email: "c@example.com", Password: "a good long password 42", Role: RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := s.CreateUser(ctx, NewUser{Email: "a@example.com", Password: "a good long password 42", Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	wanted := func(u *User, kind string) bool {
		t.Helper()
		var on bool
		if err := s.InSQLTx(ctx, func(tx *sql.Tx) error {
			var err error
			on, err = s.MailWantedTx(ctx, tx, u.ID, kind)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return on
	}
	got, err := s.MailPrefs(ctx, cust.ID)
	if err != nil || len(got) != 2 || !got[MailDisconnectAlert] || !got[MailExpiryReminder] {
		t.Fatalf("a new customer's preferences %v (%v), want both of theirs on", got, err)
	}
	if err := s.SetMailPrefs(ctx, SystemActor, cust.ID, map[string]bool{MailExpiryReminder: true}); err != nil {
		t.Fatal(err)
	}
	if wanted(cust, MailDisconnectAlert) || !wanted(cust, MailExpiryReminder) {
		t.Error("the switched-off disconnect alert is wanted, or the reminder left on is not")
	}
	for _, k := range []string{MailInvitation, MailPasswordReset} {
		if !wanted(cust, k) {
			t.Errorf("the security mail %s is not wanted", k)
		}
		if err := s.SetMailPrefs(ctx, SystemActor, cust.ID, map[string]bool{k: false}); !errors.Is(err, ErrMailKindFixed) {
			t.Errorf("switching %s: %v, want ErrMailKindFixed", k, err)
		}
	}
	if err := s.SetMailPrefs(ctx, SystemActor, cust.ID, map[string]bool{MailAdminDigest: true}); !errors.Is(err, ErrMailKindFixed) {
		t.Errorf("a customer switching an admin's digest: %v", err)
	}
	if err := s.SetMailPrefs(ctx, SystemActor, admin.ID, map[string]bool{MailAdminAlert: true}); err != nil {
		t.Fatal(err)
	}
	if wanted(admin, MailAdminDigest) || !wanted(admin, MailAdminAlert) {
		t.Error("the admin's digest is still wanted, or their alerts are not")
	}
	if err := s.SetMailPrefs(ctx, SystemActor, cust.ID, map[string]bool{MailDisconnectAlert: true, MailExpiryReminder: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.MailPrefs(ctx, cust.ID); !got[MailDisconnectAlert] {
		t.Error("switched on again, the alert stays off")
	}
	if err := s.SetMailPrefs(ctx, SystemActor, 999999, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown user: %v", err)
	}
}
