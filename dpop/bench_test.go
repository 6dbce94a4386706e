// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"testing"
)

// The benchmarks of the hot path, in one file so one run compares them:
//
//	go test -run='^$' -bench=. -benchmem ./dpop/
//
// BenchmarkES256VerifyBare is the floor: one SHA-256 and one crypto/ecdsa verification over a proof-sized
// signing input, with the key already parsed. The full benchmarks add everything Verify does (split,
// base64, JSON, jwk parsing and point validation, thumbprint, htu, replay-store insert). Their ratio to
// the floor is the cost of DPoP beyond the one signature it must check.

func benchProofs(b *testing.B, n int, token string) (*Key, []string) {
	b.Helper()
	k := mustKey(b, ES256, fixedClock(testNow))
	proofs := make([]string, n)
	for i := range proofs {
		p, err := k.Proof("POST", "https://rs.example.com/mcp", token, "")
		if err != nil {
			b.Fatal(err)
		}
		proofs[i] = p
	}
	return k, proofs
}

func BenchmarkES256VerifyBare(b *testing.B) {
	k, proofs := benchProofs(b, 1, "")
	p := proofs[0]
	input := []byte(p[:strings.LastIndexByte(p, '.')])
	priv := k.Signer().(*ecdsa.PrivateKey)
	h := sha256.Sum256(input)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, h[:])
	if err != nil {
		b.Fatal(err)
	}
	pub := &priv.PublicKey
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d := sha256.Sum256(input)
		if !ecdsa.VerifyASN1(pub, d[:], sig) {
			b.Fatal("verify")
		}
	}
}

func benchVerify(b *testing.B, token string) {
	_, proofs := benchProofs(b, b.N, token)
	store, err := NewMemoryReplayStore(&MemoryReplayOptions{Now: fixedClock(testNow), MaxEntries: b.N + 1})
	if err != nil {
		b.Fatal(err)
	}
	v, err := NewVerifier(&VerifierOptions{Now: fixedClock(testNow), Replay: store})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	hdr := make([]string, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		hdr[0] = proofs[i]
		if _, err := v.Verify(ctx, hdr, "POST", "https://rs.example.com/mcp", token); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if store.Len() != b.N {
		b.Fatalf("replay store holds %d entries, want %d", store.Len(), b.N)
	}
}

func BenchmarkVerifyProofES256(b *testing.B) { benchVerify(b, "") }

func BenchmarkVerifyProofES256WithATH(b *testing.B) { benchVerify(b, tToken) }
