// https://www.rfc-editor.org/rfc/rfc9449

package pgreplay_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddls/mcpauth/dpop"
	"github.com/ddls/mcpauth/dpop/dpoptest"
	"github.com/ddls/mcpauth/dpop/pgreplay"
	"github.com/ddls/mcpauth/internal/pgtest"
)

var testNow = time.Unix(1_700_000_000, 0)

// truncate empties the table: the cases share one database.
func truncate(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), "TRUNCATE dpop_replay"); err != nil {
		t.Fatal(err)
	}
}

func TestStore(t *testing.T) {
	pool := pgtest.Pool(t)
	dpoptest.RunReplayStore(t, func(t *testing.T, now func() time.Time) dpop.ReplayStore {
		truncate(t, pool)
		s, err := pgreplay.New(pool, &pgreplay.Options{Now: now, PurgeInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})

	t.Run("purge_deletes_expired_rows_only", func(t *testing.T) {
		ctx := context.Background()
		truncate(t, pool)
		clock := dpoptest.NewClock(testNow)
		s, err := pgreplay.New(pool, &pgreplay.Options{Now: clock.Now, PurgeInterval: -1, PurgeBatch: 2})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if err := s.Use(ctx, fmt.Sprintf("short-%d", i), testNow.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Use(ctx, "long", testNow.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Second)
		n, err := s.Purge(ctx)
		if err != nil || n != 5 {
			t.Fatalf("purged %d, %v; want 5", n, err)
		}
		var left int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM dpop_replay").Scan(&left); err != nil || left != 1 {
			t.Fatalf("left %d, %v", left, err)
		}
		if err := s.Use(ctx, "long", testNow.Add(time.Hour)); !errors.Is(err, dpop.CheckReplay) {
			t.Fatalf("live row purged: %v", err)
		}
	})

	t.Run("opportunistic_purge", func(t *testing.T) {
		ctx := context.Background()
		truncate(t, pool)
		clock := dpoptest.NewClock(testNow)
		s, err := pgreplay.New(pool, &pgreplay.Options{Now: clock.Now, PurgeInterval: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Use(ctx, "a", testNow.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Minute)
		if err := s.Use(ctx, "b", clock.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		// The purge runs in the background; wait for the row to go (bounded, no timing assertion).
		for i := 0; ; i++ {
			var n int
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM dpop_replay WHERE key = 'a'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if i == 500 {
				t.Fatal("expired row was never purged")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestNewValidates(t *testing.T) {
	if _, err := pgreplay.New(nil, nil); err == nil {
		t.Error("nil pool accepted")
	}
	// A pool that is never used: New only checks its arguments.
	pool, err := pgxpool.New(context.Background(), "postgres://127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pgreplay.New(pool, &pgreplay.Options{PurgeBatch: -1}); err == nil {
		t.Error("negative PurgeBatch accepted")
	}
}
