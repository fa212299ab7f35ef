package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"gorm.io/gorm"
)

// wantTotalsMatch fails unless every running total equals a recount, and the
// dashboard's figures equal the whole-table aggregates they replace.
func wantTotalsMatch(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	bad, err := s.CheckTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Fatalf("running totals drifted from the rows: %+v", bad)
	}
	d, err := s.DashboardTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counts, _ := s.ChannelCounts(ctx)
	days, _ := s.DayTotals(ctx)
	pb, _ := s.PartnerBalance(ctx)
	maps.DeleteFunc(d.Channels, func(_ ChannelStatus, n int64) bool { return n == 0 })
	if !maps.Equal(d.Channels, counts) || d.Days != days || d.Partner != pb {
		t.Fatalf("dashboard totals %+v, want channels %v, days %+v, partner %+v", d, counts, days, pb)
	}
	var audit int64
	s.db.Model(&AuditEvent{}).Count(&audit)
	if n, err := s.CountAudit(ctx); err != nil || n != audit {
		t.Fatalf("CountAudit = %d, %v; want %d", n, err, audit)
	}
	for _, f := range []UserFilter{{}, {Role: RoleCustomer}, {Role: RoleAdmin}} {
		_, n, err := s.ListUsersPage(ctx, f)
		var want int64
		q := s.db.Model(&User{})
		if f.Role != "" {
			q = q.Where("role = ?", f.Role)
		}
		q.Count(&want)
		if err != nil || n.N != want || n.More {
			t.Fatalf("ListUsersPage(%+v) total = %+v, %v; want %d", f, n, err, want)
		}
	}
	for _, f := range []AdminChannelFilter{{}, {IncludeGone: true}, {Status: ChannelActive}, {Status: ChannelDeleted}} {
		_, n, err := s.ListAdminChannels(ctx, f)
		var want int64
		q := s.db.Model(&Channel{})
		switch {
		case f.Status != "":
			q = q.Where("status = ?", f.Status)
		case !f.IncludeGone:
			q = q.Where("status NOT IN ?", []ChannelStatus{ChannelDeleted, ChannelFailed})
		}
		q.Count(&want)
		if err != nil || n.N != want || n.More {
			t.Fatalf("ListAdminChannels(%+v) total = %+v, %v; want %d", f, n, err, want)
		}
	}
}

// TestTotalsKeepUpWithEveryChange makes many random changes — through the
// store's workflows, by hand-written SQL, and in transactions that roll
// back — and checks after each batch that the running totals equal a full
// recount.
func TestTotalsKeepUpWithEveryChange(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 6))
	plan, err := s.CreatePlan(ctx, SystemActor, PlanInput{Name: "Totals", MaxChannels: 5, DaysPerPeriod: 30, PeriodDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	statuses := []ChannelStatus{ChannelPending, ChannelTrial, ChannelActive, ChannelExpired, ChannelDeleting, ChannelDeleted, ChannelFailed}
	var customers []int64
	pick := func(table string) int64 { // a random row id of table, 0 if none
		var id int64
		s.db.Raw("SELECT id FROM " + table + " ORDER BY random() LIMIT 1").Scan(&id)
		return id
	}
	rawChannel := func(tx *gorm.DB, userID int64) error {
		now := time.Now().UTC()
		return tx.Exec(`INSERT INTO channels (user_id, name, status, created_at, updated_at) VALUES (?, 'raw', ?, ?, ?)`,
			userID, statuses[rng.IntN(len(statuses))], now, now).Error
	}
	for i := range 600 {
		var err error
		switch op := rng.IntN(13); {
		case op == 0 || len(customers) == 0: // a customer with a plan (plan credit)
			role := RoleCustomer
			if rng.IntN(5) == 0 {
				role = RoleAdmin
			}
			u, e := s.CreateUser(ctx, NewUser{Email: fmt.Sprintf("u%d@example.com", i), Password: "correct horse battery", Role: role})
			if err = e; err == nil && role == RoleCustomer {
				customers = append(customers, u.ID)
				_, err = s.ActivatePlan(ctx, SystemActor, u.ID, plan.ID)
			}
		case op == 1: // a channel through the create workflow, confirmed or failed
			ch, o, e := s.ReserveChannel(ctx, SystemActor, customers[rng.IntN(len(customers))], "Line", "")
			if e != nil {
				break // plan full: nothing changed
			}
			if rng.IntN(3) == 0 {
				err = s.FailCreate(ctx, o.ID, "test")
			} else {
				_, err = s.ConfirmCreate(ctx, o.ID, RemoteChannel{WhapiID: fmt.Sprintf("w-%d", ch.ID), Token: "tok", Mode: "trial",
					ActiveTill: time.Now().Add(time.Duration(rng.IntN(10)-3) * 24 * time.Hour)})
			}
		case op == 2: // an extend, confirmed or given back
			var chID int64
			s.db.Raw("SELECT id FROM channels WHERE status IN ('trial', 'active') ORDER BY random() LIMIT 1").Scan(&chID)
			if chID == 0 {
				break
			}
			o, e := s.ReserveExtend(ctx, SystemActor, chID, int64(1+rng.IntN(5)), "test")
			if e != nil {
				break // not enough days
			}
			if rng.IntN(3) == 0 {
				err = s.FailExtend(ctx, o.ID, "test")
			} else {
				err = s.ConfirmExtend(ctx, o.ID)
			}
		case op == 3: // a delete, with its refund
			var chID int64
			s.db.Raw("SELECT id FROM channels WHERE status IN ('trial', 'active', 'expired') ORDER BY random() LIMIT 1").Scan(&chID)
			if chID == 0 {
				break
			}
			if o, e := s.ReserveDelete(ctx, SystemActor, chID); e == nil {
				err = s.ConfirmDelete(ctx, o.ID, int64(rng.IntN(3)))
			}
		case op == 4:
			err = s.CreditDays(ctx, SystemActor, customers[rng.IntN(len(customers))], int64(1+rng.IntN(50)), LedgerAdminCredit, "test")
		case op == 5:
			days := int64(rng.IntN(200) - 50)
			if days == 0 {
				days = 1
			}
			err = s.RecordPartnerPurchase(ctx, SystemActor, days, "test")
		case op == 6: // any status to any other, by hand
			if id := pick("channels"); id != 0 {
				err = s.db.Exec("UPDATE channels SET status = ?, updated_at = ? WHERE id = ?", statuses[rng.IntN(len(statuses))], time.Now().UTC(), id).Error
			}
		case op == 7: // a status "changed" to itself: no change
			err = s.db.Exec("UPDATE channels SET status = status WHERE id = ?", pick("channels")).Error
		case op == 8: // a channel inserted and one deleted by hand
			if err = rawChannel(s.db, customers[rng.IntN(len(customers))]); err == nil {
				err = s.db.Exec("DELETE FROM channels WHERE id = (SELECT id FROM channels WHERE name = 'raw' ORDER BY random() LIMIT 1)").Error
			}
		case op == 9: // a role flipped, and a user without rows deleted
			if id := pick("users"); id != 0 {
				err = s.db.Exec("UPDATE users SET role = CASE role WHEN 'admin' THEN 'customer' ELSE 'admin' END WHERE id = ? AND id NOT IN (SELECT user_id FROM subscriptions)", id).Error
			}
			if err == nil {
				now := time.Now().UTC()
				err = s.db.Exec(`INSERT INTO users (email, password_hash, role, created_at, updated_at, password_changed_at) VALUES (?, 'x', 'admin', ?, ?, ?)`,
					fmt.Sprintf("gone%d@example.com", i), now, now, now).Error
			}
			if err == nil && rng.IntN(2) == 0 {
				err = s.db.Exec("DELETE FROM users WHERE email LIKE 'gone%' AND id = (SELECT MAX(id) FROM users)").Error
			}
		case op == 10: // audit events added and pruned
			if err = s.RecordAudit(ctx, SystemActor, "test.event", "x", ""); err == nil && rng.IntN(3) == 0 {
				err = s.db.Exec("DELETE FROM audit_events WHERE id = ?", pick("audit_events")).Error
			}
		case op == 11: // everything at once, then rolled back
			boom := errors.New("roll back")
			e := s.db.Transaction(func(tx *gorm.DB) error {
				uid := customers[rng.IntN(len(customers))]
				for range 3 {
					if err := rawChannel(tx, uid); err != nil {
						return err
					}
				}
				if err := tx.Exec("UPDATE channels SET status = 'expired' WHERE user_id = ?", uid).Error; err != nil {
					return err
				}
				if err := s.addDays(tx, LedgerEntry{UserID: uid, Delta: 7, Kind: LedgerAdminCredit, Actor: "test"}); err != nil {
					return err
				}
				if err := s.addPartnerDays(tx, PartnerEntry{Delta: 9, Kind: PartnerPurchase, Comment: "rolled back", Actor: "test"}); err != nil {
					return err
				}
				if err := s.audit(tx, SystemActor, "test.rollback", "", ""); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(e, boom) {
				err = e
			}
		case op == 12: // a refused ledger change leaves the totals as they were
			if e := s.db.Exec("UPDATE day_ledger SET delta = delta + 1 WHERE id = ?", pick("day_ledger")).Error; e == nil {
				t.Fatal("day_ledger accepted an UPDATE")
			}
			if e := s.db.Exec("DELETE FROM partner_ledger WHERE id = ?", pick("partner_ledger")).Error; e == nil && pick("partner_ledger") != 0 {
				t.Fatal("partner_ledger accepted a DELETE")
			}
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if i%100 == 99 {
			wantTotalsMatch(t, s)
		}
	}
	wantTotalsMatch(t, s)
	var n int64
	s.db.Raw("SELECT COUNT(*) FROM totals WHERE n <> 0").Scan(&n)
	if n < 8 {
		t.Fatalf("only %d non-zero totals: the random changes did not reach far", n)
	}
}

// TestCheckTotalsFindsDrift: CheckTotals reports a total that no longer
// matches its rows, and a total that is missing.
func TestCheckTotalsFindsDrift(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, NewUser{Email: "a@example.com", Password: "correct horse battery", Role: RoleCustomer}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAudit(ctx, SystemActor, "test.event", "", ""); err != nil {
		t.Fatal(err)
	}
	wantTotalsMatch(t, s)
	// One row of the total drifts (on PostgreSQL a total may be spread
	// over several rows, migration 0023).
	drift := "UPDATE totals SET n = n + 2 WHERE name = 'users:customer'" // SQLite: one row per total
	if s.Postgres() {
		drift = "UPDATE totals SET n = n + 2 WHERE ctid = (SELECT ctid FROM totals WHERE name = 'users:customer' LIMIT 1)"
	}
	s.db.Exec(drift)
	s.db.Exec("DELETE FROM totals WHERE name = 'audit_events'")
	bad, err := s.CheckTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []TotalMismatch{{Name: "audit_events", Kept: 0, Recount: 1}, {Name: "users:customer", Kept: 3, Recount: 1}}
	if fmt.Sprint(bad) != fmt.Sprint(want) {
		t.Fatalf("CheckTotals = %+v, want %+v", bad, want)
	}
}

// TestTotalsMigrationCountsExistingRows: migration 0004 on a database that
// already has rows starts every total at its recount.
func TestTotalsMigrationCountsExistingRows(t *testing.T) {
	s, path := newTestStore(t)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, NewUser{Email: "a@example.com", Password: "correct horse battery", Role: RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.CreatePlan(ctx, SystemActor, PlanInput{Name: "P", MaxChannels: 2, DaysPerPeriod: 30, PeriodDays: 30})
	if _, err := s.ActivatePlan(ctx, SystemActor, u.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ReserveChannel(ctx, SystemActor, u.ID, "Line", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordPartnerPurchase(ctx, SystemActor, 40, "test"); err != nil {
		t.Fatal(err)
	}
	// Undo 0004, as if the rows had been written before it.
	if s.Postgres() {
		// Its triggers go with their functions.
		if err := s.db.Exec("DROP FUNCTION totals_users, totals_channels, totals_ledger, totals_audit_events, totals_add CASCADE").Error; err != nil {
			t.Fatal(err)
		}
	} else {
		var objs []struct{ Type, Name string }
		s.db.Raw("SELECT type, name FROM sqlite_master WHERE sql LIKE '%totals%' AND type = 'trigger'").Scan(&objs)
		if len(objs) == 0 {
			t.Fatal("no totals triggers")
		}
		for _, o := range objs {
			s.db.Exec("DROP TRIGGER " + o.Name)
		}
	}
	for _, sql := range []string{"DROP TABLE totals", "DROP INDEX users_role_email", "DROP INDEX channels_status",
		"DROP INDEX channels_running_till", "DELETE FROM schema_migrations WHERE version LIKE '0004%'"} {
		if err := s.db.Exec(sql).Error; err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s2, err := Open(ctx, path, s.cipher, s.states)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	wantTotalsMatch(t, s2)
	d, _ := s2.DashboardTotals(ctx)
	if d.Channels[ChannelPending] != 1 || d.Days.Credited != 60 || d.Partner.Bought != 40 {
		t.Fatalf("after the migration: %+v", d)
	}
}

// TestTotalsShardsLetWritersPass: on PostgreSQL two transactions that move
// the same totals (a ledger row and an audit event each) on two
// connections do not wait for each other (migration 0023: a total is
// spread over rows by connection), and the totals still match the rows
// once both commit. Before 0023 the second waited on the first's row
// locks until it committed: here it would fail on its lock timeout.
func TestTotalsShardsLetWritersPass(t *testing.T) {
	testdbPostgresOnly(t)
	s, _ := newTestStore(t)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, NewUser{Email: "a@example.com", Password: "correct horse battery", Role: RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	// Two connections on different shards (pg_backend_pid() % 64).
	var conns []*sql.Conn
	shards := map[int]bool{}
	for len(conns) < 2 {
		c, err := sqlDB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var pid int
		if err := c.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		if !shards[pid%64] {
			shards[pid%64] = true
			conns = append(conns, c)
		}
	}
	var txs []*sql.Tx
	for i, c := range conns {
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		// A wait on the other's lock fails the statement instead of hanging.
		if _, err := tx.ExecContext(ctx, "SET LOCAL lock_timeout = '20s'"); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			"INSERT INTO day_ledger (user_id, delta, kind, comment, actor, created_at) VALUES ($1, 1, 'admin_credit', 'test', 'test', now())",
			"INSERT INTO audit_events (actor_email, action, target, created_at) VALUES ('test', 'test.event', 'user ' || $1::bigint, now())",
		} {
			if _, err := tx.ExecContext(ctx, q, u.ID); err != nil {
				t.Fatalf("transaction %d, while the other is open: %v", i+1, err)
			}
		}
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	wantTotalsMatch(t, s)
}
