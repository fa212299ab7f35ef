package models

import (
	"context"

	"gorm.io/gorm"
)

// SetUserLanguage sets a user's language (a tag the caller checked against
// the catalog; "" for the browser's choice), with an audit row naming the
// old and the new. Setting the language a user already has changes nothing
// and writes no row.
func (s *Store) SetUserLanguage(ctx context.Context, actor Actor, userID int64, tag string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := tx.First(&u, userID).Error; err != nil {
			return notFound(err)
		}
		if u.Language == tag {
			return nil
		}
		if err := tx.Model(&User{}).Where("id = ?", userID).
			Updates(map[string]any{"language": tag, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		return s.audit(tx, actor, "user.language", u.Email, langWord(u.Language)+" → "+langWord(tag))
	})
}

func langWord(tag string) string {
	if tag == "" {
		return "browser"
	}
	return tag
}
