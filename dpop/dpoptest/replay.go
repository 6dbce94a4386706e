// https://www.rfc-editor.org/rfc/rfc9449

package dpoptest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ddls/mcpauth/dpop"
)

// RunReplayStore is the conformance suite every dpop.ReplayStore passes (RFC 9449 §11.1). newStore returns
// a fresh, empty store on the given clock; it is called once per subtest, and may call t.Fatal.
func RunReplayStore(t *testing.T, newStore func(t *testing.T, now func() time.Time) dpop.ReplayStore) {
	t.Helper()
	ctx := context.Background()
	start := time.Unix(1_700_000_000, 0)

	t.Run("first_use_then_replay", func(t *testing.T) {
		clock := NewClock(start)
		s := newStore(t, clock.Now)
		if err := s.Use(ctx, "k1", start.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		err := s.Use(ctx, "k1", start.Add(time.Minute))
		if !errors.Is(err, dpop.CheckReplay) {
			t.Fatalf("replay: %v", err)
		}
		if err := s.Use(ctx, "k2", start.Add(time.Minute)); err != nil {
			t.Fatalf("other key: %v", err)
		}
	})

	t.Run("live_until_expiry_then_reusable", func(t *testing.T) {
		clock := NewClock(start)
		s := newStore(t, clock.Now)
		until := start.Add(time.Minute)
		if err := s.Use(ctx, "k", until); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute - time.Millisecond)
		if err := s.Use(ctx, "k", until); !errors.Is(err, dpop.CheckReplay) {
			t.Fatalf("just before expiry: %v", err)
		}
		clock.Advance(2 * time.Millisecond)
		if err := s.Use(ctx, "k", clock.Now().Add(time.Minute)); err != nil {
			t.Fatalf("after expiry: %v", err)
		}
		if err := s.Use(ctx, "k", clock.Now().Add(time.Minute)); !errors.Is(err, dpop.CheckReplay) {
			t.Fatalf("renewed record: %v", err)
		}
	})

	t.Run("until_in_past_is_not_recorded", func(t *testing.T) {
		clock := NewClock(start)
		s := newStore(t, clock.Now)
		if err := s.Use(ctx, "old", start.Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := s.Use(ctx, "old", start.Add(time.Minute)); err != nil {
			t.Fatalf("not recorded, so usable: %v", err)
		}
		// A live record is still a replay even when the caller's until has passed.
		if err := s.Use(ctx, "old", start.Add(-time.Second)); !errors.Is(err, dpop.CheckReplay) {
			t.Fatalf("live record: %v", err)
		}
	})

	t.Run("canceled_context_is_an_error_not_a_pass", func(t *testing.T) {
		s := newStore(t, NewClock(start).Now)
		c, cancel := context.WithCancel(ctx)
		cancel()
		err := s.Use(c, "k", start.Add(time.Minute))
		if err == nil || errors.Is(err, dpop.CheckReplay) {
			t.Fatalf("canceled: %v", err)
		}
	})

	t.Run("concurrent_same_key_exactly_one_wins", func(t *testing.T) {
		s := newStore(t, NewClock(start).Now)
		const n = 20
		var wg sync.WaitGroup
		errs := make([]error, n)
		begin := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-begin
				errs[i] = s.Use(ctx, "contended", start.Add(time.Minute))
			}()
		}
		close(begin)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, dpop.CheckReplay):
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d of %d concurrent uses succeeded, want exactly 1", wins, n)
		}
	})

	t.Run("concurrent_distinct_keys_all_win", func(t *testing.T) {
		s := newStore(t, NewClock(start).Now)
		var wg sync.WaitGroup
		errs := make([]error, 40)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Use(ctx, fmt.Sprintf("key-%d", i), start.Add(time.Minute))
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
		now := NewClock(start).Now
		s := newStore(t, now)
		v, err := dpop.NewVerifier(&dpop.VerifierOptions{Now: now, Replay: s})
		if err != nil {
			t.Fatal(err)
		}
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k, err := dpop.NewKey(priv, &dpop.KeyOptions{Alg: dpop.ES256, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		const method, url = "POST", "https://server.example.com/token"
		p, err := k.Proof(method, url, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, []string{p}, method, url, ""); err != nil {
			t.Fatal(err)
		}
		// RFC 9449 §11.1: the same proof a second time is refused as a replay, with invalid_dpop_proof.
		_, err = v.Verify(ctx, []string{p}, method, url, "")
		var de *dpop.Error
		if !errors.As(err, &de) || de.Check != dpop.CheckReplay || de.Code != dpop.CodeInvalidProof {
			t.Fatalf("replayed proof: %v, want a *dpop.Error for CheckReplay", err)
		}
	})
}
