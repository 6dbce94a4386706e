// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"github.com/ddls/mcpauth/internal/testclock"
	"sync"
	"testing"
	"time"
)

// testNow is the fixed clock of the table tests.
var testNow = time.Unix(1_700_000_000, 0)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// testClock is a settable clock for tests that move time.
type testClock = testclock.Clock

func newTestClock(t time.Time) *testClock { return testclock.New(t) }

// RSA key generation is slow (more so under -race), so the tests share a few keys.
var (
	rsaOnce          sync.Once
	rsa2048, rsa1024 *rsa.PrivateKey
)

func testRSAKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	rsaOnce.Do(func() {
		var err error
		if rsa2048, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rsa1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
	})
	return rsa2048, rsa1024
}

func mustKey(t testing.TB, alg string, now func() time.Time) *Key {
	t.Helper()
	var k *Key
	var err error
	switch alg {
	case RS256, RS384, RS512, PS256, PS384, PS512:
		r, _ := testRSAKeys(t)
		k, err = NewKey(r, &KeyOptions{Alg: alg, Now: now})
	case EdDSA, Ed25519:
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			t.Fatal(gerr)
		}
		k, err = NewKey(priv, &KeyOptions{Alg: alg, Now: now})
	default:
		a, _ := lookupAlg(alg)
		priv, gerr := ecdsa.GenerateKey(a.curve(), rand.Reader)
		if gerr != nil {
			t.Fatal(gerr)
		}
		k, err = NewKey(priv, &KeyOptions{Alg: alg, Now: now})
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwkMap(t testing.TB, k *Key) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(k.PublicJWK(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rawJWS builds a compact JWS from a header and claims (a map, or a string of raw JSON) and a signing
// function over the signing input; sign may be nil for an empty signature.
func rawJWS(t testing.TB, hdr, claims any, sign func([]byte) []byte) string {
	t.Helper()
	enc := func(v any) string {
		if s, ok := v.(string); ok {
			return b64([]byte(s))
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b64(j)
	}
	input := enc(hdr) + "." + enc(claims)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64(sig)
}

func keySigner(t testing.TB, k *Key) func([]byte) []byte {
	return func(in []byte) []byte {
		s, err := k.sign(in)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func stdHeader(t testing.TB, k *Key) map[string]any {
	return map[string]any{"typ": "dpop+jwt", "alg": k.Alg(), "jwk": jwkMap(t, k)}
}

func stdClaims(method, url string, iat time.Time) map[string]any {
	var j [16]byte
	_, _ = rand.Read(j[:])
	return map[string]any{"jti": b64(j[:]), "htm": method, "htu": url, "iat": iat.Unix()}
}

func mustP384(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// failingStore is a ReplayStore that cannot record anything.
type failingStore struct{}

func (failingStore) Use(context.Context, string, time.Time) error {
	return context.DeadlineExceeded
}
