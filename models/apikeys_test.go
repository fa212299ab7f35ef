package models

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestUserByAPIKey: a key finds its enabled user in one query; unknown,
// malformed and revoked keys, and keys of disabled users, do not; the last
// use is written at most once a minute.
func TestUserByAPIKey(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	u, err := s.CreateUser(ctx, NewUser{Email: "a@example.com", Name: "Ann", Password: "long enough pw", Role: RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	key, k, err := s.CreateAPIKey(ctx, SystemActor, u.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	lastUsed := func() *time.Time {
		var got APIKey
		s.db.First(&got, k.ID)
		return got.LastUsedAt
	}

	before := s.QueryCount()
	got, err := s.UserByAPIKey(ctx, key)
	if err != nil || got.ID != u.ID || got.Email != "a@example.com" || got.Name != "Ann" || got.Role != RoleCustomer || got.PasswordHash == "" {
		t.Fatalf("UserByAPIKey = %+v, %v", got, err)
	}
	if n := s.QueryCount() - before; n != 2 { // the lookup, and the first use recorded
		t.Fatalf("first use: %d statements, want 2", n)
	}
	if lu := lastUsed(); lu == nil || !lu.Equal(now) {
		t.Fatalf("last used %v, want %v", lu, now)
	}
	now = now.Add(30 * time.Second)
	before = s.QueryCount()
	if _, err := s.UserByAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if n := s.QueryCount() - before; n != 1 {
		t.Fatalf("second use within a minute: %d statements, want 1", n)
	}
	now = now.Add(time.Minute)
	if _, err := s.UserByAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if lu := lastUsed(); lu == nil || !lu.Equal(now) {
		t.Fatalf("last used %v, want %v", lu, now)
	}

	for name, k := range map[string]string{
		"unknown":   APIKeyPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"no prefix": key[len(APIKeyPrefix):],
		"too long":  key + string(make([]byte, 128)),
	} {
		if _, err := s.UserByAPIKey(ctx, k); !errors.Is(err, ErrInvalidAPIKey) {
			t.Errorf("%s key: %v, want ErrInvalidAPIKey", name, err)
		}
	}
	s.db.Exec("UPDATE users SET disabled = 1 WHERE id = ?", u.ID)
	if _, err := s.UserByAPIKey(ctx, key); !errors.Is(err, ErrInvalidAPIKey) {
		t.Fatalf("disabled user: %v, want ErrInvalidAPIKey", err)
	}
	s.db.Exec("UPDATE users SET disabled = 0 WHERE id = ?", u.ID)
	if err := s.RevokeAPIKey(ctx, SystemActor, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByAPIKey(ctx, key); !errors.Is(err, ErrInvalidAPIKey) {
		t.Fatalf("revoked key: %v, want ErrInvalidAPIKey", err)
	}
}
