package rs

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ddls/mcpauth/dpop"
)

// The benchmarks of the hot path, in one file so that one run compares them (SPEC "Performance targets"):
//
//	go test -run='^$' -bench=. -benchmem ./rs/
//
// BenchmarkES256VerifyBare is the unit: one SHA-256 and one crypto/ecdsa verification of a token-sized
// signing input, key already parsed. Targets: a DPoP request with a cached token ≤ 1.3× the unit (its proof
// must always be verified); with a cold token ≤ 1.3× two units; a bearer request with a cached token a few
// microseconds.

func BenchmarkES256VerifyBare(b *testing.B) {
	a := newTestAS(b)
	tok := a.token(nil)
	input := []byte(tok[:strings.LastIndexByte(tok, '.')])
	priv := a.key().signer.(*ecdsa.PrivateKey)
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

// benchEnv is a middleware with a replay store large enough for b.N proofs.
func benchEnv(b *testing.B) (*testAS, http.Handler) {
	a := newTestAS(b)
	v := a.verifier(b, nil)
	store, err := dpop.NewMemoryReplayStore(&dpop.MemoryReplayOptions{Now: a.clock.Now, MaxEntries: b.N + 16})
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(v, &Options{Logger: discardLogger(), DPoP: &dpop.VerifierOptions{Now: a.clock.Now, Replay: store}})
	if err != nil {
		b.Fatal(err)
	}
	h := m.Require("mcp:tools")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if PrincipalFrom(r.Context()) == nil {
			b.Fatal("no principal")
		}
	}))
	return a, h
}

// nopWriter is a ResponseWriter that keeps nothing.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(status int) {
	if status != 200 {
		panic(status)
	}
}

func benchRequests(b *testing.B, h http.Handler, tokens, proofs []string, scheme string) {
	r := httptest.NewRequest(http.MethodGet, helloURL, nil)
	w := &nopWriter{h: http.Header{}}
	auth := []string{""}
	prf := []string{""}
	r.Header["Authorization"] = auth
	if proofs != nil {
		r.Header["Dpop"] = prf
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		auth[0] = scheme + " " + tokens[i%len(tokens)]
		if proofs != nil {
			prf[0] = proofs[i]
		}
		h.ServeHTTP(w, r)
	}
}

// warm sends one request, so that the token is in the cache before the timer starts.
func warm(h http.Handler, authz, proof string) {
	r := httptest.NewRequest(http.MethodGet, helloURL, nil)
	r.Header.Set("Authorization", authz)
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	h.ServeHTTP(&nopWriter{h: http.Header{}}, r)
}

func BenchmarkRequestDPoPCached(b *testing.B) {
	a, h := benchEnv(b)
	key := a.dpopKey(b)
	tok := a.boundToken(key)
	proofs := make([]string, b.N)
	for i := range proofs {
		proofs[i] = proof(b, key, "GET", helloURL, tok, "")
	}
	warm(h, "DPoP "+tok, proof(b, key, "GET", helloURL, tok, ""))
	benchRequests(b, h, []string{tok}, proofs, "DPoP")
}

func BenchmarkRequestDPoPCold(b *testing.B) {
	a, h := benchEnv(b)
	key := a.dpopKey(b)
	tokens := make([]string, b.N)
	proofs := make([]string, b.N)
	for i := range proofs {
		tokens[i] = a.boundToken(key)
		proofs[i] = proof(b, key, "GET", helloURL, tokens[i], "")
	}
	benchRequests(b, h, tokens, proofs, "DPoP")
}

func BenchmarkRequestBearerCached(b *testing.B) {
	a, h := benchEnv(b)
	tok := a.token(nil)
	warm(h, "Bearer "+tok, "")
	benchRequests(b, h, []string{tok}, nil, "Bearer")
}

// BenchmarkVerifyTokenCold is the token half of a cold request: JWS parse, ES256, claims.
func BenchmarkVerifyTokenCold(b *testing.B) {
	a := newTestAS(b)
	v := a.verifier(b, &JWTOptions{CacheSize: -1})
	tok := a.token(nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
