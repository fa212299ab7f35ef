package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ChannelQR is the connect page's QR of a channel, shared by every
// instance on the database (migration 0017): the last code fetched from
// its gate or sent by webhook, and the fetch lease that lets one instance
// at a time ask the gate for the next one.
type ChannelQR struct {
	ChannelID int64 `gorm:"primaryKey;column:channel_id"`
	// PNG is the code's image; nil when there is none.
	PNG []byte `gorm:"column:png"`
	// ExpiresAt is when it stops being shown (nil with PNG).
	ExpiresAt *time.Time `gorm:"column:qr_expires_at"`
	// FetchingUntil: an instance is asking the gate for a code until then
	// (nil or past: nobody is).
	FetchingUntil *time.Time `gorm:"column:qr_fetching_until"`
	// Generation changes with every code stored or dropped.
	Generation int64 `gorm:"column:qr_generation"`
}

// TableName implements gorm's Tabler.
func (ChannelQR) TableName() string { return "channel_qr" }

// Fresh reports whether the row holds a code still shown at at.
func (q *ChannelQR) Fresh(at time.Time) bool {
	return q.PNG != nil && q.ExpiresAt != nil && at.Before(*q.ExpiresAt)
}

// Fetching reports whether an instance holds the fetch lease at at.
func (q *ChannelQR) Fetching(at time.Time) bool {
	return q.FetchingUntil != nil && at.Before(*q.FetchingUntil)
}

// ChannelQR returns the channel's shared QR row: a zero one (of that
// channel) when there is none.
func (s *Store) ChannelQR(ctx context.Context, channelID int64) (*ChannelQR, error) {
	var q ChannelQR
	err := s.db.WithContext(ctx).Where("channel_id = ?", channelID).Take(&q).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return &ChannelQR{ChannelID: channelID}, nil
	}
	if err != nil {
		return nil, err
	}
	return &q, nil
}

// TakeQRLease takes the channel's fetch lease until until, for a fetch
// that starts at at: it passes (won) only when no code is fresh at at and
// no other lease runs at at — one conditional UPDATE, so of all the
// instances that try at once exactly one wins. The winner calls the gate
// (outside any transaction) and then StoreFetchedQR with gen, or
// ReleaseQRLease; a lease left by a fetch that died ends at until on its
// own.
func (s *Store) TakeQRLease(ctx context.Context, channelID int64, at, until time.Time) (gen int64, won bool, err error) {
	at, until = at.UTC(), until.UTC()
	db := s.db.WithContext(ctx)
	if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&ChannelQR{ChannelID: channelID}).Error; err != nil {
		return 0, false, err
	}
	res := db.Model(&ChannelQR{}).
		Where("channel_id = ? AND (qr_expires_at IS NULL OR qr_expires_at <= ?) AND (qr_fetching_until IS NULL OR qr_fetching_until <= ?)",
			channelID, at, at).
		Update("qr_fetching_until", until)
	if res.Error != nil || res.RowsAffected != 1 {
		return 0, false, res.Error
	}
	// Read after the lease: an event after this read changes the
	// generation, and the fetch's code is then not stored.
	err = db.Model(&ChannelQR{}).Where("channel_id = ?", channelID).Pluck("qr_generation", &gen).Error
	return gen, err == nil, err
}

// StoreFetchedQR makes png the channel's code until expires, for every
// instance, and frees the fetch lease — unless a code was stored or
// dropped since the lease was taken (gen): then nothing is stored
// (stored false; the lease is still to be released).
func (s *Store) StoreFetchedQR(ctx context.Context, channelID, gen int64, png []byte, expires time.Time) (stored bool, err error) {
	if png == nil {
		png = []byte{}
	}
	res := s.db.WithContext(ctx).Model(&ChannelQR{}).Where("channel_id = ? AND qr_generation = ?", channelID, gen).
		Updates(map[string]any{"png": png, "qr_expires_at": expires.UTC(), "qr_fetching_until": nil,
			"qr_generation": gorm.Expr("qr_generation + 1")})
	return res.RowsAffected == 1, res.Error
}

// PutQR makes png the channel's code until expires, for every instance:
// a webhook's new code replaces the old one (and a fetch under way then
// stores nothing over it).
func (s *Store) PutQR(ctx context.Context, channelID int64, png []byte, expires time.Time) error {
	if png == nil {
		png = []byte{}
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&ChannelQR{ChannelID: channelID}).Error; err != nil {
			return err
		}
		return tx.Model(&ChannelQR{}).Where("channel_id = ?", channelID).
			Updates(map[string]any{"png": png, "qr_expires_at": expires.UTC(), "qr_generation": gorm.Expr("qr_generation + 1")}).Error
	})
}

// ReleaseQRLease frees the channel's fetch lease without a code (the gate
// had none, or did not answer), so that the next viewer may ask again.
func (s *Store) ReleaseQRLease(ctx context.Context, channelID int64) error {
	return s.db.WithContext(ctx).Model(&ChannelQR{}).Where("channel_id = ?", channelID).
		Update("qr_fetching_until", nil).Error
}

// DropQR forgets the channel's shared code (its line changed: linked,
// restarted, logged out, a new status), so that no instance shows it
// again, nor one a fetch under way brings back.
func (s *Store) DropQR(ctx context.Context, channelID int64) error {
	return s.db.WithContext(ctx).Model(&ChannelQR{}).Where("channel_id = ?", channelID).
		Updates(map[string]any{"png": nil, "qr_expires_at": nil, "qr_generation": gorm.Expr("qr_generation + 1")}).Error
}
