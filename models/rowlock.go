package models

import "gorm.io/gorm"

// lockRows locks the rows of table that where selects until tx ends, for
// a check-then-write that SQL cannot say in one conditional statement (a
// count, then an insert): two transactions that lock the same row run one
// after the other. It returns how many rows it locked.
//
// PostgreSQL: SELECT … ORDER BY id FOR NO KEY UPDATE — a lock that writes
// nothing (no new row version, so a transaction that rolls back after it
// leaves no updater behind on a row that foreign-key checks are locking
// too; the no-op UPDATE it replaces met PostgreSQL's "new multixact has
// more than one updating member" under the multi-instance test's load),
// taken in id order so that two lockers of several rows cannot deadlock,
// and weak enough that inserts referencing the row (their KEY SHARE
// checks) are not held up.
//
// SQLite has no row locks, and its IMMEDIATE transaction holds the one
// write lock already: a write that changes nothing stands in, so that the
// statement still counts the rows.
func lockRows(tx *gorm.DB, table, where string, args ...any) (int64, error) {
	var res *gorm.DB
	if tx.Dialector.Name() == "postgres" {
		res = tx.Exec(`SELECT id FROM `+table+` WHERE `+where+` ORDER BY id FOR NO KEY UPDATE`, args...)
	} else {
		res = tx.Exec(`UPDATE `+table+` SET id = id WHERE `+where, args...)
	}
	return res.RowsAffected, res.Error
}
