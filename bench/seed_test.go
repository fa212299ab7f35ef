package bench

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"whapidesk/models"
)

// openRaw opens a second handle on an app's SQLite file: the store exports
// no raw DB handle, and creating 20,000 channels through the workflows
// (reserve, WHAPI create, confirm) would not fit the time budget.
func openRaw(b testing.TB, path string) *gorm.DB {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	db, err := gorm.Open(sqlite.Open("file:"+path+"?"+q.Encode()), &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true})
	must(b, err)
	b.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			_ = s.Close()
		}
	})
	return db
}

// insertRows inserts rows (each a slice of values for cols) in batches.
func insertRows(tx *gorm.DB, table string, cols []string, rows [][]any) error {
	const batch = 500
	ph := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	for i := 0; i < len(rows); i += batch {
		part := rows[i:min(i+batch, len(rows))]
		var args []any
		phs := make([]string, len(part))
		for j, r := range part {
			phs[j] = ph
			args = append(args, r...)
		}
		sql := "INSERT INTO " + table + " (" + strings.Join(cols, ",") + ") VALUES " + strings.Join(phs, ",")
		if err := tx.Exec(sql, args...).Error; err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	return nil
}

// seed adds customers customers with perCustomer live channels each (and
// probe, a customer who can sign in, with as many), each on an active plan
// whose credit went into its channels: plan_credit and allocation ledger
// rows, balance 0, one audit event per customer.
func seed(b testing.TB, a *app, probe *models.User, customers, perCustomer int) {
	p := a.plan("Seed", int64(perCustomer))
	db := openRaw(b, a.dbPath)
	now := time.Now().UTC()
	till := now.Add(20 * 24 * time.Hour)
	credit := int64(30 * perCustomer)
	err := db.Transaction(func(tx *gorm.DB) error {
		users := make([][]any, customers)
		for i := range users {
			users[i] = []any{fmt.Sprintf("seed-%05d@example.com", i), fmt.Sprintf("Customer %05d", i), "x", "customer", "auto", 0, 0, now, now, now}
		}
		if err := insertRows(tx, "users", []string{"email", "name", "password_hash", "role", "allocation_mode", "day_balance", "disabled", "created_at", "updated_at", "password_changed_at"}, users); err != nil {
			return err
		}
		var ids []int64
		if err := tx.Raw("SELECT id FROM users WHERE email LIKE 'seed-%' ORDER BY id").Scan(&ids).Error; err != nil {
			return err
		}
		ids = append(ids, probe.ID)
		var subs, chans, audit [][]any
		for k, id := range ids {
			if id != probe.ID {
				subs = append(subs, []any{id, p.ID, "active", now, now.Add(30 * 24 * time.Hour), now, now})
			}
			for j := range perCustomer {
				chans = append(chans, []any{id, fmt.Sprintf("Line %d", j), fmt.Sprintf("seed-%d-%d", k, j), "active", "live", j % 2, till, 30, now, now, now})
			}
			audit = append(audit, []any{now, "user.create", fmt.Sprintf("user %d", id), "bench seed"})
		}
		if err := insertRows(tx, "subscriptions", []string{"user_id", "plan_id", "status", "current_period_start", "current_period_end", "created_at", "updated_at"}, subs); err != nil {
			return err
		}
		if err := insertRows(tx, "channels", []string{"user_id", "name", "whapi_id", "status", "mode", "linked", "active_till", "days_allocated", "last_synced_at", "created_at", "updated_at"}, chans); err != nil {
			return err
		}
		if err := insertRows(tx, "audit_events", []string{"created_at", "action", "target", "detail"}, audit); err != nil {
			return err
		}
		// Ledger: the plan credit (the probe got its own from ActivatePlan
		// below), then one allocation per channel.
		var ledger [][]any
		for _, id := range ids[:len(ids)-1] {
			ledger = append(ledger, []any{id, nil, credit, "plan_credit", "", "bench", now})
		}
		type ch struct{ ID, UserID int64 }
		var cs []ch
		if err := tx.Raw("SELECT id, user_id FROM channels WHERE whapi_id LIKE 'seed-%' ORDER BY id").Scan(&cs).Error; err != nil {
			return err
		}
		for _, c := range cs {
			if c.UserID != probe.ID {
				ledger = append(ledger, []any{c.UserID, c.ID, int64(-30), "allocation", "", "bench", now})
			}
		}
		return insertRows(tx, "day_ledger", []string{"user_id", "channel_id", "delta", "kind", "comment", "actor", "created_at"}, ledger)
	})
	must(b, err)
	_, err = a.store.ActivatePlan(bg, models.SystemActor, probe.ID, p.ID)
	must(b, err)
}
