// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ddls/mcpauth/internal/pgtest"
)

// replaytest is the conformance suite every ReplayStore passes: newStore returns a fresh, empty store on the
// given clock.
func replaytest(t *testing.T, newStore func(t *testing.T, now func() time.Time) ReplayStore) {
	ctx := context.Background()

	t.Run("first_use_then_replay", func(t *testing.T) {
		clock := newTestClock(testNow)
		s := newStore(t, clock.Now)
		if err := s.Use(ctx, "k1", testNow.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		err := s.Use(ctx, "k1", testNow.Add(time.Minute))
		if !errors.Is(err, CheckReplay) {
			t.Fatalf("replay: %v", err)
		}
		if err := s.Use(ctx, "k2", testNow.Add(time.Minute)); err != nil {
			t.Fatalf("other key: %v", err)
		}
	})

	t.Run("live_until_expiry_then_reusable", func(t *testing.T) {
		clock := newTestClock(testNow)
		s := newStore(t, clock.Now)
		until := testNow.Add(time.Minute)
		if err := s.Use(ctx, "k", until); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute - time.Millisecond)
		if err := s.Use(ctx, "k", until); !errors.Is(err, CheckReplay) {
			t.Fatalf("just before expiry: %v", err)
		}
		clock.Advance(2 * time.Millisecond)
		if err := s.Use(ctx, "k", clock.Now().Add(time.Minute)); err != nil {
			t.Fatalf("after expiry: %v", err)
		}
		if err := s.Use(ctx, "k", clock.Now().Add(time.Minute)); !errors.Is(err, CheckReplay) {
			t.Fatalf("renewed record: %v", err)
		}
	})

	t.Run("until_in_past_is_not_recorded", func(t *testing.T) {
		clock := newTestClock(testNow)
		s := newStore(t, clock.Now)
		if err := s.Use(ctx, "old", testNow.Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := s.Use(ctx, "old", testNow.Add(time.Minute)); err != nil {
			t.Fatalf("not recorded, so usable: %v", err)
		}
		// A live record is still a replay even when the caller's until has passed.
		if err := s.Use(ctx, "old", testNow.Add(-time.Second)); !errors.Is(err, CheckReplay) {
			t.Fatalf("live record: %v", err)
		}
	})

	t.Run("canceled_context_is_an_error_not_a_pass", func(t *testing.T) {
		s := newStore(t, fixedClock(testNow))
		c, cancel := context.WithCancel(ctx)
		cancel()
		err := s.Use(c, "k", testNow.Add(time.Minute))
		if err == nil || errors.Is(err, CheckReplay) {
			t.Fatalf("canceled: %v", err)
		}
	})

	t.Run("concurrent_same_key_exactly_one_wins", func(t *testing.T) {
		s := newStore(t, fixedClock(testNow))
		const n = 20
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = s.Use(ctx, "contended", testNow.Add(time.Minute))
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, CheckReplay):
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d of %d concurrent uses succeeded, want exactly 1", wins, n)
		}
	})

	t.Run("concurrent_distinct_keys_all_win", func(t *testing.T) {
		s := newStore(t, fixedClock(testNow))
		var wg sync.WaitGroup
		errs := make([]error, 40)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Use(ctx, fmt.Sprintf("key-%d", i), testNow.Add(time.Minute))
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("key %d: %v", i, err)
			}
		}
	})

	t.Run("verifier_end_to_end", func(t *testing.T) {
		s := newStore(t, fixedClock(testNow))
		v, err := NewVerifier(&VerifierOptions{Now: fixedClock(testNow), Replay: s})
		if err != nil {
			t.Fatal(err)
		}
		k := mustKey(t, ES256, fixedClock(testNow))
		p, _ := k.Proof(tMethod, tURL, "", "")
		if _, err := v.Verify(ctx, []string{p}, tMethod, tURL, ""); err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(ctx, []string{p}, tMethod, tURL, "")
		assertCheck(t, err, CheckReplay)
	})
}

func TestMemoryReplayStore(t *testing.T) {
	replaytest(t, func(t *testing.T, now func() time.Time) ReplayStore {
		s, err := NewMemoryReplayStore(&MemoryReplayOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestPostgresReplayStore(t *testing.T) {
	pool := pgtest.Pool(t)
	replaytest(t, func(t *testing.T, now func() time.Time) ReplayStore {
		if _, err := pool.Exec(context.Background(), "TRUNCATE dpop_replay"); err != nil {
			t.Fatal(err)
		}
		s, err := NewPostgresReplayStore(pool, &PostgresReplayOptions{Now: now, PurgeInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})

	t.Run("purge_deletes_expired_rows_only", func(t *testing.T) {
		ctx := context.Background()
		if _, err := pool.Exec(ctx, "TRUNCATE dpop_replay"); err != nil {
			t.Fatal(err)
		}
		clock := newTestClock(testNow)
		s, err := NewPostgresReplayStore(pool, &PostgresReplayOptions{Now: clock.Now, PurgeInterval: -1, PurgeBatch: 2})
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
		if err := s.Use(ctx, "long", testNow.Add(time.Hour)); !errors.Is(err, CheckReplay) {
			t.Fatalf("live row purged: %v", err)
		}
	})

	t.Run("opportunistic_purge", func(t *testing.T) {
		ctx := context.Background()
		if _, err := pool.Exec(ctx, "TRUNCATE dpop_replay"); err != nil {
			t.Fatal(err)
		}
		clock := newTestClock(testNow)
		s, err := NewPostgresReplayStore(pool, &PostgresReplayOptions{Now: clock.Now, PurgeInterval: time.Minute})
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

	if _, err := NewPostgresReplayStore(nil, nil); err == nil {
		t.Error("nil pool accepted")
	}
}

func TestMemoryReplayStoreBounded(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(testNow)
	s, err := NewMemoryReplayStore(&MemoryReplayOptions{MaxEntries: 3, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i, ttl := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second} {
		if err := s.Use(ctx, fmt.Sprint(i), testNow.Add(ttl)); err != nil {
			t.Fatal(err)
		}
	}
	// Full of live entries: a new key is refused, not recorded by evicting a live one.
	err = s.Use(ctx, "new", testNow.Add(time.Minute))
	if err == nil || errors.Is(err, CheckReplay) {
		t.Fatalf("full store: %v", err)
	}
	// Live entries are still replays.
	for i := range 3 {
		if err := s.Use(ctx, fmt.Sprint(i), testNow.Add(time.Minute)); !errors.Is(err, CheckReplay) {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	// The soonest-expiring entry goes first.
	clock.Advance(1500 * time.Millisecond)
	if s.Len() != 2 {
		t.Fatalf("len %d", s.Len())
	}
	if err := s.Use(ctx, "new", testNow.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Use(ctx, "2", testNow.Add(time.Minute)); !errors.Is(err, CheckReplay) {
		t.Fatalf("entry 2 evicted early: %v", err)
	}
	// A Verifier over a full store refuses with CheckReplayStore.
	v, _ := NewVerifier(&VerifierOptions{Now: clock.Now, Replay: s})
	k := mustKey(t, ES256, clock.Now)
	p, _ := k.Proof(tMethod, tURL, "", "")
	_, err = v.Verify(ctx, []string{p}, tMethod, tURL, "")
	assertCheck(t, err, CheckReplayStore)

	if _, err := NewMemoryReplayStore(&MemoryReplayOptions{MaxEntries: -1}); err == nil {
		t.Error("negative MaxEntries accepted")
	}
}

// The heap keeps the soonest expiry on top under random insertion orders.
func TestMemoryReplayStoreHeapOrder(t *testing.T) {
	clock := newTestClock(testNow)
	s, _ := NewMemoryReplayStore(&MemoryReplayOptions{Now: clock.Now})
	ctx := context.Background()
	for i := range 200 {
		ttl := time.Duration((i*7919)%200+1) * time.Second
		if err := s.Use(ctx, fmt.Sprint(i), testNow.Add(ttl)); err != nil {
			t.Fatal(err)
		}
	}
	for step := 1; step <= 200; step++ {
		clock.Advance(time.Second)
		if got, want := s.Len(), 200-step; got != want {
			t.Fatalf("after %ds: %d live, want %d", step, got, want)
		}
	}
}
