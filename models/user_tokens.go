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

// purposeResetPassword is a password-reset link's (forgot password,
// migration 0028): the same page and rules as the invitation's link, one
// hour, and asked for by the user rather than sent by an admin.
const purposeResetPassword = "password_reset"

// ResetValidity is how long a password-reset link works.
const ResetValidity = time.Hour

// passwordPurposes are the purposes of a link that sets a password: either
// one opens /set-password/<token>.
var passwordPurposes = []string{purposeSetPassword, purposeResetPassword}

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
	return s.issueTokenFor(tx, userID, purposeSetPassword, valid)
}

// issueTokenFor revokes the user's unspent tokens of purpose and stores a
// new one, in tx.
func (s *Store) issueTokenFor(tx *gorm.DB, userID int64, purpose string, valid time.Duration) (IssuedToken, error) {
	now := s.now()
	if err := tx.Model(&UserToken{}).Where("user_id = ? AND purpose = ? AND used_at IS NULL AND revoked_at IS NULL", userID, purpose).
		Update("revoked_at", now).Error; err != nil {
		return IssuedToken{}, fmt.Errorf("store: revoke tokens: %w", err)
	}
	token, hash, err := NewSecret()
	if err != nil {
		return IssuedToken{}, err
	}
	t := UserToken{UserID: userID, Purpose: purpose, TokenHash: hash, CreatedAt: now, ExpiresAt: now.Add(valid)}
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
	u, _, err := s.PasswordLinkUser(ctx, token)
	return u, err
}

// PasswordLinkUser is SetPasswordTokenUser that also says whether the
// link is a password reset (forgot password) rather than an invitation,
// so the page can speak of the one the person asked for.
func (s *Store) PasswordLinkUser(ctx context.Context, token string) (u *User, reset bool, err error) {
	t, err := s.tokenByValue(ctx, s.db.WithContext(ctx), token)
	if err != nil {
		return nil, false, err
	}
	var row User
	if err := s.db.WithContext(ctx).First(&row, t.UserID).Error; err != nil {
		return nil, false, notFound(err)
	}
	if row.Disabled {
		return nil, false, ErrTokenInvalid
	}
	return &row, t.Purpose == purposeResetPassword, nil
}

func (s *Store) tokenByValue(_ context.Context, db *gorm.DB, token string) (*UserToken, error) {
	if !WellFormedSecret(token) {
		return nil, ErrTokenInvalid
	}
	var t UserToken
	if err := db.Where("token_hash = ? AND purpose IN ?", SecretHash(token), passwordPurposes).First(&t).Error; err != nil {
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
			Where("token_hash = ? AND purpose IN ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?", SecretHash(token), passwordPurposes, now).
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
		// The user's other links (an older invitation, a reset asked for
		// twice) set a password no more: this one did.
		if err := tx.Model(&UserToken{}).Where("user_id = ? AND used_at IS NULL AND revoked_at IS NULL", u.ID).
			Update("revoked_at", now).Error; err != nil {
			return fmt.Errorf("store: revoke tokens: %w", err)
		}
		uid := u.ID
		return s.audit(tx, Actor{UserID: &uid, Email: u.Email}, "user.password", u.Email, "password set from an e-mailed link; every session ended")
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// IssuePasswordReset makes a password-reset link (ResetValidity, older
// reset links revoked) for the enabled user whose address is email, and
// calls then in the same transaction with the user and the token, to queue
// the mail and its job. An address that is malformed, unknown or a
// disabled user's makes nothing and returns false, nil: the caller answers
// the same either way. The same write transaction is taken either way, so
// the answer's timing does not tell the two apart by a shortcut.
func (s *Store) IssuePasswordReset(ctx context.Context, email string,
	then func(tx *sql.Tx, u *User, t IssuedToken) error) (issued bool, err error) {
	norm, nerr := NormalizeEmail(email)
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var users []User
		if err := tx.Where("email = ? AND NOT disabled", norm).Limit(1).Find(&users).Error; err != nil {
			return fmt.Errorf("store: find user: %w", err)
		}
		if nerr != nil || len(users) == 0 {
			return nil
		}
		u := &users[0]
		t, err := s.issueTokenFor(tx, u.ID, purposeResetPassword, ResetValidity)
		if err != nil {
			return err
		}
		uid := u.ID
		if err := s.audit(tx, Actor{UserID: &uid, Email: u.Email}, "user.password_reset", u.Email, "a password-reset link was mailed"); err != nil {
			return err
		}
		sqlTx, err := sqlTxOf(tx)
		if err != nil {
			return err
		}
		if err := then(sqlTx, u, t); err != nil {
			return err
		}
		issued = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return issued, nil
}
