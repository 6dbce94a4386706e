// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"strings"
	"testing"
	"time"
)

func TestNonceSource(t *testing.T) {
	secretA := []byte(strings.Repeat("a", 32))
	secretB := []byte(strings.Repeat("b", 32))
	// Start in the middle of a window so the steps below stay inside known windows.
	start := time.Unix(0, 0).Add(1_000_000 * 5 * time.Minute).Add(2 * time.Minute)
	clock := newTestClock(start)
	s, err := NewNonceSource([][]byte{secretA}, &NonceOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	n := s.Issue()
	if len(n) != nonceLen || !isB64URL(n) {
		t.Fatalf("nonce %q", n)
	}
	if !s.Valid(n) {
		t.Fatal("current window refused")
	}
	if s.Issue() != n {
		t.Fatal("nonce changed within a window")
	}

	clock.Advance(5 * time.Minute) // next window
	if !s.Valid(n) {
		t.Fatal("previous window refused")
	}
	if s.Issue() == n {
		t.Fatal("nonce did not change with the window")
	}
	clock.Advance(5 * time.Minute) // two windows on
	if s.Valid(n) {
		t.Fatal("nonce two windows old accepted")
	}

	// Another replica with the same secret accepts the nonce; one with another secret does not.
	n = s.Issue()
	replica, _ := NewNonceSource([][]byte{secretA}, &NonceOptions{Now: clock.Now})
	if !replica.Valid(n) {
		t.Fatal("replica refused")
	}
	stranger, _ := NewNonceSource([][]byte{secretB}, &NonceOptions{Now: clock.Now})
	if stranger.Valid(n) {
		t.Fatal("nonce accepted under another secret")
	}

	// Rotation: [B, A] issues with B and still accepts A's nonces; [B] alone no longer does.
	rotated, _ := NewNonceSource([][]byte{secretB, secretA}, &NonceOptions{Now: clock.Now})
	if !rotated.Valid(n) {
		t.Fatal("rotation: old secret's nonce refused")
	}
	nb := rotated.Issue()
	if nb == n || !stranger.Valid(nb) || s.Valid(nb) {
		t.Fatal("rotation: new nonce not issued with the first secret")
	}

	// Tampered nonces are refused.
	for _, bad := range []string{"", n[:21], n + "A", flipChar(n, 0), flipChar(n, 21), strings.Repeat("A", 22), n[:20] + "=="} {
		if s.Valid(bad) {
			t.Errorf("tampered nonce %q accepted", bad)
		}
	}
}

func flipChar(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestNonceSourceOptions(t *testing.T) {
	good := []byte(strings.Repeat("s", 32))
	if _, err := NewNonceSource(nil, nil); err == nil {
		t.Error("no secret accepted")
	}
	if _, err := NewNonceSource([][]byte{good[:31]}, nil); err == nil {
		t.Error("short secret accepted")
	}
	if _, err := NewNonceSource([][]byte{good}, &NonceOptions{Window: time.Millisecond}); err == nil {
		t.Error("tiny window accepted")
	}
	s, err := NewNonceSource([][]byte{good}, &NonceOptions{Window: time.Minute})
	if err != nil || !s.Valid(s.Issue()) {
		t.Fatal("real clock", err)
	}
	// The source keeps its own copy of the secret.
	secret := append([]byte(nil), good...)
	s, _ = NewNonceSource([][]byte{secret}, nil)
	n := s.Issue()
	secret[0] ^= 1
	if !s.Valid(n) {
		t.Fatal("secret aliased")
	}
}
