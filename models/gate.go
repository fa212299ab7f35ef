package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ChannelGate is what whapidesk knows of a channel's gate: the webhook it
// registered there and the last status it applied. A channel without a
// row has neither.
type ChannelGate struct {
	ChannelID int64 `gorm:"primaryKey;column:channel_id"`
	// HookHash and PendingHash are the SHA-256 of the registered webhook's
	// secret and of one being registered; never the secret.
	HookHash    *string `gorm:"column:hook_hash"`
	PendingHash *string `gorm:"column:pending_hash"`
	// HookBase is the public address the webhook was registered under.
	HookBase string `gorm:"column:hook_base"`
	// HookRegisteredAt is when WHAPI confirmed it (nil: not registered).
	HookRegisteredAt *time.Time `gorm:"column:hook_registered_at"`
	// HookRecheck: polling saw a change the webhook did not tell.
	HookRecheck bool `gorm:"column:hook_recheck"`
	// HookSeenAt is when the last event arrived.
	HookSeenAt *time.Time `gorm:"column:hook_seen_at"`
	// GateStatus is the last status applied, WHAPI's text.
	GateStatus string `gorm:"column:gate_status"`
	// GateAtMS is its time on the gate's clock, epoch ms (nil: unknown).
	GateAtMS *int64 `gorm:"column:gate_at_ms"`
	// GateLinked is what the last status said of the link (nil: nothing).
	GateLinked *bool `gorm:"column:gate_linked"`
}

// TableName implements gorm's Tabler.
func (ChannelGate) TableName() string { return "channel_gate" }

// Registered reports whether a webhook is registered under base.
func (g *ChannelGate) Registered(base string) bool {
	return g.HookRegisteredAt != nil && g.HookHash != nil && g.HookBase == base
}

// ChannelGate returns what is known of a channel's gate: a zero
// ChannelGate (of that channel) when nothing is.
func (s *Store) ChannelGate(ctx context.Context, channelID int64) (*ChannelGate, error) {
	var g ChannelGate
	err := s.db.WithContext(ctx).Where("channel_id = ?", channelID).Take(&g).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return &ChannelGate{ChannelID: channelID}, nil
	}
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// upsertGate creates the channel's row when there is none, then applies
// updates to it.
func upsertGate(tx *gorm.DB, channelID int64, updates map[string]any) error {
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&ChannelGate{ChannelID: channelID}).Error; err != nil {
		return err
	}
	return tx.Model(&ChannelGate{}).Where("channel_id = ?", channelID).Updates(updates).Error
}

// BeginHook records the hash of a webhook secret about to be registered
// (it replaces any earlier one still pending), so that events sent to it
// are accepted as soon as WHAPI has it.
func (s *Store) BeginHook(ctx context.Context, channelID int64, hash string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return upsertGate(tx, channelID, map[string]any{"pending_hash": hash})
	})
}

// ConfirmHook records that WHAPI holds the webhook of secret hash under
// base: it becomes the channel's webhook, and the one before it is
// forgotten.
func (s *Store) ConfirmHook(ctx context.Context, channelID int64, hash, base string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return upsertGate(tx, channelID, map[string]any{"hook_hash": hash, "pending_hash": nil, "hook_base": base,
			"hook_registered_at": s.now(), "hook_recheck": false})
	})
}

// HookChecked records that the registered webhook was found intact at WHAPI.
func (s *Store) HookChecked(ctx context.Context, channelID int64) error {
	return s.db.WithContext(ctx).Model(&ChannelGate{}).Where("channel_id = ?", channelID).
		Update("hook_recheck", false).Error
}

// ChannelByHookSecret returns the channel whose registered or pending
// webhook has this secret, or ErrNotFound.
func (s *Store) ChannelByHookSecret(ctx context.Context, secret string) (*Channel, error) {
	if !WellFormedSecret(secret) {
		return nil, ErrNotFound
	}
	h := SecretHash(secret)
	var c Channel
	err := s.db.WithContext(ctx).Where("id = (SELECT channel_id FROM channel_gate WHERE hook_hash = ? OR pending_hash = ?)", h, h).
		Take(&c).Error
	if err != nil {
		return nil, notFound(err)
	}
	return &c, nil
}

// GateObservation is one thing whapidesk learnt of a channel's gate: a
// status (from a webhook or a poll of the gate), or an account linked or
// unlinked (a webhook that carries no status).
type GateObservation struct {
	// Status is the status's text; "" for an event that carries none.
	Status string
	// At is when the gate took the status, on its clock; zero when unknown.
	At time.Time
	// Linked is what it says of the link; nil when nothing.
	Linked *bool
	// Phone is the linked account's number, when known.
	Phone string
	// Hook: it came by webhook (else from a poll).
	Hook bool
}

// GateApplied says what ApplyGate did.
type GateApplied struct {
	// Applied is false when the observation was older than (or, for an
	// event without a status, contradicted) what is known: nothing changed.
	Applied bool
	// LinkChanged reports that the channel's link (linked or its number)
	// changed.
	LinkChanged bool
}

// ApplyGate applies an observation to a channel, never moving it back in
// time, in one transaction:
//
//   - A status is applied unless a status taken later on the gate's clock
//     was applied already (equal times apply: a replay of the latest
//     status changes nothing), except that a poll taken in the same
//     second as the last status does not change what that status said
//     of the link (the gate's clock counts seconds; see below). A
//     webhook's status without a time cannot be
//     ordered, so it is applied only when it says nothing of the link; a
//     polled one is current by construction and applies.
//   - An event without a status (an account linked or unlinked) carries no
//     time at all: it is applied unless it contradicts what the last
//     status said of the link, so a late replay cannot undo a newer
//     status (the status of a new link or unlink follows with its time).
//
// A webhook's observation also records that the hook is alive; a poll
// that changed the link of a channel whose hook is registered marks the
// hook for a recheck (it should have told). A link (or a new number)
// records an audit event, as the connect page's polls always have.
func (s *Store) ApplyGate(ctx context.Context, channelID int64, o GateObservation) (GateApplied, error) {
	var res GateApplied
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ch Channel
		if err := tx.First(&ch, channelID).Error; err != nil {
			return notFound(err)
		}
		before, err := channelStateOf(tx, channelID)
		if err != nil {
			return err
		}
		g := ChannelGate{ChannelID: channelID}
		if err := tx.Where("channel_id = ?", channelID).Limit(1).Find(&g).Error; err != nil {
			return err
		}
		var atMS *int64
		if !o.At.IsZero() {
			ms := o.At.UnixMilli()
			atMS = &ms
		}
		switch {
		case o.Status != "" && atMS != nil && g.GateAtMS != nil && *atMS < *g.GateAtMS:
			return nil // older than the status applied
		case o.Status != "" && !o.Hook && atMS != nil && g.GateAtMS != nil && *atMS == *g.GateAtMS &&
			o.Linked != nil && g.GateLinked != nil && *o.Linked != *g.GateLinked:
			// The gate's clock counts whole seconds (start_at + uptime,
			// both seconds), so a poll read in the same second as the
			// status applied cannot be ordered against it: the poll may
			// have been read before a change its webhook then told. The
			// safe reading: a poll does not flip the link on a tie; the
			// next poll, a second later, is ordered. (A webhook on a tie
			// applies: it is sent on the change.)
			return nil
		case o.Status != "" && atMS == nil && o.Hook && o.Linked != nil:
			return nil // cannot be ordered
		case o.Status == "" && o.Linked != nil && g.GateLinked != nil && *g.GateLinked != *o.Linked:
			return nil // contradicts the last status
		}
		res.Applied = true
		now := s.now()
		up := map[string]any{}
		if o.Status != "" {
			up["gate_status"] = o.Status
			if atMS != nil {
				up["gate_at_ms"] = *atMS
			}
			if o.Linked != nil {
				up["gate_linked"] = *o.Linked
			}
		}
		if o.Linked != nil {
			phone := ""
			if *o.Linked {
				phone = o.Phone
				if phone == "" && ch.Linked {
					phone = ch.LinkedPhone
				}
			}
			if ch.Linked != *o.Linked || ch.LinkedPhone != phone {
				res.LinkChanged = true
				if err := tx.Model(&Channel{}).Where("id = ?", channelID).
					Updates(map[string]any{"linked": *o.Linked, "linked_phone": phone, "updated_at": now}).Error; err != nil {
					return err
				}
				if *o.Linked {
					if err := s.audit(tx, SystemActor, "channel.linked", fmt.Sprintf("channel %d", channelID), ""); err != nil {
						return err
					}
					// The channel's connect links have done their work (connect_links.go).
					if err := s.useConnectLinks(tx, channelID, now); err != nil {
						return err
					}
				}
			}
		}
		if o.Hook {
			up["hook_seen_at"] = now
			up["hook_recheck"] = false
		} else if res.LinkChanged && g.HookRegisteredAt != nil {
			up["hook_recheck"] = true
		}
		if len(up) > 0 {
			if err := upsertGate(tx, channelID, up); err != nil {
				return err
			}
		}
		src := SourcePoll
		if o.Hook {
			src = SourceWebhook
		}
		return s.noteChannel(tx, channelID, before, src)
	})
	return res, err
}
