package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// AuditEvent records who did what to what, when and from where. It never
// holds a secret.
type AuditEvent struct {
	ID         int64     `gorm:"primaryKey"`
	CreatedAt  time.Time `gorm:"column:created_at"`
	ActorID    *int64    `gorm:"column:actor_id"`
	ActorEmail string    `gorm:"column:actor_email"`
	Action     string    `gorm:"column:action"`
	Target     string    `gorm:"column:target"`
	Detail     string    `gorm:"column:detail"`
	IP         string    `gorm:"column:ip"`
	// Repeats counts identical refusals recorded on this one event
	// (CountRefusal); 1 for every other event.
	Repeats int64 `gorm:"column:repeats;default:1"`
}

// TableName implements gorm's Tabler.
func (AuditEvent) TableName() string { return "audit_events" }

// Actor is who performs a change, for the audit log.
type Actor struct {
	UserID *int64
	Email  string
	IP     string
}

// SystemActor is the actor of background jobs and commands.
var SystemActor = Actor{Email: "system"}

func (s *Store) audit(tx *gorm.DB, a Actor, action, target, detail string) error {
	ev := AuditEvent{
		CreatedAt: s.now(), ActorID: a.UserID, ActorEmail: a.Email,
		Action: action, Target: target, Detail: detail, IP: a.IP,
	}
	if err := tx.Create(&ev).Error; err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// RecordAudit appends an audit event on its own.
func (s *Store) RecordAudit(ctx context.Context, a Actor, action, target, detail string) error {
	return s.audit(s.db.WithContext(ctx), a, action, target, detail)
}

// ListAudit returns audit events, newest first.
func (s *Store) ListAudit(ctx context.Context, limit, offset int) ([]AuditEvent, error) {
	var evs []AuditEvent
	err := s.db.WithContext(ctx).Order("id DESC").Limit(limit).Offset(offset).Find(&evs).Error
	return evs, err
}

// CountAudit counts the audit events, from the running totals.
func (s *Store) CountAudit(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Raw("SELECT COALESCE(SUM(n), 0) FROM totals WHERE name = 'audit_events'").Scan(&n).Error
	return n, err
}
