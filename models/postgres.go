package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// pgConnectTimeout bounds the first connection to PostgreSQL at start-up,
// so an unreachable server stops it with a message instead of a hang.
const pgConnectTimeout = 10 * time.Second

// openPostgres checks the PostgreSQL URL raw, opens a pool on it and makes
// sure the server answers. Every error it returns names the server by the
// URL with its password replaced (RedactURL), and never carries the
// password itself, whatever the driver put in its own message.
//
// Times are read back in UTC (the app writes UTC; timestamptz keeps the
// instant), and every connection runs with the time zone UTC.
func openPostgres(ctx context.Context, raw string) (*sql.DB, error) {
	shown := RedactURL(raw)
	fail := func(what string, err error) error {
		return fmt.Errorf("store: %s PostgreSQL at %s: %s", what, shown, scrubSecret(err.Error(), raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("store: the database URL %s is not a URL", shown)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("store: the database URL %s is not a postgres:// URL", shown)
	}
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return nil, fail("cannot use the URL of", unwrapParse(err))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	cfg.RuntimeParams["timezone"] = "UTC"
	db := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(func(_ context.Context, c *pgx.Conn) error {
		c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}))
	pctx, cancel := context.WithTimeout(ctx, pgConnectTimeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		_ = db.Close()
		return nil, fail("cannot reach", err)
	}
	return db, nil
}

// unwrapParse returns the reason inside pgx's parse error, whose own text
// repeats the whole connection string.
func unwrapParse(err error) error {
	if inner := errors.Unwrap(err); inner != nil {
		return inner
	}
	return err
}

// RedactURL returns the database URL raw fit for a message or a log line:
// its password, if any, replaced by "xxxxx". A string that does not parse
// as a URL is not shown at all.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// scrubSecret removes raw's password (in the user part or the query) from
// msg, in case a driver message carried it.
func scrubSecret(msg, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the URL does not parse"
	}
	var secrets []string
	if u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			secrets = append(secrets, p, url.QueryEscape(p), url.PathEscape(p))
		}
	}
	if p := u.Query().Get("password"); p != "" {
		secrets = append(secrets, p, url.QueryEscape(p))
	}
	for _, p := range secrets {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	return msg
}

// isDuplicate reports whether err is a unique index's refusal, on either
// database: GORM translates most, but an error that surfaces while rows
// are read (an INSERT … RETURNING scanned on PostgreSQL) reaches us as the
// driver's own.
func isDuplicate(err error) bool {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
