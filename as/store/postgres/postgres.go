package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/storage"

	"github.com/ddls/mcpauth/as/store"
)

var (
	_ store.Store                   = (*Store)(nil)
	_ fosite.ClientManager          = (*Store)(nil)
	_ oauth2.CoreStorage            = (*Store)(nil)
	_ oauth2.TokenRevocationStorage = (*Store)(nil)
	_ pkce.PKCERequestStorage       = (*Store)(nil)
	_ storage.Transactional         = (*Store)(nil)

	_ querier = (*pgxpool.Pool)(nil)
	_ querier = (pgx.Tx)(nil)
)

// querier is the method set pgxpool.Pool and pgx.Tx share: every statement goes through one.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store is the PostgreSQL store. It is safe for concurrent use; a transaction context is not (one goroutine
// owns it from BeginTX to Commit or Rollback).
type Store struct {
	pool  *pgxpool.Pool
	now   func() time.Time
	grace time.Duration
}

// New returns a store on pool, which must point at a database migrated with package migrations. The store
// takes ownership of the pool: Close closes it.
func New(pool *pgxpool.Pool, opts store.Options) *Store {
	return &Store{pool: pool, now: opts.Clock(), grace: opts.RefreshGracePeriod}
}

// Open connects to databaseURL, checks that the server answers and returns a store owning the new pool.
func Open(ctx context.Context, databaseURL string, opts store.Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// The parse error can quote the URL, password included: do not pass it on.
		return nil, errors.New("postgres: invalid database URL")
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		// Commits wait for the WAL flush; with more connections in flight PostgreSQL flushes many commits at
		// once (group commit). 16 serves the token endpoint's target load on a 2-core machine.
		cfg.MaxConns = 16
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	return New(pool, opts), nil
}

// Ping reports whether the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return translate("ping", s.pool.Ping(ctx)) }

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// --- transactions (storage.Transactional) ---

type txKey struct{}

type txState struct {
	s    *Store
	tx   pgx.Tx
	done bool
}

func (s *Store) txFrom(ctx context.Context) *txState {
	t, _ := ctx.Value(txKey{}).(*txState)
	if t == nil || t.s != s || t.done {
		return nil
	}
	return t
}

// db is the transaction carried by ctx, if it is this store's and still open, else the pool.
func (s *Store) db(ctx context.Context) querier {
	if t := s.txFrom(ctx); t != nil {
		return t.tx
	}
	return s.pool
}

// BeginTX implements storage.Transactional at READ COMMITTED: the conditional UPDATEs of code redemption and
// refresh rotation take row locks, so a concurrent loser waits, then sees the winner's row and matches nothing.
// Nested calls join the open transaction.
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	if s.txFrom(ctx) != nil {
		return ctx, nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return ctx, translate("begin", err)
	}
	return context.WithValue(ctx, txKey{}, &txState{s: s, tx: tx}), nil
}

// Commit implements storage.Transactional; without an open transaction in ctx it does nothing.
func (s *Store) Commit(ctx context.Context) error {
	t := s.txFrom(ctx)
	if t == nil {
		return nil
	}
	t.done = true // pgx ends the transaction whether COMMIT succeeds or not
	return translate("commit", t.tx.Commit(ctx))
}

// Rollback implements storage.Transactional; without an open transaction in ctx (never begun, committed or
// rolled back already) it does nothing.
func (s *Store) Rollback(ctx context.Context) error {
	t := s.txFrom(ctx)
	if t == nil {
		return nil
	}
	t.done = true
	// Roll back even when the request was cancelled: that is usually why we are rolling back.
	err := t.tx.Rollback(context.WithoutCancel(ctx))
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return translate("rollback", err)
}

// --- errors ---

// SQLSTATE codes the store translates (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	codeForeignKeyViolation  = "23503"
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"

	codeCharacterNotInRepertoire = "22021" // invalid UTF-8 or NUL in a text value
	codeUntranslatableCharacter  = "22P05"
)

// translate maps database errors onto the store contract (as/store doc.go). Other errors keep the SQLSTATE
// and the constraint name but never the message detail, which can quote key values (token signatures).
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fosite.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeUniqueViolation:
			return store.ErrConflict
		case codeForeignKeyViolation:
			return fosite.ErrNotFound // a referenced record (organization, user, client) does not exist
		case codeSerializationFailure, codeDeadlockDetected:
			return fosite.ErrSerializationFailure
		case codeCharacterNotInRepertoire, codeUntranslatableCharacter:
			return fmt.Errorf("postgres: %s: a text value is not valid UTF-8 or contains NUL", op)
		}
		// Class 08 (connection exception), 53 (insufficient resources), 57P01-03 (shutting down, cannot
		// connect now): the database is not serving, the request is not at fault.
		if strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "53") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" {
			return fmt.Errorf("postgres: %s: SQLSTATE %s: %w", op, pe.Code, store.ErrUnavailable)
		}
		if pe.ConstraintName != "" {
			return fmt.Errorf("postgres: %s: SQLSTATE %s (constraint %s)", op, pe.Code, pe.ConstraintName)
		}
		return fmt.Errorf("postgres: %s: SQLSTATE %s", op, pe.Code)
	}
	// Not an answer from PostgreSQL at all: no connection, a timeout, a closed pool.
	return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// --- purge ---

// PurgeAfter is how long expired authorization codes, PKCE sessions and access tokens are kept: long enough
// that a late redemption still finds the (expired) code rather than nothing.
const PurgeAfter = time.Hour

// Purge deletes rows that can no longer matter and returns how many went:
//   - authorization codes, PKCE sessions and access tokens expired more than PurgeAfter ago;
//   - client assertion jtis past their expiry (RFC 7523 §3: replay is refused only until the assertion
//     expires, after which the assertion itself is rejected);
//   - expired browser sessions;
//   - refresh tokens whose expiry passed, rotated or not: reuse detection (RFC 6819 §5.2.2.3) is pointless
//     once the token would be refused as expired anyway. Refresh tokens without expiry are kept.
//
// Times come from the store's clock. Each table is one statement, so a large backlog does not hold one long
// transaction. Run it periodically from one replica (or several: it is idempotent).
func (s *Store) Purge(ctx context.Context) (int64, error) {
	now := s.now()
	stmts := [...]struct {
		sql    string
		before time.Time
	}{
		{`DELETE FROM oauth2_codes WHERE expires_at < $1`, now.Add(-PurgeAfter)},
		{`DELETE FROM oauth2_pkce WHERE expires_at < $1`, now.Add(-PurgeAfter)},
		{`DELETE FROM oauth2_access_tokens WHERE expires_at < $1`, now.Add(-PurgeAfter)},
		{`DELETE FROM oauth2_refresh_tokens WHERE expires_at < $1`, now},
		{`DELETE FROM client_assertion_jtis WHERE expires_at <= $1`, now},
		{`DELETE FROM browser_sessions WHERE expires_at <= $1`, now},
	}
	var n int64
	db := s.db(ctx)
	for _, st := range stmts {
		tag, err := db.Exec(ctx, st.sql, st.before)
		if err != nil {
			return n, translate("purge", err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

// --- helpers ---

// storable reports whether s can be a PostgreSQL text value: valid UTF-8 without NUL. Lookup keys come from
// clients (client_id, token signatures, resource, username); one that is not storable matches no row, so the
// lookup answers not found instead of sending it and failing with SQLSTATE 22021 (a 500 for bad input).
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// arr makes nil slices empty arrays: the array columns are NOT NULL.
func arr(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// nullTime stores the zero time ("does not expire") as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// Pool returns the store's pool, for components that keep their own tables in the same database (the DPoP
// replay store). The store still owns it: Close closes it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
