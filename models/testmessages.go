package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Outcomes of a test message (TestMessage.Outcome).
const (
	// TestMessagePending: claimed, WHAPI's answer not recorded yet.
	TestMessagePending = "pending"
	// TestMessageSent: WHAPI said it sent the message.
	TestMessageSent = "sent"
	// TestMessageFailed: it was not sent, or not confirmed (Reason says
	// which, in plain words).
	TestMessageFailed = "failed"
)

// TestMessage is one attempt to send the fixed test text from a channel:
// claimed before WHAPI is called (ClaimTestMessage), settled after
// (SettleTestMessage). Every attempt counts against the channel's limit,
// whatever its outcome.
type TestMessage struct {
	ID        int64  `gorm:"primaryKey"`
	ChannelID int64  `gorm:"column:channel_id"`
	Actor     string `gorm:"column:actor"`
	// ToMasked is the recipient with most digits hidden; the whole number
	// is never stored.
	ToMasked  string     `gorm:"column:to_masked"`
	CreatedAt time.Time  `gorm:"column:created_at"`
	Outcome   string     `gorm:"column:outcome"`
	Reason    string     `gorm:"column:reason"`
	SettledAt *time.Time `gorm:"column:settled_at"`
}

// TableName implements gorm's Tabler.
func (TestMessage) TableName() string { return "test_messages" }

// TestMessageClaim is the answer to a claim.
type TestMessageClaim struct {
	// Message is the claimed attempt; nil when the limit was reached.
	Message *TestMessage
	// Used is how many attempts the channel has in the window, the claimed
	// one included.
	Used int64
	// Next is, when the claim was refused, when one will be allowed again:
	// the oldest attempt in the window leaves it then.
	Next time.Time
}

// ClaimTestMessage records a test message attempt of a channel at at, if
// the channel has fewer than limit attempts in the window before at.
// Claims are counted in one conditional INSERT … SELECT inside a write
// transaction that first locks the channel's row, so concurrent claims of
// one channel never pass the limit together (SQLite serialises the
// IMMEDIATE transactions; PostgreSQL would queue them on the row lock).
// ErrNotFound when the channel does not exist.
func (s *Store) ClaimTestMessage(ctx context.Context, actor Actor, channelID int64, toMasked string, at time.Time, limit int, window time.Duration) (*TestMessageClaim, error) {
	at = at.UTC()
	since := at.Add(-window)
	var out TestMessageClaim
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		n, err := lockRows(tx, "channels", "id = ?", channelID)
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		res := tx.Exec(`INSERT INTO test_messages (channel_id, actor, to_masked, created_at, outcome)
			SELECT ?, ?, ?, ?, ?
			WHERE (SELECT COUNT(*) FROM test_messages WHERE channel_id = ? AND created_at > ?) < ?`,
			channelID, actor.Email, toMasked, at, TestMessagePending, channelID, since, limit)
		if res.Error != nil {
			return res.Error
		}
		inWindow := tx.Model(&TestMessage{}).Where("channel_id = ? AND created_at > ?", channelID, since)
		if err := inWindow.Count(&out.Used).Error; err != nil {
			return err
		}
		if res.RowsAffected == 1 {
			var m TestMessage
			if err := tx.Where("channel_id = ?", channelID).Order("id DESC").First(&m).Error; err != nil {
				return err
			}
			out.Message = &m
			return nil
		}
		var oldest TestMessage
		if err := tx.Where("channel_id = ? AND created_at > ?", channelID, since).Order("created_at").First(&oldest).Error; err != nil {
			return notFound(err)
		}
		out.Next = oldest.CreatedAt.Add(window)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SettleTestMessage records the outcome of a claimed attempt of ch
// (TestMessageSent, or TestMessageFailed with a plain reason) and its
// audit event, once: an attempt already settled is left as it is.
func (s *Store) SettleTestMessage(ctx context.Context, actor Actor, ch *Channel, id int64, outcome, reason string, at time.Time) error {
	if outcome != TestMessageFailed {
		reason = ""
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&TestMessage{}).Where("id = ? AND channel_id = ? AND outcome = ?", id, ch.ID, TestMessagePending).
			Updates(map[string]any{"outcome": outcome, "reason": reason, "settled_at": at.UTC()})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		var m TestMessage
		if err := tx.First(&m, id).Error; err != nil {
			return err
		}
		detail := outcome + " to " + m.ToMasked
		if reason != "" {
			detail += ": " + reason
		}
		return s.audit(tx, actor, "channel.test_message", channelTarget(ch), detail)
	})
}

// TestMessagesUsed is how many test message attempts a channel has in the
// window before at, and when the oldest of them leaves it (zero when
// none).
func (s *Store) TestMessagesUsed(ctx context.Context, channelID int64, at time.Time, window time.Duration) (used int64, frees time.Time, err error) {
	since := at.UTC().Add(-window)
	q := s.db.WithContext(ctx).Model(&TestMessage{}).Where("channel_id = ? AND created_at > ?", channelID, since)
	if err := q.Count(&used).Error; err != nil || used == 0 {
		return used, time.Time{}, err
	}
	var oldest TestMessage
	if err := s.db.WithContext(ctx).Where("channel_id = ? AND created_at > ?", channelID, since).Order("created_at").First(&oldest).Error; err != nil {
		return 0, time.Time{}, notFound(err)
	}
	return used, oldest.CreatedAt.Add(window), nil
}

// TestMessages returns a channel's latest test message attempts, newest
// first, at most limit.
func (s *Store) TestMessages(ctx context.Context, channelID int64, limit int) ([]TestMessage, error) {
	var out []TestMessage
	err := s.db.WithContext(ctx).Where("channel_id = ?", channelID).Order("created_at DESC, id DESC").Limit(limit).Find(&out).Error
	return out, err
}
