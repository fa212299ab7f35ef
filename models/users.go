package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// Role is what a user may do.
type Role string

// Roles.
const (
	RoleAdmin    Role = "admin"
	RoleCustomer Role = "customer"
)

// AllocationMode says who allocates a customer's days to their channels.
type AllocationMode string

// Allocation modes.
const (
	AllocationAuto   AllocationMode = "auto"
	AllocationManual AllocationMode = "manual"
)

// Errors about users.
var (
	ErrEmailTaken      = errors.New("a user with this email already exists")
	ErrInvalidEmail    = errors.New("enter a valid email address")
	ErrInvalidRole     = errors.New("the role must be admin or customer")
	ErrInvalidPassword = errors.New("wrong email or password")
	ErrInvalidMode     = errors.New("the allocation mode is auto or manual")
)

// User is an admin or a customer.
type User struct {
	ID                int64          `gorm:"primaryKey"`
	Email             string         `gorm:"column:email"`
	Name              string         `gorm:"column:name"`
	PasswordHash      string         `gorm:"column:password_hash"`
	Role              Role           `gorm:"column:role"`
	AllocationMode    AllocationMode `gorm:"column:allocation_mode"`
	DayBalance        int64          `gorm:"column:day_balance"`
	Disabled          bool           `gorm:"column:disabled"`
	CreatedAt         time.Time      `gorm:"column:created_at"`
	UpdatedAt         time.Time      `gorm:"column:updated_at"`
	PasswordChangedAt time.Time      `gorm:"column:password_changed_at"`
	// Language is the user's language tag ("ar"), "" for none (the
	// browser's Accept-Language decides).
	Language string `gorm:"column:language"`
}

// TableName implements gorm's Tabler.
func (User) TableName() string { return "users" }

// IsAdmin reports whether u is an admin.
func (u *User) IsAdmin() bool { return u.Role == RoleAdmin }

// NewUser is the input of CreateUser.
type NewUser struct {
	Email    string
	Name     string
	Password string
	Role     Role
}

// NormalizeEmail trims and case-folds an email address and checks its form.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" || len(e) > 254 {
		return "", ErrInvalidEmail
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || !strings.Contains(e[strings.LastIndexByte(e, '@'):], ".") {
		return "", ErrInvalidEmail
	}
	return e, nil
}

// passwordCostDefault is the bcrypt cost of new password hashes.
const passwordCostDefault = bcrypt.DefaultCost

// SetPasswordCost sets the bcrypt cost for new hashes (tests use
// bcrypt.MinCost). Call it before the store is used.
func (s *Store) SetPasswordCost(cost int) { s.passwordCost = cost }

func (s *Store) cost() int {
	if s.passwordCost == 0 {
		return passwordCostDefault
	}
	return s.passwordCost
}

// CreateUser validates and inserts a user with a hashed password. Each
// then runs in the insert's transaction (a webhook event of the new
// account): all or nothing.
func (s *Store) CreateUser(ctx context.Context, in NewUser, then ...func(tx *sql.Tx, u *User) error) (*User, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if in.Role != RoleAdmin && in.Role != RoleCustomer {
		return nil, ErrInvalidRole
	}
	if err := CheckPassword(in.Password, email); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), s.cost())
	if err != nil {
		return nil, fmt.Errorf("store: hash password: %w", err)
	}
	now := s.now()
	u := &User{
		Email: email, Name: strings.TrimSpace(in.Name), PasswordHash: string(hash), Role: in.Role,
		AllocationMode: AllocationManual, CreatedAt: now, UpdatedAt: now, PasswordChangedAt: now,
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(u).Error; err != nil {
			if isDuplicate(err) {
				return ErrEmailTaken
			}
			return fmt.Errorf("store: create user: %w", err)
		}
		return runThen(tx, then, u)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// UserByID returns the user with id, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (*User, error) {
	var u User
	if err := s.db.WithContext(ctx).First(&u, id).Error; err != nil {
		return nil, notFound(err)
	}
	return &u, nil
}

// UserByEmail returns the user with email (case-insensitive), or ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	var u User
	err := s.db.WithContext(ctx).Where("email = ?", strings.ToLower(strings.TrimSpace(email))).First(&u).Error
	if err != nil {
		return nil, notFound(err)
	}
	return &u, nil
}

// dummyHash is compared against when no user matches, so a wrong email
// costs as much time as a wrong password (same bcrypt cost).
func (s *Store) dummyHash() []byte {
	s.dummyOnce.Do(func() {
		s.dummy, _ = bcrypt.GenerateFromPassword([]byte("whapidesk-no-such-user"), s.cost())
	})
	return s.dummy
}

// Authenticate returns the enabled user whose email and password match, or
// ErrInvalidPassword (never saying which of the two was wrong).
func (s *Store) Authenticate(ctx context.Context, email, password string) (*User, error) {
	u, err := s.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash(), []byte(password))
		return nil, ErrInvalidPassword
	}
	if err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil || u.Disabled {
		return nil, ErrInvalidPassword
	}
	return u, nil
}

// CountAdmins returns how many admin accounts exist.
func (s *Store) CountAdmins(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&User{}).Where("role = ?", RoleAdmin).Count(&n).Error
	return n, err
}

// UserFilter selects users for the admin's customer list.
type UserFilter struct {
	Search string         // part of the email or name
	Role   Role           // "" = any
	PlanID int64          // active subscription to this plan; -1 = no active plan
	Mode   AllocationMode // "" = any
	Status string         // "active", "disabled" or ""
	Limit  int
	Offset int
	// CountUpTo, when > 0, bounds ListUsersPage's count of a filter the
	// running totals do not cover (a search, a plan, a mode, a status):
	// counting stops past CountUpTo and the total says "more than
	// CountUpTo". A role alone is counted exactly, from the totals.
	CountUpTo int
}

// UserRow is a user with their active plan and channel count, for lists.
type UserRow struct {
	User
	PlanID       *int64 `gorm:"column:plan_id"`
	PlanName     string `gorm:"column:plan_name"`
	MaxChannels  int64  `gorm:"column:max_channels"`
	LiveChannels int64  `gorm:"column:live_channels"`
}

// ListUsersPage returns the users matching f, by email, and how many match
// (see CountUpTo). The page is one query (no N+1) over indexed columns;
// the count of a role alone reads the running totals.
func (s *Store) ListUsersPage(ctx context.Context, f UserFilter) ([]UserRow, ListTotal, error) {
	q := s.db.WithContext(ctx).Table("users").
		Joins("LEFT JOIN subscriptions sub ON sub.user_id = users.id AND sub.status = 'active'").
		Joins("LEFT JOIN plans p ON p.id = sub.plan_id")
	search := strings.TrimSpace(f.Search)
	if search != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(search)) + "%"
		q = q.Where(`(users.email LIKE ? ESCAPE '\' OR lower(users.name) LIKE ? ESCAPE '\')`, like, like)
	}
	if f.Role != "" {
		q = q.Where("users.role = ?", f.Role)
	}
	switch {
	case f.PlanID > 0:
		q = q.Where("sub.plan_id = ?", f.PlanID)
	case f.PlanID < 0:
		q = q.Where("sub.id IS NULL")
	}
	if f.Mode != "" {
		q = q.Where("users.allocation_mode = ?", f.Mode)
	}
	switch f.Status {
	case "active":
		q = q.Where("NOT users.disabled")
	case "disabled":
		q = q.Where("users.disabled")
	}
	var total ListTotal
	if search == "" && f.PlanID == 0 && f.Mode == "" && f.Status == "" {
		t, err := s.totals(ctx)
		if err != nil {
			return nil, total, err
		}
		if f.Role != "" {
			total.N = t["users:"+string(f.Role)]
		} else {
			total.N = t.sum("users:")
		}
	} else {
		var err error
		if total, err = countUpTo(q, f.CountUpTo); err != nil {
			return nil, total, err
		}
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit).Offset(f.Offset)
	}
	var rows []UserRow
	err := q.Select(`users.*, sub.plan_id AS plan_id, COALESCE(p.name, '') AS plan_name, COALESCE(p.max_channels, 0) AS max_channels,
		(SELECT COUNT(*) FROM channels c WHERE c.user_id = users.id AND ` + s.sql.slotHeld + `) AS live_channels`).
		Order("users.email").Scan(&rows).Error
	return rows, total, err
}

// SetDisabled disables or re-enables a user. Disabling ends all the user's
// sessions and revokes their API keys, at once and for good: re-enabling
// brings neither back (a key that worked again after an account was
// re-enabled would be a key nobody remembered giving out); an admin gives
// the user new keys. The audit event says how many keys were revoked.
func (s *Store) SetDisabled(ctx context.Context, actor Actor, id int64, disabled bool) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ?", id).Updates(map[string]any{"disabled": disabled, "updated_at": s.now()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		action, detail := "user.enable", ""
		if disabled {
			action = "user.disable"
			if err := tx.Where("user_id = ?", id).Delete(&Session{}).Error; err != nil {
				return err
			}
			keys := tx.Model(&APIKey{}).Where("user_id = ? AND revoked_at IS NULL", id).Update("revoked_at", s.now())
			if keys.Error != nil {
				return keys.Error
			}
			if keys.RowsAffected > 0 {
				detail = fmt.Sprintf("API keys revoked: %d", keys.RowsAffected)
			}
		}
		return s.audit(tx, actor, action, fmt.Sprintf("user %d", id), detail)
	})
}

// SetAllocationMode switches a customer between automatic and manual day
// allocation. It changes only what happens next.
func (s *Store) SetAllocationMode(ctx context.Context, actor Actor, id int64, mode AllocationMode) error {
	if mode != AllocationAuto && mode != AllocationManual {
		return ErrInvalidMode
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := tx.First(&u, id).Error; err != nil {
			return notFound(err)
		}
		if u.Role != RoleCustomer {
			return ErrNotCustomer
		}
		if u.AllocationMode == mode {
			return nil
		}
		if err := tx.Model(&User{}).Where("id = ?", id).Updates(map[string]any{"allocation_mode": mode, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		return s.audit(tx, actor, "user.allocation_mode", fmt.Sprintf("user %d (%s)", id, u.Email), fmt.Sprintf("%s → %s", u.AllocationMode, mode))
	})
}

// SetUserDisplayName changes a user's name (validated by the caller) with
// its audit event, in one transaction. It returns ErrNotFound for an
// unknown user.
func (s *Store) SetUserDisplayName(ctx context.Context, actor Actor, id int64, name string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := tx.First(&u, id).Error; err != nil {
			return notFound(err)
		}
		if u.Name == name {
			return nil
		}
		if err := tx.Model(&User{}).Where("id = ?", id).Updates(map[string]any{"name": name, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		return s.audit(tx, actor, "user.rename", fmt.Sprintf("user %d (%s)", id, u.Email), fmt.Sprintf("%q → %q", u.Name, name))
	})
}

// ChangePassword sets a new password for the user after checking the
// current one, and ends every session the user has (this browser's
// included: the caller starts a fresh one), in one transaction.
// A wrong current password is ErrInvalidPassword and changes nothing.
func (s *Store) ChangePassword(ctx context.Context, actor Actor, id int64, current, next string) error {
	u, err := s.UserByID(ctx, id)
	if err != nil {
		return err
	}
	if err := CheckPassword(next, u.Email); err != nil {
		return err
	}
	if u.Disabled || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(current)) != nil {
		return ErrInvalidPassword
	}
	// Conditional on the hash just checked: of two changes racing with the
	// same current password, one wins and the other is refused.
	return s.setPassword(ctx, actor, u, next, "user.password", "password changed; every session ended")
}

// SetPassword gives a user a new password without the old one (an admin
// helping someone who forgot theirs) and ends every session of the user,
// in one transaction.
func (s *Store) SetPassword(ctx context.Context, actor Actor, id int64, next string) error {
	u, err := s.UserByID(ctx, id)
	if err != nil {
		return err
	}
	if err := CheckPassword(next, u.Email); err != nil {
		return err
	}
	return s.setPassword(ctx, actor, u, next, "user.password_reset", "password set by an admin; every session ended")
}

// setPassword stores the hash of next for u if u's hash is still the one
// read, deletes all u's sessions and audits, in one transaction.
func (s *Store) setPassword(ctx context.Context, actor Actor, u *User, next, action, detail string) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(next), s.cost())
	if err != nil {
		return fmt.Errorf("store: hash password: %w", err)
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		res := tx.Model(&User{}).Where("id = ? AND password_hash = ?", u.ID, u.PasswordHash).
			Updates(map[string]any{"password_hash": string(hash), "password_changed_at": now, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrInvalidPassword
		}
		if err := tx.Where("user_id = ?", u.ID).Delete(&Session{}).Error; err != nil {
			return err
		}
		return s.audit(tx, actor, action, u.Email, detail)
	})
}
