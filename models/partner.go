package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// PartnerEntry is one move of the partner's estimated WHAPI day balance.
type PartnerEntry struct {
	ID        int64     `gorm:"primaryKey"`
	Delta     int64     `gorm:"column:delta"`
	Kind      string    `gorm:"column:kind"`
	ChannelID *int64    `gorm:"column:channel_id"`
	OpID      *int64    `gorm:"column:op_id"`
	Comment   string    `gorm:"column:comment"`
	Actor     string    `gorm:"column:actor"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

// TableName implements gorm's Tabler.
func (PartnerEntry) TableName() string { return "partner_ledger" }

// addPartnerDays appends to the partner's estimated balance inside tx.
func (s *Store) addPartnerDays(tx *gorm.DB, e PartnerEntry) error {
	if e.Delta == 0 {
		return nil
	}
	e.CreatedAt = s.now()
	return tx.Create(&e).Error
}

// RecordPartnerPurchase records days the partner bought from WHAPI.
func (s *Store) RecordPartnerPurchase(ctx context.Context, actor Actor, days int64, comment string) error {
	if days == 0 {
		return errors.New("store: a purchase of zero days")
	}
	kind := "purchase"
	if days < 0 {
		kind = "correction"
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.addPartnerDays(tx, PartnerEntry{Delta: days, Kind: kind, Comment: comment, Actor: actor.Email}); err != nil {
			return err
		}
		if days > 0 { // new days bought: WHAPI may accept extends again
			if err := tx.Model(&Settings{}).Where("id = 1").Update("partner_short_at", nil).Error; err != nil {
				return err
			}
		}
		return s.audit(tx, actor, "partner.days", "partner balance", fmt.Sprintf("%+d days (%s): %s", days, kind, comment))
	})
}

// PartnerBalance is the estimate of the partner's WHAPI day balance.
type PartnerBalance struct {
	Bought, Extended, Returned, Corrections int64
}

// Estimate is bought − extended + returned (+ corrections).
func (p PartnerBalance) Estimate() int64 {
	return p.Bought - p.Extended + p.Returned + p.Corrections
}

// PartnerBalance sums the partner ledger.
func (s *Store) PartnerBalance(ctx context.Context) (PartnerBalance, error) {
	var rows []struct {
		Kind string
		Sum  int64
	}
	err := s.db.WithContext(ctx).Model(&PartnerEntry{}).Select("kind, COALESCE(SUM(delta), 0) AS sum").Group("kind").Scan(&rows).Error
	var b PartnerBalance
	for _, r := range rows {
		switch r.Kind {
		case "purchase":
			b.Bought = r.Sum
		case "extend":
			b.Extended = -r.Sum
		case "return":
			b.Returned = r.Sum
		default:
			b.Corrections += r.Sum
		}
	}
	return b, err
}
