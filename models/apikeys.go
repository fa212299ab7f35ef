package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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
	ID         int64      `gorm:"primaryKey"`
	UserID     int64      `gorm:"column:user_id"`
	Name       string     `gorm:"column:name"`
	Prefix     string     `gorm:"column:prefix"`
	Hash       string     `gorm:"column:hash"`
	CreatedAt  time.Time  `gorm:"column:created_at"`
	LastUsedAt *time.Time `gorm:"column:last_used_at"`
	RevokedAt  *time.Time `gorm:"column:revoked_at"`
}

// TableName implements gorm's Tabler.
func (APIKey) TableName() string { return "api_keys" }

// hashAPIKey hashes a key for storage and lookup. Keys carry 256 random bits,
// so a fast hash is enough (no password stretching needed).
func hashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// CreateAPIKey makes a new key for a user and returns it in clear, once.
func (s *Store) CreateAPIKey(ctx context.Context, actor Actor, userID int64, name string) (string, *APIKey, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("store: api key: %w", err)
	}
	key := APIKeyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	k := &APIKey{UserID: userID, Name: strings.TrimSpace(name), Prefix: key[:len(APIKeyPrefix)+6], Hash: hashAPIKey(key), CreatedAt: s.now()}
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

// UserByAPIKey returns the enabled user an unrevoked key belongs to. It is
// one query (key and user joined) on every API request, plus an update of
// the key's last use at most once a minute.
func (s *Store) UserByAPIKey(ctx context.Context, key string) (*User, error) {
	if !strings.HasPrefix(key, APIKeyPrefix) || len(key) > 128 {
		return nil, ErrInvalidAPIKey
	}
	var rows []struct {
		User
		KeyID       int64      `gorm:"column:key_id"`
		KeyLastUsed *time.Time `gorm:"column:key_last_used_at"`
	}
	err := s.db.WithContext(ctx).Table("api_keys").Joins("JOIN users ON users.id = api_keys.user_id").
		Where("api_keys.hash = ? AND api_keys.revoked_at IS NULL", hashAPIKey(key)).
		Select("users.*, api_keys.id AS key_id, api_keys.last_used_at AS key_last_used_at").Limit(1).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || rows[0].Disabled {
		return nil, ErrInvalidAPIKey
	}
	r := rows[0]
	now := s.now()
	if r.KeyLastUsed == nil || now.Sub(*r.KeyLastUsed) > time.Minute {
		if err := s.db.WithContext(ctx).Model(&APIKey{}).Where("id = ?", r.KeyID).Update("last_used_at", now).Error; err != nil {
			return nil, err
		}
	}
	u := r.User
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
