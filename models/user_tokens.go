package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// InvitationValidity is how long an invitation's set-password link works.
const InvitationValidity = 72 * time.Hour

// Errors of set-password links. Each says what a person holding the link
// should know, and nothing about the account.
var (
	ErrTokenInvalid = errors.New("this link is not valid: check that it was copied whole, or ask for a new one")
	ErrTokenExpired = errors.New("this link has expired: ask for a new one")
	ErrTokenUsed    = errors.New("this link has already been used, or a newer one was sent: sign in, or ask for a new one")
	// ErrAlreadyActive: the user has set a password; an invitation is for
	// an account that has none yet.
	ErrAlreadyActive = errors.New("this account already has a password: an invitation is only for a new account")
)

// UserToken is a set-password link's record: only the SHA-256 of the token
// the mail carries.
type UserToken struct {
	ID        int64      `gorm:"primaryKey"`
	UserID    int64      `gorm:"column:user_id"`
	Purpose   string     `gorm:"column:purpose"`
	TokenHash string     `gorm:"column:token_hash"`
	CreatedAt time.Time  `gorm:"column:created_at"`
	ExpiresAt time.Time  `gorm:"column:expires_at"`
	UsedAt    *time.Time `gorm:"column:used_at"`
	RevokedAt *time.Time `gorm:"column:revoked_at"`
}

// TableName implements gorm's Tabler.
func (UserToken) TableName() string { return "user_tokens" }

const purposeSetPassword = "set_password"

// IssuedToken is a new set-password link's token, in clear: it goes into
// the mail and nowhere else.
type IssuedToken struct {
	ID        int64
	Token     string
	ExpiresAt time.Time
}

// issueToken revokes the user's unspent set-password tokens and stores a
// new one, in tx.
func (s *Store) issueToken(tx *gorm.DB, userID int64, valid time.Duration) (IssuedToken, error) {
	now := s.now()
	if err := tx.Model(&UserToken{}).Where("user_id = ? AND purpose = ? AND used_at IS NULL AND revoked_at IS NULL", userID, purposeSetPassword).
		Update("revoked_at", now).Error; err != nil {
		return IssuedToken{}, fmt.Errorf("store: revoke tokens: %w", err)
	}
	token, hash, err := NewSecret()
	if err != nil {
		return IssuedToken{}, err
	}
	t := UserToken{UserID: userID, Purpose: purposeSetPassword, TokenHash: hash, CreatedAt: now, ExpiresAt: now.Add(valid)}
	if err := tx.Create(&t).Error; err != nil {
		return IssuedToken{}, fmt.Errorf("store: create token: %w", err)
	}
	return IssuedToken{ID: t.ID, Token: token, ExpiresAt: t.ExpiresAt}, nil
}

// CreateInvitedUser creates a user without a password (nobody can sign in
// as them until they set one) and a set-password token valid for valid,
// audits it, and calls then in the same transaction with the user and the
// token, to queue the invitation and its job: the user, the token, the
// mail and the job exist together or not at all.
func (s *Store) CreateInvitedUser(ctx context.Context, actor Actor, in NewUser, valid time.Duration,
	then func(tx *sql.Tx, u *User, t IssuedToken) error) (*User, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if in.Role != RoleAdmin && in.Role != RoleCustomer {
		return nil, ErrInvalidRole
	}
	now := s.now()
	u := &User{
		Email: email, Name: strings.TrimSpace(in.Name), PasswordHash: "", Role: in.Role,
		AllocationMode: AllocationManual, CreatedAt: now, UpdatedAt: now, PasswordChangedAt: now,
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(u).Error; err != nil {
			if isDuplicate(err) {
				return ErrEmailTaken
			}
			return fmt.Errorf("store: create user: %w", err)
		}
		t, err := s.issueToken(tx, u.ID, valid)
		if err != nil {
			return err
		}
		if err := s.audit(tx, actor, "user.create", u.Email, string(u.Role)+"; invitation sent"); err != nil {
			return err
		}
		sqlTx, err := sqlTxOf(tx)
		if err != nil {
			return err
		}
		return then(sqlTx, u, t)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// ReissueInvitation makes a new set-password token for the user id, who
// has no password yet, revoking the older ones, and calls then in the same
// transaction (to queue the new mail). ErrAlreadyActive when the user has
// set a password, ErrNotFound when there is no such user.
func (s *Store) ReissueInvitation(ctx context.Context, actor Actor, id int64, valid time.Duration,
	then func(tx *sql.Tx, u *User, t IssuedToken) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := tx.First(&u, id).Error; err != nil {
			return notFound(err)
		}
		if u.PasswordHash != "" {
			return ErrAlreadyActive
		}
		t, err := s.issueToken(tx, u.ID, valid)
		if err != nil {
			return err
		}
		if err := s.audit(tx, actor, "user.invitation", u.Email, "invitation sent again; the older links no longer work"); err != nil {
			return err
		}
		sqlTx, err := sqlTxOf(tx)
		if err != nil {
			return err
		}
		return then(sqlTx, &u, t)
	})
}

// SetPasswordTokenUser returns the user a set-password token is for, when
// the token is good (known, unspent, not expired, the user enabled), or
// the error that says why not.
func (s *Store) SetPasswordTokenUser(ctx context.Context, token string) (*User, error) {
	t, err := s.tokenByValue(ctx, s.db.WithContext(ctx), token)
	if err != nil {
		return nil, err
	}
	var u User
	if err := s.db.WithContext(ctx).First(&u, t.UserID).Error; err != nil {
		return nil, notFound(err)
	}
	if u.Disabled {
		return nil, ErrTokenInvalid
	}
	return &u, nil
}

func (s *Store) tokenByValue(_ context.Context, db *gorm.DB, token string) (*UserToken, error) {
	if !WellFormedSecret(token) {
		return nil, ErrTokenInvalid
	}
	var t UserToken
	if err := db.Where("token_hash = ? AND purpose = ?", SecretHash(token), purposeSetPassword).First(&t).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, ErrTokenInvalid
		}
		return nil, err
	}
	switch {
	case t.UsedAt != nil || t.RevokedAt != nil:
		return nil, ErrTokenUsed
	case !s.now().Before(t.ExpiresAt):
		return nil, ErrTokenExpired
	}
	return &t, nil
}

// UseSetPasswordToken sets the password of the token's user to password
// (CheckPassword's rules), spends the token, and ends every session of the
// user, in one transaction; the token is spent by a conditional update, so
// of two uses one wins. A bad token changes nothing and says why
// (ErrTokenInvalid, ErrTokenExpired, ErrTokenUsed); so does a password the
// rules refuse (its error), and the token stays good.
func (s *Store) UseSetPasswordToken(ctx context.Context, token, password string) (*User, error) {
	u, err := s.SetPasswordTokenUser(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := CheckPassword(password, u.Email); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost())
	if err != nil {
		return nil, fmt.Errorf("store: hash password: %w", err)
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		res := tx.Model(&UserToken{}).
			Where("token_hash = ? AND purpose = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?", SecretHash(token), purposeSetPassword, now).
			Update("used_at", now)
		if res.Error != nil {
			return fmt.Errorf("store: spend token: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			_, err := s.tokenByValue(ctx, tx, token)
			if err == nil {
				err = ErrTokenUsed
			}
			return err
		}
		res = tx.Model(&User{}).Where("id = ? AND NOT disabled", u.ID).
			Updates(map[string]any{"password_hash": string(hash), "password_changed_at": now, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("store: set password: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return ErrTokenInvalid
		}
		if err := tx.Where("user_id = ?", u.ID).Delete(&Session{}).Error; err != nil {
			return fmt.Errorf("store: end sessions: %w", err)
		}
		uid := u.ID
		return s.audit(tx, Actor{UserID: &uid, Email: u.Email}, "user.password", u.Email, "password set from an e-mailed link; every session ended")
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
