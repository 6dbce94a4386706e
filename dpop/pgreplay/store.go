// https://www.rfc-editor.org/rfc/rfc9449

package pgreplay

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddls/mcpauth/dpop"
)

var _ dpop.ReplayStore = (*Store)(nil)

// Options configures a Store. The zero value is usable.
type Options struct {
	// Now is the clock; nil means time.Now. Expiry is judged by this clock, not the database's, so the
	// replay window matches the iat window the Verifier applies with the same clock.
	Now func() time.Time
	// PurgeInterval is how often Use starts a background Purge; 0 means one minute, negative disables it
	// (call Purge yourself).
	PurgeInterval time.Duration
	// PurgeBatch bounds the rows one Purge statement deletes; 0 means 10,000.
	PurgeBatch int
}

// Store is a dpop.ReplayStore shared by every replica through the dpop_replay table
// (migrations/002_dpop_replay.sql).
type Store struct {
	pool       *pgxpool.Pool
	now        func() time.Time
	interval   time.Duration
	batch      int
	nextPurge  atomic.Int64 // UnixNano
	purgeGuard atomic.Bool
}

// New returns a store on pool. The dpop_replay table must exist (run the migrations).
func New(pool *pgxpool.Pool, opts *Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgreplay: New needs a pool")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PurgeInterval == 0 {
		o.PurgeInterval = time.Minute
	}
	if o.PurgeBatch < 0 {
		return nil, errors.New("pgreplay: PurgeBatch must not be negative")
	}
	if o.PurgeBatch == 0 {
		o.PurgeBatch = 10000
	}
	s := &Store{pool: pool, now: o.Now, interval: o.PurgeInterval, batch: o.PurgeBatch}
	s.nextPurge.Store(o.Now().Add(o.PurgeInterval).UnixNano())
	return s, nil
}

// The insert wins when the key is new, or when its row has expired (then it is renewed). Under concurrent
// inserts of one key, PostgreSQL serializes them on the primary key: the first inserts, the others find the
// conflict, re-check the WHERE against the committed row, and update nothing. So exactly one sees one row
// affected.
const insertSQL = `INSERT INTO dpop_replay (key, expires_at) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at
WHERE dpop_replay.expires_at <= $3`

// Use implements dpop.ReplayStore: a replay is reported as dpop.CheckReplay, as by dpop.MemoryReplayStore.
func (s *Store) Use(ctx context.Context, key string, until time.Time) error {
	now := s.now()
	if s.interval > 0 && now.UnixNano() >= s.nextPurge.Load() {
		s.backgroundPurge(ctx, now)
	}
	if !until.After(now) {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Past its lifetime already; still a replay if a live row exists.
		var live bool
		err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM dpop_replay WHERE key = $1 AND expires_at > $2)`, key, now).Scan(&live)
		if err != nil {
			return fmt.Errorf("pgreplay: %w", err)
		}
		if live {
			return dpop.CheckReplay
		}
		return nil
	}
	tag, err := s.pool.Exec(ctx, insertSQL, key, until, now)
	if err != nil {
		return fmt.Errorf("pgreplay: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return dpop.CheckReplay
	}
	return nil
}

// Purge deletes expired rows, in batches, and returns how many it deleted.
func (s *Store) Purge(ctx context.Context) (int64, error) {
	now := s.now()
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM dpop_replay WHERE key IN (
	SELECT key FROM dpop_replay WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, now, s.batch)
		if err != nil {
			return total, fmt.Errorf("pgreplay: purge: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(s.batch) {
			return total, nil
		}
	}
}

// backgroundPurge runs one Purge at a time, off the request path, at most once per interval.
func (s *Store) backgroundPurge(ctx context.Context, now time.Time) {
	if !s.purgeGuard.CompareAndSwap(false, true) {
		return
	}
	s.nextPurge.Store(now.Add(s.interval).UnixNano())
	go func() {
		defer s.purgeGuard.Store(false)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = s.Purge(ctx)
	}()
}
