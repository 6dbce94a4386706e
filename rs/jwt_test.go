package rs

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestJWTVerifierAccepts(t *testing.T) {
	a := newTestAS(t)
	for _, alg := range []string{"ES256", "EdDSA", "RS256", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			a.publish(newTestKey(t, "k-"+alg, alg))
			v := a.verifier(t, nil)
			tok := a.token(nil)
			p, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != "usr_alice" || p.ClientID != "demo-cli" || p.OrgID != "org_acme" || !p.HasScope("mcp:tools") ||
				len(p.Connections) != 1 || p.Connections[0] != "conn_github" || p.UserDelegations != nil || p.JKT != "" ||
				!p.Expiry.Equal(a.clock.Now().Add(600*time.Second)) || p.Audience != testResource || p.Issuer != a.issuer {
				t.Fatalf("principal %+v", p)
			}
			if c := p.Claims(); c["org_id"] != "org_acme" {
				t.Fatalf("claims %v", c)
			}
		})
	}
}

// TestJWTVerifierRefuses covers every RFC 9068 §4 check; each case names the clause or the attack.
func TestJWTVerifierRefuses(t *testing.T) {
	a := newTestAS(t)
	v := a.verifier(t, &JWTOptions{AllowedAlgs: []string{"ES256", "ES384", "EdDSA", "RS256", "PS256"}})
	k := a.key()
	pubDER, err := x509.MarshalPKIXPublicKey(k.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	now := a.clock.Now().Unix()
	tok := func(mut func(h, c map[string]any)) func() string {
		return func() string { return a.token(mut) }
	}
	for _, tc := range []struct {
		name  string
		token func() string
		check string
	}{
		{"rfc9068_typ", tok(func(h, _ map[string]any) { h["typ"] = "JWT" }), "typ"},
		{"rfc9068_typ_missing", tok(func(h, _ map[string]any) { delete(h, "typ") }), "typ"},
		{"rfc9068_typ_dpop", tok(func(h, _ map[string]any) { h["typ"] = "dpop+jwt" }), "typ"},
		{"alg_none", func() string {
			h, c := a.header(k), a.claims()
			h["alg"] = "none"
			return signJWS(t, k.signer, "none", h, c)
		}, "alg"},
		{"hs256_with_public_key", func() string {
			// The algorithm-confusion forgery: an HMAC keyed with the (public) verification key.
			h, c := a.header(k), a.claims()
			h["alg"] = "HS256"
			hb, _ := jsonMarshal(h)
			cb, _ := jsonMarshal(c)
			input := enc(hb) + "." + enc(cb)
			mac := hmac.New(sha256.New, pubDER)
			mac.Write([]byte(input))
			return input + "." + enc(mac.Sum(nil))
		}, "alg"},
		{"alg_not_allowed", func() string {
			h, c := a.header(k), a.claims()
			h["alg"] = "ES512"
			return signJWS(t, k.signer, "ES256", h, c)
		}, "alg"},
		{"alg_key_mismatch", func() string {
			// ES384 is allowed here, but k1 is a P-256 key published for ES256.
			h, c := a.header(k), a.claims()
			h["alg"] = "ES384"
			return signJWS(t, newTestKey(t, "x", "ES384").signer, "ES384", h, c)
		}, "alg_key"},
		{"kid_unknown", tok(func(h, _ map[string]any) { h["kid"] = "k-unknown" }), "kid_unknown"},
		{"rfc7515_5.2_signature", func() string {
			s := a.token(nil)
			parts := strings.Split(s, ".")
			c := a.claims()
			c["scope"] = "mcp:tools mcp:admin"
			cb, _ := jsonMarshal(c)
			return parts[0] + "." + enc(cb) + "." + parts[2]
		}, "signature"},
		{"rfc7518_3.4_signature_der", func() string {
			s := a.token(nil)
			return s[:strings.LastIndexByte(s, '.')+1] + enc([]byte{0x30, 0x44, 0x02, 0x20})
		}, "signature"},
		{"rfc7515_4.1.11_crit", tok(func(h, _ map[string]any) { h["crit"] = []string{"exp"}; h["exp"] = 1 }), "crit"},
		{"jwe_five_parts", func() string { return "a.b.c.d.e" }, "malformed"},
		{"two_parts", func() string { return "eyJhbGciOiJFUzI1NiJ9.e30" }, "malformed"},
		{"not_base64url", func() string { s := a.token(nil); return s[:10] + "+" + s[11:] }, "malformed"},
		{"padding", func() string { s := a.token(nil); return s + "==" }, "malformed"},
		{"header_not_json", func() string { return enc([]byte("alg")) + ".e30.AA" }, "malformed"},
		{"claims_not_json", func() string {
			h := a.header(k)
			hb, _ := jsonMarshal(h)
			input := enc(hb) + "." + enc([]byte("{not json"))
			return input + "." + enc(rawSign(t, k.signer, "ES256", input))
		}, "malformed"},
		{"claims_wrong_type", tok(func(_, c map[string]any) { c["scope"] = 7 }), "claims"},
		{"rfc9068_4_iss", tok(func(_, c map[string]any) { c["iss"] = a.issuer + "/other" }), "iss"},
		{"rfc9068_4_iss_missing", tok(func(_, c map[string]any) { delete(c, "iss") }), "iss"},
		{"rfc9068_4_aud", tok(func(_, c map[string]any) { c["aud"] = "https://rs.example.com/other" }), "aud"},
		{"rfc9068_4_aud_not_canonical", tok(func(_, c map[string]any) { c["aud"] = testResource + "/" }), "aud"},
		{"rfc9068_4_aud_missing", tok(func(_, c map[string]any) { delete(c, "aud") }), "aud"},
		{"aud_several", tok(func(_, c map[string]any) { c["aud"] = []string{testResource, "https://other.example"} }), "aud"},
		{"rfc9068_4_exp", tok(func(_, c map[string]any) { c["exp"] = now - 31 }), "exp"},
		{"rfc9068_2.2_exp_missing", tok(func(_, c map[string]any) { delete(c, "exp") }), "exp"},
		{"rfc7519_4.1.5_nbf", tok(func(_, c map[string]any) { c["nbf"] = now + 31 }), "nbf"},
		{"iat_future", tok(func(_, c map[string]any) { c["iat"] = now + 31 }), "iat"},
		{"rfc9068_2.2_iat_missing", tok(func(_, c map[string]any) { delete(c, "iat") }), "iat"},
		{"rfc9068_2.2_jti_missing", tok(func(_, c map[string]any) { delete(c, "jti") }), "jti"},
		{"rfc9068_2.2_sub_missing", tok(func(_, c map[string]any) { delete(c, "sub") }), "sub"},
		{"rfc9068_2.2_client_id_missing", tok(func(_, c map[string]any) { delete(c, "client_id") }), "client_id"},
		{"rfc7800_cnf_x5t", tok(func(_, c map[string]any) { c["cnf"] = map[string]string{"x5t#S256": "abc"} }), "cnf"},
		{"rfc9449_6.1_cnf_jkt_empty", tok(func(_, c map[string]any) { c["cnf"] = map[string]string{"jkt": ""} }), "cnf"},
		{"cnf_jkt_not_string", tok(func(_, c map[string]any) { c["cnf"] = map[string]any{"jkt": 1} }), "cnf"},
		{"too_large", func() string { return strings.Repeat("a", maxTokenSize+1) }, "token_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.token())
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify: %v, want an *Error", err)
			}
			if e.Status != http.StatusUnauthorized || e.Code != CodeInvalidToken || e.reason != tc.check {
				t.Fatalf("got %d %s check %q (%v), want 401 invalid_token check %q", e.Status, e.Code, e.reason, err, tc.check)
			}
		})
	}
	if n := v.cache.len(); n != 0 {
		t.Fatalf("refused tokens were cached: %d entries", n)
	}
}

func TestJWTVerifierSkew(t *testing.T) {
	a := newTestAS(t)
	v := a.verifier(t, &JWTOptions{CacheSize: -1})
	now := a.clock.Now().Unix()
	for name, c := range map[string]map[string]any{
		"exp_within_skew": {"exp": now - 29},
		"nbf_within_skew": {"nbf": now + 29},
		"iat_within_skew": {"iat": now + 29},
		"aud_array":       {"aud": []string{testResource}},
		"typ_application": {"typ": "application/AT+JWT"},
	} {
		t.Run(name, func(t *testing.T) {
			tok := a.token(func(h, cl map[string]any) {
				for k, val := range c {
					if k == "typ" {
						h[k] = val
					} else {
						cl[k] = val
					}
				}
			})
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestJWTVerifierCache(t *testing.T) {
	a := newTestAS(t)
	v := a.verifier(t, &JWTOptions{CacheSize: 2})
	ctx := context.Background()
	tok := a.token(func(_, c map[string]any) { c["exp"] = a.clock.Now().Unix() + 60 })
	p1, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := v.Verify(ctx, tok)
	if err != nil || p2 != p1 {
		t.Fatalf("second verification did not come from the cache: %p %p %v", p1, p2, err)
	}
	// The entry ends at exp; within the skew the token is still accepted, but verified again.
	a.clock.Advance(61 * time.Second)
	p3, err := v.Verify(ctx, tok)
	if err != nil || p3 == p1 {
		t.Fatalf("after exp: %p %v, want a fresh verification", p3, err)
	}
	a.clock.Advance(30 * time.Second)
	if _, err := v.Verify(ctx, tok); err == nil {
		t.Fatal("an expired token was accepted")
	}
	// Bounded.
	for range 5 {
		if _, err := v.Verify(ctx, a.token(nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.cache.len(); n > 2 {
		t.Fatalf("cache holds %d entries, bound 2", n)
	}
}

func TestJWTVerifierKeyRotation(t *testing.T) {
	a := newTestAS(t)
	v := a.verifier(t, nil)
	ctx := context.Background()
	old := a.key()
	oldTok := a.token(nil)
	if _, err := v.Verify(ctx, oldTok); err != nil {
		t.Fatal(err)
	}
	if n := a.jwksFetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches, want 1", n)
	}
	// A new key appears: the first token signed with it refetches the set (after the interval).
	k2 := newTestKey(t, "k2", "ES256")
	a.publish(k2, old)
	a.clock.Advance(DefaultKeySetRefreshInterval)
	newTok := a.token(nil)
	var wg sync.WaitGroup
	for range 8 { // concurrent misses share one fetch
		wg.Go(func() {
			if _, err := v.Verify(ctx, newTok); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := a.jwksFetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches, want 2", n)
	}
	// Unknown kids within the interval do not refetch.
	for range 5 {
		tok := a.token(func(h, _ map[string]any) { h["kid"] = "nope" })
		if _, err := v.Verify(ctx, tok); err == nil {
			t.Fatal("unknown kid accepted")
		}
	}
	if n := a.jwksFetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches, want 2 (rate limit)", n)
	}
	// The issuer withdraws the old key: once the set is stale, it is refetched and the old key's tokens,
	// cached ones included, are refused.
	a.publish(k2)
	a.clock.Advance(DefaultKeySetMaxAge)
	if _, err := v.Verify(ctx, a.token(nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, oldTok); err == nil {
		t.Fatal("a token signed by a withdrawn key was accepted")
	}
}

func TestJWTVerifierKeySets(t *testing.T) {
	a := newTestAS(t)
	es := newTestKey(t, "", "ES256")
	ctx := context.Background()
	// A single key without kid verifies tokens without kid.
	a.publish(es)
	v := a.verifier(t, nil)
	if _, err := v.Verify(ctx, a.token(func(h, _ map[string]any) { delete(h, "kid") })); err != nil {
		t.Fatal(err)
	}
	// With several keys, a token must name its key.
	a.publish(newTestKey(t, "a", "ES256"), newTestKey(t, "b", "ES256"))
	v = a.verifier(t, nil)
	_, err := v.Verify(ctx, a.token(func(h, _ map[string]any) { delete(h, "kid") }))
	if e := asError(err); e.reason != "kid_unknown" {
		t.Fatalf("got %v", err)
	}
}

func TestParseKeySet(t *testing.T) {
	a := newTestAS(t)
	good := newTestKey(t, "good", "ES256").jwk(t)
	encKey := newTestKey(t, "enc", "ES256").jwk(t)
	encKey["use"] = "enc"
	priv := map[string]any{"kty": "EC", "crv": "P-256", "kid": "priv", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM", "d": "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"}
	weird := map[string]any{"kty": "XYZ", "kid": "weird"}
	hs := map[string]any{"kty": "oct", "kid": "hs", "k": "c2VjcmV0"}
	smallRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	small := map[string]any{"kty": "RSA", "kid": "small", "n": enc(smallRSA.N.Bytes()), "e": "AQAB"}
	dupA := newTestKey(t, "dup", "ES256").jwk(t)
	dupB := newTestKey(t, "dup", "ES256").jwk(t)
	body, _ := jsonMarshal(map[string]any{"keys": []any{good, encKey, priv, weird, hs, small, dupA, dupB}})
	keys, err := parseKeySet(body, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys["good"] == nil {
		var kids []string
		for k := range keys {
			kids = append(kids, k)
		}
		t.Fatalf("kept %v, want only good", kids)
	}
	for _, bad := range []string{`{"keys":[]}`, `{}`, `[`, `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`} {
		if _, err := parseKeySet([]byte(bad), discardLogger()); err == nil {
			t.Errorf("parseKeySet(%s) succeeded", bad)
		}
	}
	_ = a
}

func TestNewJWTVerifierRefuses(t *testing.T) {
	a := newTestAS(t)
	ctx := context.Background()
	for name, f := range map[string]func() error{
		"issuer_http_remote": func() error {
			_, err := NewJWTVerifier(ctx, "http://as.example.com", testResource, nil)
			return err
		},
		"issuer_query": func() error { _, err := NewJWTVerifier(ctx, a.issuer+"?x=1", testResource, nil); return err },
		"issuer_trailing_slash_rfc8414_3.3": func() error {
			_, err := NewJWTVerifier(ctx, a.issuer+"/", testResource, nil)
			return err
		},
		"resource_relative": func() error { _, err := NewJWTVerifier(ctx, a.issuer, "/api", nil); return err },
		"alg_hs256": func() error {
			_, err := NewJWTVerifier(ctx, a.issuer, testResource, &JWTOptions{AllowedAlgs: []string{"HS256"}})
			return err
		},
		"alg_none": func() error {
			_, err := NewJWTVerifier(ctx, a.issuer, testResource, &JWTOptions{AllowedAlgs: []string{"none"}})
			return err
		},
		"skew_negative": func() error { _, err := NewJWTVerifier(ctx, a.issuer, testResource, &JWTOptions{Skew: -1}); return err },
		"skew_huge": func() error {
			_, err := NewJWTVerifier(ctx, a.issuer, testResource, &JWTOptions{Skew: time.Hour})
			return err
		},
		"jwks_http_remote": func() error {
			_, err := NewJWTVerifier(ctx, a.issuer, testResource, &JWTOptions{JWKSURI: "http://as.example.com/jwks"})
			return err
		},
		"jwks_unreachable": func() error {
			_, err := NewJWTVerifier(ctx, a.issuer, testResource, &JWTOptions{JWKSURI: a.issuer + "/nope", Logger: discardLogger()})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			if err := f(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
