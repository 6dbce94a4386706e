// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

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
