package models

import (
	"context"
	"database/sql"
	"fmt"

	"gorm.io/gorm"
)

// InSQLTx runs fn inside one of the store's write transactions and hands
// it that transaction's *sql.Tx, so that a part outside models writes in
// the same transaction as the store: the job queue's InsertTx (River), so
// that a job — a mail, a webhook delivery — is queued if and only if the
// change that causes it commits. What fn writes through tx commits with
// the transaction when fn returns nil and is rolled back with it when fn
// returns an error (that error is InSQLTx's).
//
// fn must use tx, never the store's own methods: on SQLite the
// transaction holds the database's write lock, and a second writer would
// wait for it.
func (s *Store) InSQLTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		sqlTx, err := sqlTxOf(tx)
		if err != nil {
			return err
		}
		return fn(sqlTx)
	})
}

// sqlTxOf is the *sql.Tx under a GORM transaction: GORM's connection
// pool in a transaction is the *sql.Tx itself, or, with prepared
// statements on, a wrapper that holds it; on SQLite, the one writer's
// wrapper around either.
func sqlTxOf(tx *gorm.DB) (*sql.Tx, error) {
	pool := tx.Statement.ConnPool
	for range 3 {
		switch p := pool.(type) {
		case *sql.Tx:
			return p, nil
		case *gorm.PreparedStmtTX:
			pool = p.Tx
		case *writeTx: // SQLite's one writer (writer.go)
			pool = p.Tx
		default:
			return nil, fmt.Errorf("store: no *sql.Tx under the transaction (its pool is a %T)", tx.Statement.ConnPool)
		}
	}
	return nil, fmt.Errorf("store: no *sql.Tx under the transaction (its pool is a %T)", tx.Statement.ConnPool)
}
