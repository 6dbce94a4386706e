package rs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ddls/mcpauth/dpop"
)

// FuzzMiddlewareHeaders sends arbitrary Authorization and DPoP headers through the middleware: it must
// answer 200 only for the real token and proof, never panic, and every challenge must parse.
func FuzzMiddlewareHeaders(f *testing.F) {
	e := newMWEnv(f, nil)
	key := e.a.dpopKey(f)
	bound := e.a.boundToken(key)
	bearer := e.a.token(nil)
	f.Add("Bearer "+bearer, "")
	f.Add("DPoP "+bound, proof(f, key, "GET", helloURL, bound, ""))
	f.Add("DPoP "+bound, "a.b.c")
	f.Add("Bearer "+bound, "")
	f.Add("DPoP x", "")
	f.Add("Basic x", "")
	f.Fuzz(func(t *testing.T, authz, proofHdr string) {
		r := httptest.NewRequest(http.MethodGet, helloURL, nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if proofHdr != "" {
			r.Header.Set("DPoP", proofHdr)
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, r)
		switch rec.Code {
		case 200:
			if authz != "Bearer "+bearer && !strings.HasSuffix(authz, bound) {
				t.Fatalf("accepted Authorization %q", authz)
			}
			return
		case 400, 401, 403:
		default:
			t.Fatalf("status %d", rec.Code)
		}
		if _, err := dpop.ParseChallenges(rec.Header().Get("WWW-Authenticate")); err != nil {
			t.Fatalf("challenge %q: %v", rec.Header().Get("WWW-Authenticate"), err)
		}
	})
}

// FuzzVerifyToken feeds arbitrary tokens to the JWT verifier: only the genuine token passes.
func FuzzVerifyToken(f *testing.F) {
	a := newTestAS(f)
	v := a.verifier(f, &JWTOptions{CacheSize: -1})
	good := a.token(nil)
	f.Add(good)
	f.Add(a.token(func(h, _ map[string]any) { h["alg"] = "none" }))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(good[:len(good)-2])
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(context.Background(), token)
		if err == nil && (token != good || p == nil) {
			t.Fatalf("accepted %q", token)
		}
		if err != nil {
			if e := asError(err); e.Code != CodeInvalidToken {
				t.Fatalf("code %q", e.Code)
			}
		}
	})
}
