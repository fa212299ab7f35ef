package models

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// APIKeyPrefix starts every whapidesk API key, so a leaked key is easy to
// recognise.
const APIKeyPrefix = "wdk_"

// APIKey is a key that authenticates /api/* as its user. Only its SHA-256 is
// stored: the key is shown once, when created.
type APIKey struct {
	ID        int64     `gorm:"primaryKey"`
	UserID    int64     `gorm:"column:user_id"`
	Name      string    `gorm:"column:name"`
	Prefix    string    `gorm:"column:prefix"`
	Hash      string    `gorm:"column:hash"`
	CreatedAt time.Time `gorm:"column:created_at"`
	// CreatedBy is who made the key: an admin's e-mail, or "system" for
	// the command line ("" for keys made before migration 0032).
	CreatedBy  string     `gorm:"column:created_by"`
	LastUsedAt *time.Time `gorm:"column:last_used_at"`
	RevokedAt  *time.Time `gorm:"column:revoked_at"`
	// FormToken is the token of the keys page's form that made the key
	// (nil: made by the command line, or before migration 0033).
	FormToken *string `gorm:"column:form_token"`
}

// TableName implements gorm's Tabler.
func (APIKey) TableName() string { return "api_keys" }

// CreateAPIKey makes a new key for a user and returns it in clear, once.
func (s *Store) CreateAPIKey(ctx context.Context, actor Actor, userID int64, name string) (string, *APIKey, error) {
	return s.createAPIKey(ctx, actor, userID, name, nil)
}

// ErrAPIKeyFormUsed is CreateAPIKeyFromForm's answer to a form that made
// its key already.
var ErrAPIKeyFormUsed = errors.New("store: this form made its API key already")

// FormTokenMax is the longest form token CreateAPIKeyFromForm takes.
const FormTokenMax = 64

// CreateAPIKeyFromForm is CreateAPIKey for the keys page: formToken is the
// random token of the form that asks (1 to FormTokenMax characters), and
// one form makes one key however often it is sent — a reload of the
// answer, a second click, two at once: the unique index on
// api_keys.form_token refuses the second insert. A form sent again gets
// ErrAPIKeyFormUsed with the key it made (its row: the key in clear is
// kept nowhere).
func (s *Store) CreateAPIKeyFromForm(ctx context.Context, actor Actor, userID int64, name, formToken string) (string, *APIKeyRow, error) {
	if formToken == "" || len(formToken) > FormTokenMax {
		return "", nil, fmt.Errorf("store: create api key: a form token of 1 to %d characters is needed", FormTokenMax)
	}
	key, k, err := s.createAPIKey(ctx, actor, userID, name, &formToken)
	if err != nil {
		// The unique index refused a token that made its key already
		// (before, or just now by the same form sent twice at once): the
		// key it made. Any other failure is the failure.
		var made []APIKeyRow
		if qerr := s.apiKeyRows(ctx).Where("api_keys.form_token = ?", formToken).Limit(1).Scan(&made).Error; qerr == nil && len(made) == 1 {
			return "", &made[0], ErrAPIKeyFormUsed
		}
		return "", nil, err
	}
	row, err := s.APIKeyRowByID(ctx, k.ID)
	if err != nil {
		return "", nil, err
	}
	return key, row, nil
}

func (s *Store) createAPIKey(ctx context.Context, actor Actor, userID int64, name string, formToken *string) (string, *APIKey, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("store: api key: %w", err)
	}
	key := APIKeyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	k := &APIKey{UserID: userID, Name: strings.TrimSpace(name), Prefix: key[:len(APIKeyPrefix)+6], Hash: SecretHash(key),
		CreatedAt: s.now(), CreatedBy: actor.Email, FormToken: formToken}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(k).Error; err != nil {
			return err
		}
		return s.audit(tx, actor, "apikey.create", "user "+strconv.FormatInt(userID, 10), "key "+k.Prefix+"… "+k.Name)
	})
	if err != nil {
		return "", nil, fmt.Errorf("store: create api key: %w", err)
	}
	return key, k, nil
}

// ErrInvalidAPIKey is returned for an unknown, revoked or malformed key, or
// one whose user is disabled.
var ErrInvalidAPIKey = errors.New("invalid API key")

// apiKeyUserSQL finds an unrevoked key by its hash (the unique index on
// api_keys.hash) together with its enabled user: one statement, with the
// columns named (never users.*), so that a column a later migration adds
// cannot change the shape of a statement another instance has prepared.
// The columns are read in this order by UserByAPIKey.
const apiKeyUserSQL = `SELECT api_keys.id, api_keys.last_used_at,
	users.id, users.email, users.name, users.password_hash, users.role, users.allocation_mode,
	users.day_balance, users.disabled, users.created_at, users.updated_at, users.password_changed_at, users.language
FROM api_keys JOIN users ON users.id = api_keys.user_id
WHERE api_keys.hash = ? AND api_keys.revoked_at IS NULL AND NOT users.disabled`

// prepared is the store's handle for the statements every API request
// runs (the key lookup, the channel list): the same SQL text each time,
// kept prepared on each connection rather than parsed again per request.
// Only statements whose text is one of a few fixed ones may go through
// it: its cache (gorm.Config's PrepareStmtMaxSize in db.go) holds 64, and
// a statement pushed out is closed even if a request has just taken it.
// It is not the store's default because a script of several statements
// (a migration) cannot be prepared.
func (s *Store) prepared(ctx context.Context) *gorm.DB {
	return s.db.Session(&gorm.Session{PrepareStmt: true, Context: ctx})
}

// UserByAPIKey returns the enabled user an unrevoked key belongs to. It is
// one query (key and user joined, read afresh on every request: a key
// revoked or a user disabled on any instance is refused at once) plus an
// update of the key's last use at most once a minute.
func (s *Store) UserByAPIKey(ctx context.Context, key string) (*User, error) {
	if !strings.HasPrefix(key, APIKeyPrefix) || len(key) > 128 {
		return nil, ErrInvalidAPIKey
	}
	rows, err := s.prepared(ctx).Raw(apiKeyUserSQL, SecretHash(key)).Rows()
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, ErrInvalidAPIKey
	}
	var (
		u        User
		keyID    int64
		lastUsed *time.Time
	)
	if err := rows.Scan(&keyID, &lastUsed, &u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.Role, &u.AllocationMode,
		&u.DayBalance, &u.Disabled, &u.CreatedAt, &u.UpdatedAt, &u.PasswordChangedAt, &u.Language); err != nil {
		return nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if now := s.now(); lastUsed == nil || now.Sub(*lastUsed) > time.Minute {
		// Once a minute per key, and in the request: the write is small,
		// and done here its error is seen and it never outlives the store.
		// The condition keeps it to one write when requests (or instances)
		// race past the minute together.
		err := s.db.WithContext(ctx).Model(&APIKey{}).
			Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", keyID, now.Add(-time.Minute)).
			Update("last_used_at", now).Error
		if err != nil {
			return nil, err
		}
	}
	return &u, nil
}

// ListAPIKeys returns a user's keys (all users' when userID is 0), newest first.
func (s *Store) ListAPIKeys(ctx context.Context, userID int64) ([]APIKey, error) {
	q := s.db.WithContext(ctx).Order("id DESC")
	if userID != 0 {
		q = q.Where("user_id = ?", userID)
	}
	var ks []APIKey
	return ks, q.Find(&ks).Error
}

// RevokeAPIKey revokes a key by id.
func (s *Store) RevokeAPIKey(ctx context.Context, actor Actor, id int64) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&APIKey{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", s.now())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return s.audit(tx, actor, "apikey.revoke", "api key "+strconv.FormatInt(id, 10), "")
	})
}

// APIKeyRow is a key as the API keys page lists it: the key's record (never
// the key itself: only its hash is stored) and its owner.
type APIKeyRow struct {
	APIKey
	OwnerEmail string
	OwnerRole  Role
}

// APIKeyRows returns every key with its owner, newest first.
func (s *Store) APIKeyRows(ctx context.Context) ([]APIKeyRow, error) {
	var rows []APIKeyRow
	err := s.apiKeyRows(ctx).Order("api_keys.id DESC").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: api keys: %w", err)
	}
	return rows, nil
}

// apiKeyRows selects keys with their owners.
func (s *Store) apiKeyRows(ctx context.Context) *gorm.DB {
	return s.db.WithContext(ctx).Table("api_keys").
		Select("api_keys.*, users.email AS owner_email, users.role AS owner_role").
		Joins("JOIN users ON users.id = api_keys.user_id")
}

// APIKeyRowByID returns one key with its owner; ErrNotFound when there is
// none.
func (s *Store) APIKeyRowByID(ctx context.Context, id int64) (*APIKeyRow, error) {
	var rows []APIKeyRow
	err := s.apiKeyRows(ctx).Where("api_keys.id = ?", id).Limit(1).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: api key %d: %w", id, err)
	}
	if len(rows) == 0 {
		return nil, ErrNotFound
	}
	return &rows[0], nil
}
