package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The kinds of mail (mail_outbox.kind), in one place: provision's mails
// queue under these names and the preferences (migration 0029) switch them.
// A kind is never renamed: its preference rows and outbox rows carry it.
const (
	// Security mails: always sent, never switchable.
	MailInvitation    = "invitation"
	MailPasswordReset = "password_reset"
	// A customer's mails about their channels.
	MailDisconnectAlert = "disconnect_alert"
	MailExpiryReminder  = "expiry_reminder"
	// An admin's mails about the partner account and the app.
	MailAdminAlert  = "admin_alert"
	MailAdminDigest = "admin_digest"
)

// MailKindSwitchable reports whether a user can switch kind off: every kind
// but the security mails (the invitation, the password reset).
func MailKindSwitchable(kind string) bool {
	switch kind {
	case MailDisconnectAlert, MailExpiryReminder, MailAdminAlert, MailAdminDigest:
		return true
	}
	return false
}

// MailKindsFor are the kinds a user of role can switch, in the order a
// page lists them: a customer's mails about their channels, an admin's
// about the partner account.
func MailKindsFor(role Role) []string {
	if role == RoleAdmin {
		return []string{MailAdminAlert, MailAdminDigest}
	}
	return []string{MailDisconnectAlert, MailExpiryReminder}
}

// ErrMailKindFixed: the kind is not one the user can switch.
var ErrMailKindFixed = errors.New("this kind of mail cannot be switched off")

// MailPref is one row of mail_prefs: whether a user wants a kind of mail.
type MailPref struct {
	UserID    int64     `gorm:"primaryKey;column:user_id"`
	Kind      string    `gorm:"primaryKey;column:kind"`
	Enabled   bool      `gorm:"column:enabled"`
	UpdatedAt time.Time `gorm:"column:updated_at"`
}

// TableName implements gorm's Tabler.
func (MailPref) TableName() string { return "mail_prefs" }

// MailPrefs says, for each kind user id can switch (MailKindsFor its
// role), whether it is on: true unless the user switched it off.
func (s *Store) MailPrefs(ctx context.Context, userID int64) (map[string]bool, error) {
	u, err := s.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, k := range MailKindsFor(u.Role) {
		out[k] = true
	}
	var rows []MailPref
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: mail preferences: %w", err)
	}
	for _, r := range rows {
		if _, ok := out[r.Kind]; ok {
			out[r.Kind] = r.Enabled
		}
	}
	return out, nil
}

// SetMailPrefs records, for each kind user id can switch, whether it is on
// (a kind missing from on is off: a form's unticked box sends nothing),
// and audits what changed, in one transaction. ErrNotFound when there is
// no such user; a kind in on that the user cannot switch is
// ErrMailKindFixed and changes nothing.
func (s *Store) SetMailPrefs(ctx context.Context, actor Actor, userID int64, on map[string]bool) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := tx.First(&u, userID).Error; err != nil {
			return notFound(err)
		}
		kinds := MailKindsFor(u.Role)
		for k := range on {
			if !slices.Contains(kinds, k) {
				return ErrMailKindFixed
			}
		}
		now := s.now()
		var offs []string
		for _, k := range kinds {
			row := MailPref{UserID: u.ID, Kind: k, Enabled: on[k], UpdatedAt: now}
			if err := tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "user_id"}, {Name: "kind"}},
				DoUpdates: clause.AssignmentColumns([]string{"enabled", "updated_at"}),
			}).Create(&row).Error; err != nil {
				return fmt.Errorf("store: set mail preference: %w", err)
			}
			if !on[k] {
				offs = append(offs, k)
			}
		}
		detail := "every mail on"
		if len(offs) > 0 {
			detail = "off: " + strings.Join(offs, ", ")
		}
		return s.audit(tx, actor, "user.mail_prefs", u.Email, detail)
	})
}

// MailWantedTx reports, in tx (the transaction that would queue the mail),
// whether user id wants mails of kind: always for a security mail, else
// unless they switched it off.
func (s *Store) MailWantedTx(ctx context.Context, tx *sql.Tx, userID int64, kind string) (bool, error) {
	if !MailKindSwitchable(kind) {
		return true, nil
	}
	var on bool
	err := tx.QueryRowContext(ctx, `SELECT enabled FROM mail_prefs WHERE user_id = $1 AND kind = $2`, userID, kind).Scan(&on)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: mail preference: %w", err)
	}
	return on, nil
}
