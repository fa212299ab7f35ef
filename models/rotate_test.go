package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// rotationFixture is a store with a partner token and channel tokens sealed
// under its key, and the plaintexts to check them against.
type rotationFixture struct {
	store   *Store
	path    Database
	partner string
	tokens  map[int64]string // channel id → token
}

func newRotationFixture(t *testing.T) *rotationFixture {
	t.Helper()
	s, path := newTestStore(t)
	ctx := t.Context()
	f := &rotationFixture{store: s, path: path, partner: "Bearer partner-secret-" + fmt.Sprint(time.Now().UnixNano()), tokens: map[int64]string{}}
	if _, _, err := s.UpdateSettings(ctx, SystemActor, SettingsChange{PartnerToken: &f.partner, Hint: "Bearer …cret"}); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, NewUser{Email: "cust@example.com", Password: "long enough password", Role: RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, status := range []ChannelStatus{ChannelActive, ChannelTrial, ChannelDeleted, ChannelPending} {
		c := Channel{UserID: u.ID, Name: fmt.Sprintf("line %d", i), Status: status, CreatedAt: now, UpdatedAt: now}
		tok := ""
		if status != ChannelPending { // a pending channel has no token yet
			tok = fmt.Sprintf("channel-token-%d-%d", i, now.UnixNano())
			sealed, err := s.cipher.Seal(tok)
			if err != nil {
				t.Fatal(err)
			}
			c.TokenEnc = sealed
		}
		if err := s.db.Create(&c).Error; err != nil {
			t.Fatal(err)
		}
		if tok != "" {
			f.tokens[c.ID] = tok
		}
	}
	return f
}

// sealedValues returns every sealed value at rest, by location.
func sealedValues(t *testing.T, s *Store) map[string]string {
	t.Helper()
	vs, err := secrets(s.db)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, v := range vs {
		out[v.String()] = v.sealed
	}
	return out
}

func newCipher(t *testing.T) *Cipher {
	t.Helper()
	c, err := NewCipher(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkReadable opens the database with c and checks every secret reads back.
func (f *rotationFixture) checkReadable(t *testing.T, c *Cipher) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, f.path, c, testStates)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.PartnerToken(ctx); err != nil || got != f.partner {
		t.Errorf("PartnerToken with key %s = %q, %v; want the saved token", c.KeyID(), got, err)
	}
	for id, want := range f.tokens {
		ch, err := s.ChannelByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.ChannelToken(ch); err != nil || got != want {
			t.Errorf("ChannelToken(%d) with key %s = %q, %v; want %q", id, c.KeyID(), got, err, want)
		}
	}
}

func (f *rotationFixture) checkUnreadable(t *testing.T, c *Cipher) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, f.path, c, testStates)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.PartnerToken(ctx); !errors.Is(err, ErrDecrypt) {
		t.Errorf("PartnerToken with the old key %s: err = %v, want ErrDecrypt", c.KeyID(), err)
	}
	for id := range f.tokens {
		ch, err := s.ChannelByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ChannelToken(ch); !errors.Is(err, ErrDecrypt) {
			t.Errorf("ChannelToken(%d) with the old key: err = %v, want ErrDecrypt", id, err)
		}
	}
}

func TestRotateSecretsReencryptsEverySecret(t *testing.T) {
	f := newRotationFixture(t)
	old := f.store.Cipher()
	next := newCipher(t)
	ctx := t.Context()
	if len(f.tokens) != 3 {
		t.Fatalf("fixture has %d channel tokens, want 3", len(f.tokens))
	}
	before, err := f.store.ChannelByID(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}

	n, err := f.store.RotateSecrets(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("RotateSecrets = %d, want 4 (the partner token and 3 channel tokens)", n)
	}
	ids, err := f.store.SecretKeyIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[next.KeyID()] != 4 {
		t.Errorf("key ids after rotation = %v, want only %s ×4", ids, next.KeyID())
	}
	f.checkReadable(t, next)
	f.checkUnreadable(t, old)

	after, err := f.store.ChannelByID(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("rotation changed updated_at: %v → %v", before.UpdatedAt, after.UpdatedAt)
	}
	var events []AuditEvent
	if err := f.store.db.Where("action = ?", "secrets.rotate").Find(&events).Error; err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Errorf("%d secrets.rotate audit events, want 1", len(events))
	}
	for _, e := range events {
		for _, secret := range append([]string{f.partner}, values(f.tokens)...) {
			if strings.Contains(e.Detail, secret) {
				t.Errorf("the audit event names a secret: %q", e.Detail)
			}
		}
	}
}

func values(m map[int64]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// A re-run after an interrupted rotation — the database committed under the
// new key while the process still runs on the old one — changes nothing.
func TestRotateSecretsIsIdempotent(t *testing.T) {
	f := newRotationFixture(t)
	next := newCipher(t)
	ctx := t.Context()
	if _, err := f.store.RotateSecrets(ctx, next); err != nil {
		t.Fatal(err)
	}
	sealed := sealedValues(t, f.store)
	n, err := f.store.RotateSecrets(ctx, next) // the store still holds the old cipher
	if err != nil {
		t.Fatalf("second RotateSecrets: %v", err)
	}
	if n != 0 {
		t.Errorf("second RotateSecrets re-encrypted %d values, want 0", n)
	}
	if again := sealedValues(t, f.store); fmt.Sprint(again) != fmt.Sprint(sealed) {
		t.Errorf("second run changed sealed values:\n%v\n%v", sealed, again)
	}
	f.checkReadable(t, next)
}

// A half-rotated database (some values under each key) finishes rotating:
// the old key id stays readable until every value is under the new one.
func TestRotateSecretsFinishesAHalfRotation(t *testing.T) {
	f := newRotationFixture(t)
	next := newCipher(t)
	ctx := t.Context()
	ch, err := f.store.ChannelByID(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	resealed, err := next.Seal(f.tokens[2])
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.db.Exec("UPDATE channels SET token_enc = ? WHERE id = ?", resealed, ch.ID).Error; err != nil {
		t.Fatal(err)
	}
	n, err := f.store.RotateSecrets(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("RotateSecrets = %d, want 3 (one value was under the new key already)", n)
	}
	if got := sealedValues(t, f.store)["channels.token_enc of row 2"]; got != resealed {
		t.Error("a value already under the new key was re-sealed")
	}
	f.checkReadable(t, next)
}

// A value under an unknown key stops the rotation, and nothing changes.
func TestRotateSecretsRefusesAnUnknownKeyAndChangesNothing(t *testing.T) {
	f := newRotationFixture(t)
	old := f.store.Cipher()
	ctx := t.Context()
	stranger, err := newCipher(t).Seal("someone else's token")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.db.Exec("UPDATE channels SET token_enc = ? WHERE id = 3", stranger).Error; err != nil {
		t.Fatal(err)
	}
	delete(f.tokens, 3)
	before := sealedValues(t, f.store)
	n, err := f.store.RotateSecrets(ctx, newCipher(t))
	if !errors.Is(err, ErrDecrypt) || n != 0 {
		t.Fatalf("RotateSecrets = %d, %v; want 0, ErrDecrypt", n, err)
	}
	if after := sealedValues(t, f.store); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused rotation changed sealed values:\n%v\n%v", before, after)
	}
	f.checkReadable(t, old)

	if _, err := f.store.RotateSecrets(ctx, old); err == nil {
		t.Error("rotating to the current key succeeded, want an error")
	}
}

func TestSealedKeyID(t *testing.T) {
	c := newCipher(t)
	sealed, err := c.Seal("x")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{sealed: c.KeyID(), "": "", "v2:ab:cd": "", "plain": "", "v1:ab": ""} {
		if got := SealedKeyID(in); got != want {
			t.Errorf("SealedKeyID(%q) = %q, want %q", in, got, want)
		}
	}
}
