package models

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// SealedKeyID returns the key id a sealed value names ("" for the empty
// value or one that is not in the "v1:<key id>:<data>" form).
func SealedKeyID(sealed string) string {
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return ""
	}
	return parts[1]
}

// sealedValue is one secret at rest: where it is and its sealed form.
type sealedValue struct {
	table  string // "settings" or "channels"
	column string // "partner_token_enc" or "token_enc"
	id     int64
	sealed string
}

func (v sealedValue) String() string { return fmt.Sprintf("%s.%s of row %d", v.table, v.column, v.id) }

// secrets lists every non-empty secret at rest: the partner token and every
// channel's token (deleted channels included: their token is still a secret).
func secrets(tx *gorm.DB) ([]sealedValue, error) {
	var out []sealedValue
	var st []Settings
	if err := tx.Select("id, partner_token_enc").Where("partner_token_enc <> ''").Find(&st).Error; err != nil {
		return nil, err
	}
	for _, s := range st {
		out = append(out, sealedValue{"settings", "partner_token_enc", s.ID, s.PartnerTokenEnc})
	}
	var cs []Channel
	if err := tx.Select("id, token_enc").Where("token_enc <> ''").Order("id").Find(&cs).Error; err != nil {
		return nil, err
	}
	for _, c := range cs {
		out = append(out, sealedValue{"channels", "token_enc", c.ID, c.TokenEnc})
	}
	// The webhook endpoints' signing secrets (models/webhooks.go).
	hooks, err := webhookSecrets(tx)
	if err != nil {
		return nil, err
	}
	return append(out, hooks...), nil
}

// SecretKeyIDs counts the secrets at rest by the key id that sealed them
// (for reports and tests: after a finished rotation there is one id).
func (s *Store) SecretKeyIDs(ctx context.Context) (map[string]int, error) {
	vs, err := secrets(s.db.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("store: secret key ids: %w", err)
	}
	out := map[string]int{}
	for _, v := range vs {
		out[SealedKeyID(v.sealed)]++
	}
	return out, nil
}

// RotateSecrets re-encrypts every secret at rest (the partner token and
// every channel token) from the store's cipher to next, in one IMMEDIATE
// transaction: either every value moves to the new key or none does. Values
// already sealed under next's key id are checked and left as they are, so a
// re-run after an interrupted rotation (the database committed, the new key
// not yet in place) is safe and re-encrypts nothing. A value that neither
// key opens stops the rotation with ErrDecrypt and changes nothing.
//
// It returns how many values it re-encrypted. The store keeps its own
// cipher: close it and open the database with next afterwards. Rotation
// also changes everything Derive makes from the key (the session-cookie
// signing key), so existing sessions end.
func (s *Store) RotateSecrets(ctx context.Context, next *Cipher) (int, error) {
	if next == nil {
		return 0, errors.New("store: rotate secrets: no new cipher")
	}
	old := s.cipher
	if next.KeyID() == old.KeyID() {
		return 0, fmt.Errorf("store: rotate secrets: the new key is the current key (%s)", old.KeyID())
	}
	n := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		vs, err := secrets(tx)
		if err != nil {
			return err
		}
		for _, v := range vs {
			switch SealedKeyID(v.sealed) {
			case next.KeyID():
				if _, err := next.Open(v.sealed); err != nil {
					return fmt.Errorf("%s: sealed under the new key id %s but does not open with it: %w", v, next.KeyID(), err)
				}
				continue
			case old.KeyID():
			default:
				return fmt.Errorf("%s: sealed under key %q, neither the current key (%s) nor the new one (%s): %w",
					v, SealedKeyID(v.sealed), old.KeyID(), next.KeyID(), ErrDecrypt)
			}
			plain, err := old.Open(v.sealed)
			if err != nil {
				return fmt.Errorf("%s: %w", v, err)
			}
			resealed, err := next.Seal(plain)
			if err != nil {
				return err
			}
			// Raw SQL: no updated_at bump, and the WHERE on the old value
			// makes the write conditional on what was read.
			res := tx.Exec("UPDATE "+v.table+" SET "+v.column+" = ? WHERE id = ? AND "+v.column+" = ?", resealed, v.id, v.sealed)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected != 1 {
				return fmt.Errorf("%s changed during the rotation", v)
			}
			n++
		}
		if n == 0 {
			return nil
		}
		return s.audit(tx, SystemActor, "secrets.rotate", "secret key",
			fmt.Sprintf("secret key %s → %s: %d secrets re-encrypted", old.KeyID(), next.KeyID(), n))
	})
	if err != nil {
		return 0, fmt.Errorf("store: rotate secrets: %w", err)
	}
	return n, nil
}
