// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Proofs made by our client side verify, for every supported algorithm.
func TestProofRoundTrip(t *testing.T) {
	ctx := context.Background()
	v, err := NewVerifier(&VerifierOptions{AllowedAlgs: SupportedAlgs(), Now: fixedClock(testNow)})
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range SupportedAlgs() {
		t.Run(alg, func(t *testing.T) {
			k := mustKey(t, alg, fixedClock(testNow))
			if k.Alg() != alg {
				t.Fatalf("alg %s", k.Alg())
			}
			p, err := k.Proof("GET", "https://rs.example.com/mcp?x=1#y", tToken, "n0nce")
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.VerifyBound(ctx, []string{p}, "GET", "https://rs.example.com/mcp", tToken, k.Thumbprint())
			if err != nil {
				t.Fatal(err)
			}
			if got.HTU != "https://rs.example.com/mcp" || got.ATH != tAth(tToken) || got.Nonce != "n0nce" ||
				got.Alg != alg || !got.IAT.Equal(testNow) || len(got.JTI) != 22 {
				t.Fatalf("proof %+v", got)
			}
			// The header carries the public key only.
			hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(p, ".")[0])
			for _, m := range []string{`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`} {
				if strings.Contains(string(hdr), m) {
					t.Fatalf("private member %s in header %s", m, hdr)
				}
			}
			// Two proofs never share a jti.
			p2, _ := k.Proof("GET", "https://rs.example.com/mcp", tToken, "")
			if p2 == p {
				t.Fatal("identical proofs")
			}
		})
	}
}

// GenerateKey covers the default and the RSA path (once: RSA key generation is slow).
func TestGenerateKey(t *testing.T) {
	for _, alg := range []string{"", ES256, EdDSA, PS256} {
		k, err := GenerateKey(alg)
		if err != nil {
			t.Fatal(alg, err)
		}
		if alg == "" && k.Alg() != ES256 {
			t.Fatalf("default alg %s", k.Alg())
		}
		if _, err := k.Proof("POST", tURL, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, alg := range []string{"none", "HS256", "ES256K", "es256"} {
		if _, err := GenerateKey(alg); err == nil {
			t.Errorf("GenerateKey(%q) succeeded", alg)
		}
	}
}

func TestNewKeyErrors(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	r2048, r1024 := testRSAKeys(t)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	for name, tc := range map[string]struct {
		s   crypto.Signer
		alg string
	}{
		"nil":              {nil, ""},
		"p256_as_es384":    {ec, ES384},
		"p256_as_rs256":    {ec, RS256},
		"p224":             {p224, ""},
		"ed25519_as_es256": {ed, ES256},
		"rsa_as_eddsa":     {r2048, EdDSA},
		"rsa_1024":         {r1024, RS256},
		"rsa_unknown_alg":  {r2048, "RS1"},
	} {
		if _, err := NewKey(tc.s, &KeyOptions{Alg: tc.alg}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	k, err := NewKey(r2048, nil)
	if err != nil || k.Alg() != PS256 {
		t.Fatalf("RSA default: %v %v", k, err)
	}
	if _, err := k.Proof("", tURL, "", ""); err == nil {
		t.Error("empty method accepted")
	}
	if k.Signer() != crypto.Signer(r2048) {
		t.Error("Signer")
	}
}

// Independent code path: jwx signs a proof and computes the thumbprint; our Verifier must agree.
func TestVerifyProofMadeByJWX(t *testing.T) {
	r2048, _ := testRSAKeys(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		priv any
		alg  jwa.SignatureAlgorithm
	}{
		{"ES256", ec, jwa.ES256()},
		{"EdDSA", ed, jwa.EdDSA()},
		{"RS256", r2048, jwa.RS256()},
		{"PS256", r2048, jwa.PS256()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, err := jwk.PublicKeyOf(tc.priv)
			if err != nil {
				t.Fatal(err)
			}
			hdrs := jws.NewHeaders()
			if err := hdrs.Set(jws.TypeKey, "dpop+jwt"); err != nil {
				t.Fatal(err)
			}
			if err := hdrs.Set(jws.JWKKey, pub); err != nil {
				t.Fatal(err)
			}
			claims, _ := json.Marshal(map[string]any{"jti": "jwx-1", "htm": "PUT", "htu": "https://rs.example.com/a/b",
				"iat": testNow.Unix(), "ath": tAth(tToken)})
			proof, err := jws.Sign(claims, jws.WithKey(tc.alg, tc.priv, jws.WithProtectedHeaders(hdrs)))
			if err != nil {
				t.Fatal(err)
			}
			tp, err := pub.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			wantJKT := base64.RawURLEncoding.EncodeToString(tp)
			v, _ := NewVerifier(&VerifierOptions{Now: fixedClock(testNow)})
			got, err := v.VerifyBound(context.Background(), []string{string(proof)}, "PUT", "https://rs.example.com/a/b", tToken, wantJKT)
			if err != nil {
				t.Fatal(err)
			}
			if got.JKT != wantJKT || got.JTI != "jwx-1" {
				t.Fatalf("%+v", got)
			}
		})
	}
}

// jwx verifies proofs made by our client side, and computes the same thumbprint.
func TestJWXVerifiesOurProofs(t *testing.T) {
	for _, alg := range []string{ES256, ES384, ES512, EdDSA, RS256, PS256, PS512} {
		t.Run(alg, func(t *testing.T) {
			k := mustKey(t, alg, time.Now)
			p, err := k.Proof("GET", "https://rs.example.com/", "", "")
			if err != nil {
				t.Fatal(err)
			}
			pub, err := jwk.ParseKey(k.PublicJWK())
			if err != nil {
				t.Fatal(err)
			}
			a, ok := jwa.LookupSignatureAlgorithm(alg)
			if !ok {
				t.Fatal("jwx alg", alg)
			}
			if _, err := jws.Verify([]byte(p), jws.WithKey(a, pub)); err != nil {
				t.Fatal(err)
			}
			tp, _ := pub.Thumbprint(crypto.SHA256)
			if base64.RawURLEncoding.EncodeToString(tp) != k.Thumbprint() {
				t.Fatal("thumbprint differs from jwx")
			}
		})
	}
}
