package models

import (
	"context"
	"fmt"
	"time"
)

// Session is a server-side session. The browser's cookie holds only its
// signed id; Data is the encoded session values.
type Session struct {
	ID         string    `gorm:"primaryKey"`
	UserID     *int64    `gorm:"column:user_id"`
	Data       []byte    `gorm:"column:data"`
	CreatedAt  time.Time `gorm:"column:created_at"`
	LastSeenAt time.Time `gorm:"column:last_seen_at"`
	ExpiresAt  time.Time `gorm:"column:expires_at"`
}

// TableName implements gorm's Tabler.
func (Session) TableName() string { return "sessions" }

// SessionByID returns the unexpired session with id, or ErrNotFound.
func (s *Store) SessionByID(ctx context.Context, id string) (*Session, error) {
	var ss Session
	err := s.db.WithContext(ctx).Where("id = ? AND expires_at > ?", id, s.now()).First(&ss).Error
	if err != nil {
		return nil, notFound(err)
	}
	return &ss, nil
}

// InsertSession stores a new session.
func (s *Store) InsertSession(ctx context.Context, ss *Session) error {
	if err := s.db.WithContext(ctx).Create(ss).Error; err != nil {
		return fmt.Errorf("store: insert session: %w", err)
	}
	return nil
}

// UpdateSessionData writes a live session's values. It reports false, and
// writes nothing, when the session has ended meanwhile (logout, expiry,
// disabled user): an ended session never comes back.
func (s *Store) UpdateSessionData(ctx context.Context, id string, data []byte) (bool, error) {
	now := s.now()
	res := s.db.WithContext(ctx).Model(&Session{}).Where("id = ? AND expires_at > ?", id, now).
		Updates(map[string]any{"data": data, "last_seen_at": now})
	if res.Error != nil {
		return false, fmt.Errorf("store: update session: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// TouchSession records activity on a session.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	return s.db.WithContext(ctx).Model(&Session{}).Where("id = ?", id).Update("last_seen_at", at).Error
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.db.WithContext(ctx).Where("id = ?", id).Delete(&Session{}).Error
}

// DeleteExpiredSessions removes sessions past their expiry, and the
// sign-in throttle's attempts that no rule counts any more
// (login_attempts.go). It returns the number of sessions removed.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at <= ?", s.now()).Delete(&Session{})
	if res.Error != nil {
		return 0, res.Error
	}
	if _, err := s.deleteOldLoginAttempts(ctx); err != nil {
		return res.RowsAffected, err
	}
	return res.RowsAffected, nil
}

// CountUserSessions counts a user's live sessions.
func (s *Store) CountUserSessions(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Session{}).Where("user_id = ? AND expires_at > ?", userID, s.now()).Count(&n).Error
	return n, err
}
