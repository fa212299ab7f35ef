package models

import (
	"context"
	"testing"
)

func TestSetUserLanguage(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, NewUser{Email: "l@example.com", Password: "long enough pw", Role: RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	if u.Language != "" {
		t.Fatalf("new user speaks %q", u.Language)
	}
	for _, tag := range []string{"ar", "ar", "", "fr"} {
		if err := s.SetUserLanguage(ctx, SystemActor, u.ID, tag); err != nil {
			t.Fatal(err)
		}
		got, err := s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Language != tag {
			t.Fatalf("language %q, want %q", got.Language, tag)
		}
	}
	var n int64
	if err := s.db.Model(&AuditEvent{}).Where("action = ?", "user.language").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d audit rows, want 3 (the repeated ar writes none)", n)
	}
	// The database refuses what no catalog could hold.
	if err := s.db.Exec("UPDATE users SET language = 'x' WHERE id = ?", u.ID).Error; err == nil {
		t.Fatal("a one-letter language was stored")
	}
}
