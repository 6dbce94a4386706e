// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary proofs to the Verifier: it must never panic, and must either verify or fail
// with an *Error. Seeds are valid proofs for every algorithm and a few broken ones.
func FuzzVerify(f *testing.F) {
	now := fixedClock(testNow)
	for _, alg := range []string{ES256, ES384, ES512, EdDSA, RS256, PS256} {
		k := mustKey(f, alg, now)
		p, err := k.Proof("POST", tURL, tToken, "")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p)
	}
	k := mustKey(f, ES256, now)
	p, _ := k.Proof("POST", tURL, "", "")
	parts := strings.Split(p, ".")
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + "..")
	f.Add("..")
	f.Add("")
	f.Add("a.b.c")
	f.Add(b64([]byte(`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"","y":""}}`)) + "." + parts[1] + "." + parts[2])
	f.Add(b64([]byte(`{"typ":"dpop+jwt","alg":"RS256","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}`)) + "." + parts[1] + ".AAAA")
	f.Add(b64([]byte(`{"typ":"dpop+jwt","alg":"EdDSA","jwk":{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}`)) + "." + parts[1] + "." + parts[2])
	f.Add(b64([]byte(`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"\u0041","y":[1,{"a":[]}],"d":null}}`)) + "." + b64([]byte(`{"iat":1e999,"jti":"\ud83d\ude00"}`)) + "." + parts[2])

	v, err := NewVerifier(&VerifierOptions{Now: now, AllowedAlgs: SupportedAlgs()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, proof string) {
		got, err := v.Verify(context.Background(), []string{proof}, "POST", tURL, tToken)
		if err == nil {
			if got == nil || got.JKT == "" || got.JTI == "" {
				t.Fatalf("verified without a full proof: %+v", got)
			}
			return
		}
		var de *Error
		if !errors.As(err, &de) || de.Check == 0 || de.Code == "" || got != nil {
			t.Fatalf("bad failure: %v", err)
		}
	})
}

// FuzzParseChallenge: ParseChallenges never panics, and whatever it parses formats back to itself.
func FuzzParseChallenge(f *testing.F) {
	for _, s := range []string{
		`DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`,
		`Bearer realm="mcp", error="invalid_token", DPoP algs="ES256 EdDSA", error="use_dpop_nonce"`,
		`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`,
		`Negotiate abc==, DPoP error=use_dpop_nonce`,
		`Basic, , Bearer`,
		`DPoP error="a\\b\"c", x=""`,
		`DPoP error="unterminated`,
		"DPoP x=\"\xff\t\"",
		`Bearer resource_metadata="https://rs.example.com/.well-known/oauth-protected-resource/mcp", scope="a b"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		cs, err := ParseChallenges(h)
		if err != nil {
			return
		}
		for _, c := range cs {
			if c.Scheme == "" {
				t.Fatalf("empty scheme from %q", h)
			}
			again, err := ParseChallenges(c.String())
			if err != nil || len(again) != 1 || again[0].Scheme != c.Scheme || again[0].Token68 != c.Token68 || len(again[0].Params) != len(c.Params) {
				t.Fatalf("%q: %q does not round-trip: %#v %v", h, c.String(), again, err)
			}
			for k, v := range c.Params {
				if again[0].Params[k] != v {
					t.Fatalf("%q: param %s = %q after round trip, want %q", h, k, again[0].Params[k], v)
				}
			}
		}
	})
}

// FuzzJSONReader differential-tests the strict JSON reader against encoding/json.
func FuzzJSONReader(f *testing.F) {
	for _, s := range []string{
		`{"jti":"a","htm":"GET","htu":"https://x/","iat":1700000000}`,
		` { "jti" : "a\u0062\"" , "iat" : 1.5e3 , "other" : [ {}, [], null, true, false, -0.1E-2, "s" ] } `,
		`{"jti":"\ud83d\ude00","nonce":"n","ath":"x"}`,
		`{"a":1,"a":2}`,
		`{"iat":01}`,
		"{\"jti\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkJSONReaderAgainstStdlib(t, data)
		_, _, _, _ = readHeader(data)
	})
}

// FuzzNormalizeHTU: normalization never panics and is idempotent.
func FuzzNormalizeHTU(f *testing.F) {
	for _, s := range []string{"https://A.example:443/a/./b/../%7e?q#f", "http://[::1]:80", "https://x/%2e%2E/..", "https://u@x/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := appendNormalizedHTU(nil, s)
		if !ok {
			return
		}
		again, ok := appendNormalizedHTU(nil, string(n))
		if !ok || string(again) != string(n) {
			t.Fatalf("%q → %q → %q (%v)", s, n, again, ok)
		}
	})
}

// FuzzVerifySignedClaims signs fuzzed header and claims JSON with a real key, so the fuzzer reaches the
// checks after the signature (FuzzVerify's random proofs rarely get past it).
func FuzzVerifySignedClaims(f *testing.F) {
	now := fixedClock(testNow)
	k := mustKey(f, ES256, now)
	hdr := `{"typ":"dpop+jwt","alg":"ES256","jwk":` + string(k.PublicJWK()) + `}`
	f.Add(hdr, `{"jti":"a","htm":"POST","htu":"`+tURL+`","iat":1700000000,"ath":"`+tAth(tToken)+`"}`)
	f.Add(hdr, `{"jti":"a","htm":"POST","htu":"HTTPS://server.example.com:443/./token?x#y","iat":1700000000.5,"nonce":"x"}`)
	f.Add(hdr, `{"jti":"","htm":"GET","htu":"https://server.example.com/token","iat":"1700000000"}`)
	f.Add(`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}`, `{}`)
	f.Fuzz(func(t *testing.T, header, claims string) {
		v, err := NewVerifier(&VerifierOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		proof := rawJWS(t, header, claims, keySigner(t, k))
		got, err := v.Verify(context.Background(), []string{proof}, "POST", tURL, tToken)
		if err == nil {
			if got == nil || got.JKT != k.Thumbprint() || got.JTI == "" || got.ATH == "" {
				t.Fatalf("verified without a full proof: %+v", got)
			}
			return
		}
		var de *Error
		if !errors.As(err, &de) || de.Check == 0 || got != nil {
			t.Fatalf("bad failure: %v", err)
		}
	})
}
