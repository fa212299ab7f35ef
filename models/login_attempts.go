package models

import (
	"context"
	"slices"
	"time"

	"gorm.io/gorm"
)

// The sign-in throttle's counts, in the database (migration 0016), so that
// every instance on one database counts together. The rules (how many
// attempts, how long to wait) are the caller's (handlers/throttle.go); the
// store counts, under a lock per key, and records.

// Kinds of a throttle key (login_attempts.kind).
const (
	AttemptAccount  = "account"  // an account, from unknown browsers: the SHA-256 of its normalised e-mail
	AttemptAddress  = "address"  // a client address
	AttemptDevice   = "device"   // a trusted browser: its device cookie's nonce
	AttemptPassword = "password" // a user's wrong current passwords on the change form
)

// LoginAttemptsKept is how long an attempt can count under any rule (the
// longest window): older rows are pruned by DeleteExpiredSessions.
const LoginAttemptsKept = 24 * time.Hour

// AttemptKey is one counter of a claim.
type AttemptKey struct {
	Kind, Key string
	// Window is how long an attempt counts under this key's rule: older
	// attempts are pruned by the claim.
	Window time.Duration
	// Keep is how many of the newest attempts in the window the caller's
	// decision needs to see (it sees fewer when there are fewer).
	Keep int
}

// lockName is what a key's advisory lock is taken on.
func (k AttemptKey) lockName() string { return k.Kind + ":" + k.Key }

// ClaimLoginAttempt claims one attempt at at against every key, in one
// write transaction: it locks each key (on PostgreSQL an advisory
// transaction lock per key, taken in one order so two claims never wait on
// each other in a circle; SQLite's IMMEDIATE transaction serialises every
// writer anyway), prunes the key's attempts older than its window, reads
// up to Keep of the newest remaining ones (oldest first) and asks refuse.
// If refuse says no, one attempt per key is recorded and their ids are
// returned (for ReleaseLoginAttempts); if it says yes, nothing is recorded
// and ids is nil. Two claims on a key therefore never decide on the same
// count, whichever instance makes them.
func (s *Store) ClaimLoginAttempt(ctx context.Context, keys []AttemptKey, at time.Time, refuse func(recent [][]time.Time) bool) (ids []int64, err error) {
	at = at.UTC().Truncate(time.Microsecond) // PostgreSQL keeps microseconds
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.lockAttemptKeys(tx, keys); err != nil {
			return err
		}
		recent := make([][]time.Time, len(keys))
		for i, k := range keys {
			since := at.Add(-k.Window)
			if err := tx.Exec(`DELETE FROM login_attempts WHERE kind = ? AND key = ? AND created_at < ?`, k.Kind, k.Key, since).Error; err != nil {
				return err
			}
			var times []time.Time
			if err := tx.Raw(`SELECT created_at FROM login_attempts WHERE kind = ? AND key = ? AND created_at >= ?
				ORDER BY created_at DESC, id DESC LIMIT ?`, k.Kind, k.Key, since, max(k.Keep, 1)).Scan(&times).Error; err != nil {
				return err
			}
			for j := range times {
				times[j] = times[j].UTC()
			}
			slices.Reverse(times)
			recent[i] = times
		}
		if refuse(recent) {
			ids = nil
			return nil
		}
		ids = make([]int64, 0, len(keys))
		for _, k := range keys {
			var id int64
			if err := tx.Raw(`INSERT INTO login_attempts (kind, key, created_at) VALUES (?, ?, ?) RETURNING id`,
				k.Kind, k.Key, at).Scan(&id).Error; err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// ReleaseLoginAttempts takes back the attempts ids (a good sign-in, or a
// check that could not be made) and forgets every attempt of the keys in
// clear (the owner proved who they are), in one transaction under the
// keys' locks.
func (s *Store) ReleaseLoginAttempts(ctx context.Context, ids []int64, clear []AttemptKey) error {
	if len(ids) == 0 && len(clear) == 0 {
		return nil
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.lockAttemptKeys(tx, clear); err != nil {
			return err
		}
		for _, k := range clear {
			if err := tx.Exec(`DELETE FROM login_attempts WHERE kind = ? AND key = ?`, k.Kind, k.Key).Error; err != nil {
				return err
			}
		}
		if len(ids) > 0 {
			return tx.Exec(`DELETE FROM login_attempts WHERE id IN ?`, ids).Error
		}
		return nil
	})
}

// lockAttemptKeys takes PostgreSQL's advisory transaction lock of each key,
// in sorted order. hashtext can map two keys to one lock: they then wait
// on each other, which is slower, never wrong.
func (s *Store) lockAttemptKeys(tx *gorm.DB, keys []AttemptKey) error {
	if !s.pg || len(keys) == 0 {
		return nil
	}
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		names = append(names, k.lockName())
	}
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		if err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtext(?))`, n).Error; err != nil {
			return err
		}
	}
	return nil
}

// deleteOldLoginAttempts prunes the attempts no rule counts any more (those
// of keys no claim has come back to).
func (s *Store) deleteOldLoginAttempts(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Exec(`DELETE FROM login_attempts WHERE created_at < ?`, s.now().Add(-LoginAttemptsKept))
	return res.RowsAffected, res.Error
}
