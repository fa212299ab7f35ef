package models

import (
	"context"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// Connect links (migration 0022): a link to one channel's connect page that
// works without signing in. The store keeps only the SHA-256 of a link's
// token; the rules (who may make one, how long it lasts) are provision's
// (provision/connect_links.go).

// ConnectLink is one link to a channel's connect page.
type ConnectLink struct {
	ID        int64      `gorm:"primaryKey"`
	ChannelID int64      `gorm:"column:channel_id"`
	TokenHash string     `gorm:"column:token_hash"`
	CreatedBy *int64     `gorm:"column:created_by"`
	CreatedAt time.Time  `gorm:"column:created_at"`
	ExpiresAt time.Time  `gorm:"column:expires_at"`
	RevokedAt *time.Time `gorm:"column:revoked_at"`
	UsedAt    *time.Time `gorm:"column:used_at"`
}

// TableName implements gorm's Tabler.
func (ConnectLink) TableName() string { return "connect_links" }

// LiveAt reports whether the link opens the connect page at now: neither
// revoked, nor used, nor expired.
func (l *ConnectLink) LiveAt(now time.Time) bool {
	return l.RevokedAt == nil && l.UsedAt == nil && now.Before(l.ExpiresAt)
}

// CreateConnectLink records a link to channelID under tokenHash, valid
// from now until expires, made by actor (audited, never with the token).
func (s *Store) CreateConnectLink(ctx context.Context, actor Actor, channelID int64, tokenHash string, now, expires time.Time) (*ConnectLink, error) {
	l := ConnectLink{ChannelID: channelID, TokenHash: tokenHash, CreatedBy: actor.UserID,
		CreatedAt: now.UTC().Truncate(time.Microsecond), ExpiresAt: expires.UTC().Truncate(time.Microsecond)}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&l).Error; err != nil {
			return err
		}
		return s.audit(tx, actor, "connect_link.create", linkTarget(channelID), "valid until "+l.ExpiresAt.Format(time.RFC3339))
	})
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// ConnectLinkByTokenHash returns the link of tokenHash, whatever its state
// (the caller tells expired, used and revoked apart), or ErrNotFound.
func (s *Store) ConnectLinkByTokenHash(ctx context.Context, tokenHash string) (*ConnectLink, error) {
	var l ConnectLink
	if err := s.db.WithContext(ctx).Where("token_hash = ?", tokenHash).Take(&l).Error; err != nil {
		return nil, notFound(err)
	}
	return &l, nil
}

// ConnectLinkByID returns the link id, or ErrNotFound.
func (s *Store) ConnectLinkByID(ctx context.Context, id int64) (*ConnectLink, error) {
	var l ConnectLink
	if err := s.db.WithContext(ctx).Take(&l, id).Error; err != nil {
		return nil, notFound(err)
	}
	return &l, nil
}

// LiveConnectLinks returns the channel's links that still open its page at
// now, the newest first.
func (s *Store) LiveConnectLinks(ctx context.Context, channelID int64, now time.Time) ([]ConnectLink, error) {
	var ls []ConnectLink
	err := s.db.WithContext(ctx).Where("channel_id = ? AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?",
		channelID, now.UTC()).Order("id DESC").Find(&ls).Error
	return ls, err
}

// RevokeConnectLink ends the link id at now by one conditional update;
// revoked is false when it had already ended (revoked, used or expired),
// which changes nothing. ErrNotFound when there is no such link.
func (s *Store) RevokeConnectLink(ctx context.Context, actor Actor, id int64, now time.Time) (revoked bool, err error) {
	now = now.UTC().Truncate(time.Microsecond)
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var l ConnectLink
		if err := tx.Take(&l, id).Error; err != nil {
			return notFound(err)
		}
		res := tx.Exec(`UPDATE connect_links SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?`,
			now, id, now)
		if res.Error != nil {
			return res.Error
		}
		if revoked = res.RowsAffected == 1; !revoked {
			return nil
		}
		return s.audit(tx, actor, "connect_link.revoke", linkTarget(l.ChannelID), "")
	})
	return revoked, err
}

// useConnectLinks ends, in tx, every live link of the channel: its phone
// was just recorded as linked (ApplyGate), so the links have done their
// work.
func (s *Store) useConnectLinks(tx *gorm.DB, channelID int64, now time.Time) error {
	now = now.UTC().Truncate(time.Microsecond)
	return tx.Exec(`UPDATE connect_links SET used_at = ? WHERE channel_id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?`,
		now, channelID, now).Error
}

func linkTarget(id int64) string { return "channel " + strconv.FormatInt(id, 10) }

// CountLoginAttempts counts the throttle's attempts of one key since since,
// without claiming one: a read, for a check that must not write (a connect
// link's page polls every second).
func (s *Store) CountLoginAttempts(ctx context.Context, kind, key string, since time.Time) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Raw(`SELECT count(*) FROM login_attempts WHERE kind = ? AND key = ? AND created_at >= ?`,
		kind, key, since.UTC().Truncate(time.Microsecond)).Scan(&n).Error
	return n, err
}
