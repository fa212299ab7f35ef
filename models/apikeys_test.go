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
	s.db.Exec("UPDATE users SET disabled = TRUE WHERE id = ?", u.ID)
	if _, err := s.UserByAPIKey(ctx, key); !errors.Is(err, ErrInvalidAPIKey) {
		t.Fatalf("disabled user: %v, want ErrInvalidAPIKey", err)
	}
	s.db.Exec("UPDATE users SET disabled = FALSE WHERE id = ?", u.ID)
	if err := s.RevokeAPIKey(ctx, SystemActor, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByAPIKey(ctx, key); !errors.Is(err, ErrInvalidAPIKey) {
		t.Fatalf("revoked key: %v, want ErrInvalidAPIKey", err)
	}
}

// TestDisablingAUserRevokesTheirAPIKeysForGood: disabling a user revokes
// every key of theirs at once (one audit event says how many); enabling
// them again brings no key back, and a key made after works. A key
// revoked before keeps its time, and other users' keys are untouched.
func TestDisablingAUserRevokesTheirAPIKeysForGood(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	newUser := func(email string) *User {
		u, err := s.CreateUser(ctx, NewUser{Email: email, Password: "long enough pw", Role: RoleCustomer})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	newKey := func(u *User) (string, *APIKey) {
		key, k, err := s.CreateAPIKey(ctx, SystemActor, u.ID, "ci")
		if err != nil {
			t.Fatal(err)
		}
		return key, k
	}
	ann, bob := newUser("ann@example.com"), newUser("bob@example.com")
	key1, k1 := newKey(ann)
	key2, k2 := newKey(ann)
	_, old := newKey(ann)
	bobKey, _ := newKey(bob)
	if err := s.RevokeAPIKey(ctx, SystemActor, old.ID); err != nil {
		t.Fatal(err)
	}
	revokedAt := func(id int64) *time.Time {
		var k APIKey
		if err := s.db.First(&k, id).Error; err != nil {
			t.Fatal(err)
		}
		return k.RevokedAt
	}
	oldAt := revokedAt(old.ID)

	now = now.Add(time.Hour)
	if err := s.SetDisabled(ctx, SystemActor, ann.ID, true); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{k1.ID, k2.ID} {
		if at := revokedAt(id); at == nil || !at.Equal(now) {
			t.Errorf("key %d after disabling: revoked at %v, want %v", id, at, now)
		}
	}
	if at := revokedAt(old.ID); at == nil || !at.Equal(*oldAt) {
		t.Errorf("a key revoked before: revoked at %v, want %v still", at, oldAt)
	}
	ev, err := s.ListAudit(ctx, 1, 0)
	if err != nil || len(ev) != 1 || ev[0].Action != "user.disable" || ev[0].Detail != "API keys revoked: 2" {
		t.Fatalf("audit %+v %v", ev, err)
	}

	now = now.Add(time.Hour)
	if err := s.SetDisabled(ctx, SystemActor, ann.ID, false); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{key1, key2} {
		if _, err := s.UserByAPIKey(ctx, key); !errors.Is(err, ErrInvalidAPIKey) {
			t.Fatalf("an old key after enabling again: %v, want ErrInvalidAPIKey", err)
		}
	}
	if u, err := s.UserByAPIKey(ctx, bobKey); err != nil || u.ID != bob.ID {
		t.Fatalf("another user's key: %v %v", u, err)
	}
	fresh, _ := newKey(ann)
	if u, err := s.UserByAPIKey(ctx, fresh); err != nil || u.ID != ann.ID {
		t.Fatalf("a key made after enabling: %v %v", u, err)
	}
}

// TestMigrationRevokesTheKeysOfUsersDisabledBefore: a user disabled
// before disabling revoked keys kept theirs unrevoked (refused only while
// disabled); migration 0014 revokes them, with an audit event each, so
// enabling that user does not bring them back. Enabled users' keys stay.
func TestMigrationRevokesTheKeysOfUsersDisabledBefore(t *testing.T) {
	s, path := newTestStore(t)
	ctx := context.Background()
	var keys []string
	for _, email := range []string{"gone@example.com", "here@example.com"} {
		u, err := s.CreateUser(ctx, NewUser{Email: email, Password: "long enough pw", Role: RoleCustomer})
		if err != nil {
			t.Fatal(err)
		}
		key, _, err := s.CreateAPIKey(ctx, SystemActor, u.ID, "ci")
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
	}
	// As the app did before: the flag only, the key left as it was.
	for _, q := range []string{
		"UPDATE users SET disabled = TRUE WHERE email = 'gone@example.com'",
		"DELETE FROM schema_migrations WHERE version = '0014_revoke_disabled_users_keys'",
	} {
		if res := s.db.Exec(q); res.Error != nil || res.RowsAffected != 1 {
			t.Fatalf("%s: %v, %d rows", q, res.Error, res.RowsAffected)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path, s.Cipher(), testStates)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	gone, err := s.UserByEmail(ctx, "gone@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetDisabled(ctx, SystemActor, gone.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByAPIKey(ctx, keys[0]); !errors.Is(err, ErrInvalidAPIKey) {
		t.Fatalf("the key of a user disabled before, enabled again: %v, want ErrInvalidAPIKey", err)
	}
	if _, err := s.UserByAPIKey(ctx, keys[1]); err != nil {
		t.Fatalf("an enabled user's key: %v", err)
	}
	var n int64
	if err := s.db.Raw("SELECT count(*) FROM audit_events WHERE action = 'apikey.revoke' AND detail = 'the user is disabled'").Scan(&n).Error; err != nil || n != 1 {
		t.Fatalf("%d audit events of the migration's revocation (%v), want 1", n, err)
	}
	evs, err := s.ListAudit(ctx, 10, 0) // its time reads back as a time
	if err != nil || len(evs) == 0 {
		t.Fatalf("audit: %v", err)
	}
}

// TestAPIKeyRows: the list the API keys page shows: each key with its
// owner's e-mail and role and who made it, newest first; one key by id,
// ErrNotFound for none.
func TestAPIKeyRows(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	admin, err := s.CreateUser(ctx, NewUser{Email: "root@example.com", Name: "Root", Password: "long enough pw", Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	cust, err := s.CreateUser(ctx, NewUser{Email: "c@example.com", Name: "C", Password: "long enough pw", Role: RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	adminID := admin.ID
	_, first, err := s.CreateAPIKey(ctx, SystemActor, admin.ID, "cli")
	if err != nil {
		t.Fatal(err)
	}
	_, second, err := s.CreateAPIKey(ctx, Actor{UserID: &adminID, Email: admin.Email}, cust.ID, "billing")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.APIKeyRows(ctx)
	if err != nil || len(rows) != 2 {
		t.Fatalf("APIKeyRows = %+v, %v", rows, err)
	}
	if r := rows[0]; r.ID != second.ID || r.OwnerEmail != "c@example.com" || r.OwnerRole != RoleCustomer || r.CreatedBy != "root@example.com" || r.Name != "billing" {
		t.Errorf("newest row %+v", r)
	}
	if r := rows[1]; r.ID != first.ID || r.OwnerEmail != "root@example.com" || r.OwnerRole != RoleAdmin || r.CreatedBy != "system" {
		t.Errorf("oldest row %+v", r)
	}
	one, err := s.APIKeyRowByID(ctx, second.ID)
	if err != nil || one.OwnerEmail != "c@example.com" || one.Prefix != second.Prefix {
		t.Fatalf("APIKeyRowByID = %+v, %v", one, err)
	}
	if _, err := s.APIKeyRowByID(ctx, 999999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v, want ErrNotFound", err)
	}
}
