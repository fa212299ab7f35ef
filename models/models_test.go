package models

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"whapidesk/internal/testdb"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func newTestStore(t *testing.T) (*Store, Database) {
	t.Helper()
	c, err := NewCipher(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	path := Database(testdb.New(t))
	s, err := Open(context.Background(), path, c, testStates)
	if err != nil {
		t.Fatal(err)
	}
	s.SetPasswordCost(bcrypt.MinCost)
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func TestCipherRoundTripAndWrongKey(t *testing.T) {
	c1, _ := NewCipher(newKey(t))
	c2, _ := NewCipher(newKey(t))
	secret := "Bearer " + strings.Repeat("x", 4096)
	sealed, err := c1.Seal(secret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "xxxx") || !strings.HasPrefix(sealed, "v1:"+c1.KeyID()+":") {
		t.Fatalf("sealed form %.40q", sealed)
	}
	again, _ := c1.Seal(secret)
	if again == sealed {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	if got, err := c1.Open(sealed); err != nil || got != secret {
		t.Fatalf("open: %v", err)
	}
	if _, err := c2.Open(sealed); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("another key opened it: %v", err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := c1.Open(tampered); !errors.Is(err, ErrDecrypt) {
		t.Fatal("a tampered value opened")
	}
	if _, err := NewCipher([]byte("short")); err == nil {
		t.Fatal("a short key was accepted")
	}
}

func TestKeyFileIsCreatedOnceWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	k1, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created || len(k1) != KeySize {
		t.Fatalf("create: %v %v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	k2, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created || string(k1) != string(k2) {
		t.Fatal("the key file was not read back")
	}
}

func TestMigrationsRunOnceAndReopen(t *testing.T) {
	c, _ := NewCipher(newKey(t))
	path := Database(testdb.New(t))
	ctx := context.Background()
	s, err := Open(ctx, path, c, testStates)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, NewUser{Email: "a@example.com", Password: "long enough pw", Role: RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s, err = Open(ctx, path, c, testStates) // migrations again: no error, data kept
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.UserByEmail(ctx, "A@example.com"); err != nil {
		t.Fatal(err)
	}
	if s.Postgres() {
		return // the PRAGMAs below are SQLite's
	}
	var mode string
	s.db.Raw("PRAGMA journal_mode").Scan(&mode)
	var fk int
	s.db.Raw("PRAGMA foreign_keys").Scan(&fk)
	if mode != "wal" || fk != 1 {
		t.Fatalf("journal_mode=%s foreign_keys=%d", mode, fk)
	}
}

func TestUsers(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, NewUser{Email: " Mixed@Example.COM ", Password: "long enough pw", Role: RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "mixed@example.com" || u.AllocationMode != AllocationManual || u.PasswordHash == "long enough pw" {
		t.Fatalf("user %+v", u)
	}
	for _, tt := range []struct {
		name string
		in   NewUser
		err  error
	}{
		{"taken, other case", NewUser{Email: "MIXED@example.com", Password: "long enough pw", Role: RoleAdmin}, ErrEmailTaken},
		{"bad email", NewUser{Email: "nope", Password: "long enough pw", Role: RoleAdmin}, ErrInvalidEmail},
		{"weak password", NewUser{Email: "b@example.com", Password: "short", Role: RoleAdmin}, ErrWeakPassword},
		{"bad role", NewUser{Email: "c@example.com", Password: "long enough pw", Role: "root"}, ErrInvalidRole},
	} {
		if _, err := s.CreateUser(ctx, tt.in); !errors.Is(err, tt.err) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	if _, err := s.Authenticate(ctx, "MIXED@example.com", "long enough pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "mixed@example.com", "wrong"); !errors.Is(err, ErrInvalidPassword) {
		t.Fatal(err)
	}
	// The balance can never go below zero, whatever SQL runs.
	err = s.db.Exec("UPDATE users SET day_balance = -1 WHERE id = ?", u.ID).Error
	if err == nil || !strings.Contains(strings.ToUpper(err.Error()), "CHECK") {
		t.Fatalf("negative balance accepted: %v", err)
	}
}

func TestSessionsExpire(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	now := time.Now().UTC()
	s.SetClock(func() time.Time { return now })
	if err := s.InsertSession(ctx, &Session{ID: "a", Data: []byte{1}, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByID(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := s.SessionByID(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an expired session was found: %v", err)
	}
	if n, err := s.DeleteExpiredSessions(ctx); err != nil || n != 1 {
		t.Fatalf("cleanup: %d %v", n, err)
	}
}

func TestAPIKeysAreStoredHashed(t *testing.T) {
	s, path := newTestStore(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, NewUser{Email: "a@example.com", Password: "long enough pw", Role: RoleAdmin})
	key, k, err := s.CreateAPIKey(ctx, SystemActor, u.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, APIKeyPrefix) || k.Hash == key || strings.Contains(k.Hash, key[len(APIKeyPrefix):]) {
		t.Fatal("the key is stored as is")
	}
	if got, err := s.UserByAPIKey(ctx, key); err != nil || got.ID != u.ID {
		t.Fatalf("lookup: %v", err)
	}
	if strings.Contains(dbText(t, s, path), key[len(APIKeyPrefix):]) {
		t.Fatalf("the database holds the API key")
	}
}

func TestLedgersAreAppendOnlyAndBalancesMatch(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, NewUser{Email: "c@example.com", Password: "long enough pw", Role: RoleCustomer})
	if err := s.CreditDays(ctx, SystemActor, u.ID, 10, LedgerAdminCredit, "gift"); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordPartnerPurchase(ctx, SystemActor, 100, "bought"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"UPDATE day_ledger SET delta = 1000",
		"DELETE FROM day_ledger",
		"UPDATE partner_ledger SET delta = 1",
		"DELETE FROM partner_ledger",
	} {
		if err := s.db.Exec(q).Error; err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", q, err)
		}
	}
	if mm, err := s.CheckLedger(ctx); err != nil || len(mm) != 0 {
		t.Fatalf("mismatch %+v %v", mm, err)
	}
	// A balance changed behind the ledger's back is reported.
	if err := s.db.Exec("UPDATE users SET day_balance = 11 WHERE id = ?", u.ID).Error; err != nil {
		t.Fatal(err)
	}
	if mm, _ := s.CheckLedger(ctx); len(mm) != 1 || mm[0].Difference != 1 {
		t.Fatalf("mismatch not found: %+v", mm)
	}
	if err := s.CreditDays(ctx, SystemActor, u.ID, 5, LedgerAdminCredit, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.CreditDays(ctx, SystemActor, 9999, 5, LedgerAdminCredit, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("credit to nobody: %v", err)
	}
}
