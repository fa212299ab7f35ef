package models

import (
	"database/sql"
	"errors"
	"testing"
	"time"
)

// An invited user has no password until the link sets one; the link works
// once, not after 72 hours, not altered, and a resend kills the older
// link. Every refusal changes nothing.
func TestSetPasswordLinks(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := t.Context()
	now := time.Now().UTC()
	s.SetClock(func() time.Time { return now })
	var tok IssuedToken
	keep := func(_ *sql.Tx, _ *User, t IssuedToken) error { tok = t; return nil }
	u, err := s.CreateInvitedUser(ctx, SystemActor, NewUser{Email: "Dana@Example.com", Role: RoleCustomer}, InvitationValidity, keep)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "dana@example.com" || u.PasswordHash != "" {
		t.Fatalf("invited user %+v", u)
	}
	if !tok.ExpiresAt.Equal(now.Add(72 * time.Hour)) {
		t.Errorf("expires %v, want 72 h on", tok.ExpiresAt)
	}
	var stored UserToken
	if err := s.DB().First(&stored, tok.ID).Error; err != nil {
		t.Fatal(err)
	}
	if stored.TokenHash == tok.Token || stored.TokenHash != SecretHash(tok.Token) {
		t.Error("the token is stored in clear, or not as its SHA-256")
	}
	if _, err := s.Authenticate(ctx, u.Email, ""); err == nil {
		t.Error("an invited user signs in with an empty password")
	}
	if _, err := s.CreateInvitedUser(ctx, SystemActor, NewUser{Email: "dana@example.com", Role: RoleCustomer}, InvitationValidity, keep); !errors.Is(err, ErrEmailTaken) {
		t.Errorf("second invitation of one address: %v", err)
	}

	altered := tok.Token[:42] + map[bool]string{true: "B", false: "A"}[tok.Token[42] == 'A']
	const pw = "a good long password 42"
	for _, c := range []struct {
		name, token string
		want        error
	}{
		{"altered", altered, ErrTokenInvalid},
		{"cut short", tok.Token[:20], ErrTokenInvalid},
		{"empty", "", ErrTokenInvalid},
	} {
		if _, err := s.UseSetPasswordToken(ctx, c.token, pw); !errors.Is(err, c.want) {
			t.Errorf("%s link: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := s.UseSetPasswordToken(ctx, tok.Token, "short"); err == nil {
		t.Error("a password the rules refuse was set")
	}

	// A session of the user ends when the password is set.
	if err := s.DB().Create(&Session{ID: "sess-1", UserID: &u.ID, Data: []byte("x"), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseSetPasswordToken(ctx, tok.Token, pw); err != nil {
		t.Fatalf("the good link: %v", err)
	}
	if _, err := s.Authenticate(ctx, u.Email, pw); err != nil {
		t.Errorf("sign-in after setting the password: %v", err)
	}
	var sessions int64
	s.DB().Model(&Session{}).Where("user_id = ?", u.ID).Count(&sessions)
	if sessions != 0 {
		t.Errorf("%d sessions left after the password was set", sessions)
	}
	if _, err := s.UseSetPasswordToken(ctx, tok.Token, "another long password 43"); !errors.Is(err, ErrTokenUsed) {
		t.Errorf("used link: %v, want ErrTokenUsed", err)
	}
	if _, err := s.Authenticate(ctx, u.Email, pw); err != nil {
		t.Errorf("the used link changed the password: %v", err)
	}
	if err := s.ReissueInvitation(ctx, SystemActor, u.ID, InvitationValidity, keep); !errors.Is(err, ErrAlreadyActive) {
		t.Errorf("resend to an active account: %v, want ErrAlreadyActive", err)
	}

	// Expiry, and a resend killing the older link.
	v, err := s.CreateInvitedUser(ctx, SystemActor, NewUser{Email: "vic@example.com", Role: RoleCustomer}, InvitationValidity, keep)
	if err != nil {
		t.Fatal(err)
	}
	first := tok
	if err := s.ReissueInvitation(ctx, SystemActor, v.ID, InvitationValidity, keep); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseSetPasswordToken(ctx, first.Token, pw); !errors.Is(err, ErrTokenUsed) {
		t.Errorf("the link before a resend: %v, want ErrTokenUsed", err)
	}
	now = now.Add(72*time.Hour + time.Second)
	if _, err := s.UseSetPasswordToken(ctx, tok.Token, pw); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("a link after 72 hours: %v, want ErrTokenExpired", err)
	}
	if got, err := s.UserByID(ctx, v.ID); err != nil || got.PasswordHash != "" {
		t.Errorf("the refused links set a password: %v", err)
	}
}
