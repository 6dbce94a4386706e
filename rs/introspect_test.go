package rs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
)

func (a *testAS) introspector(tb testing.TB, opts *IntrospectionOptions) *IntrospectionVerifier {
	tb.Helper()
	var o IntrospectionOptions
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = a.clock.Now
	}
	if o.Logger == nil {
		o.Logger = discardLogger()
	}
	v, err := NewIntrospectionVerifier(context.Background(), a.issuer, testResource, "rs client", "s3cr&t", &o)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// answer makes the test AS answer introspection requests for "good-token" with resp (after checking the
// client's credentials), and {"active":false} for any other token.
func (a *testAS) answer(resp map[string]any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.introspect = func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		// RFC 6749 §2.3.1: form-urlencoded inside Basic.
		if !ok || id != "rs+client" || secret != "s3cr%26t" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.PostFormValue("token") != "good-token" || r.PostFormValue("token_type_hint") != "access_token" {
			_, _ = w.Write([]byte(`{"active":false}`))
			return
		}
		_ = json.NewEncoder(w).Encode(resp)
	}
}

func (a *testAS) activeResponse() map[string]any {
	c := a.claims()
	c["active"] = true
	c["token_type"] = "Bearer"
	return c
}

func TestIntrospectionVerifier(t *testing.T) {
	a := newTestAS(t)
	v := a.introspector(t, nil)
	ctx := context.Background()
	a.answer(a.activeResponse())
	p, err := v.Verify(ctx, "good-token")
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "usr_alice" || !p.HasScope("mcp:tools") || p.OrgID != "org_acme" || p.JKT != "" {
		t.Fatalf("principal %+v", p)
	}
	// Cached for the TTL, then asked again.
	if _, err := v.Verify(ctx, "good-token"); err != nil || a.introspects.Load() != 1 {
		t.Fatalf("second call: %v, %d introspections", err, a.introspects.Load())
	}
	a.clock.Advance(DefaultIntrospectionCacheTTL)
	a.answer(map[string]any{"active": false})
	if _, err := v.Verify(ctx, "good-token"); err == nil || a.introspects.Load() != 2 {
		t.Fatalf("after the TTL: %v, %d introspections", err, a.introspects.Load())
	}
	// Inactive results are not cached.
	if _, err := v.Verify(ctx, "good-token"); err == nil || a.introspects.Load() != 3 {
		t.Fatalf("inactive was cached: %d introspections", a.introspects.Load())
	}
}

func TestIntrospectionVerifierNoCache(t *testing.T) {
	a := newTestAS(t)
	v := a.introspector(t, &IntrospectionOptions{CacheTTL: -1})
	a.answer(a.activeResponse())
	for range 3 {
		if _, err := v.Verify(context.Background(), "good-token"); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.introspects.Load(); n != 3 {
		t.Fatalf("%d introspections, want 3", n)
	}
}

func TestIntrospectionVerifierRefuses(t *testing.T) {
	a := newTestAS(t)
	now := a.clock.Now().Unix()
	for _, tc := range []struct {
		name   string
		mut    func(r map[string]any)
		status int
		check  string
	}{
		{"rfc7662_2.2_inactive", func(r map[string]any) { r["active"] = false }, 401, "inactive"},
		{"rfc7662_2.2_active_missing", func(r map[string]any) { delete(r, "active") }, 401, "inactive"},
		{"rfc7662_2.2_active_string", func(r map[string]any) { r["active"] = "true" }, 503, "introspection"},
		{"rfc9068_4_aud", func(r map[string]any) { r["aud"] = "https://other.example" }, 401, "aud"},
		{"aud_missing", func(r map[string]any) { delete(r, "aud") }, 401, "aud"},
		{"rfc9068_4_iss", func(r map[string]any) { r["iss"] = "https://evil.example" }, 401, "iss"},
		{"exp_passed", func(r map[string]any) { r["exp"] = now - 60 }, 401, "exp"},
		{"exp_missing", func(r map[string]any) { delete(r, "exp") }, 401, "exp"},
		{"rfc9449_6.2_dpop_without_cnf", func(r map[string]any) { r["token_type"] = "DPoP" }, 401, "cnf"},
		{"cnf_unsupported", func(r map[string]any) { r["cnf"] = map[string]string{"x5t#S256": "x"} }, 401, "cnf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := a.introspector(t, nil)
			r := a.activeResponse()
			tc.mut(r)
			a.answer(r)
			_, err := v.Verify(context.Background(), "good-token")
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status || e.reason != tc.check {
				t.Fatalf("got %v (%+v), want %d %s", err, e, tc.status, tc.check)
			}
		})
	}
	t.Run("endpoint_error_is_503", func(t *testing.T) {
		v := a.introspector(t, nil)
		a.mu.Lock()
		a.introspect = func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) }
		a.mu.Unlock()
		_, err := v.Verify(context.Background(), "good-token")
		if e := asError(err); e.Status != 503 || e.Code != CodeTemporarilyUnavailable {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("bound_token", func(t *testing.T) {
		v := a.introspector(t, nil)
		r := a.activeResponse()
		r["token_type"] = "DPoP"
		r["cnf"] = map[string]string{"jkt": "thumb"}
		a.answer(r)
		p, err := v.Verify(context.Background(), "good-token")
		if err != nil || p.JKT != "thumb" {
			t.Fatalf("%+v %v", p, err)
		}
	})
	t.Run("cache_never_beyond_exp", func(t *testing.T) {
		v := a.introspector(t, &IntrospectionOptions{CacheTTL: time.Hour})
		r := a.activeResponse()
		r["exp"] = now + 5
		a.answer(r)
		if _, err := v.Verify(context.Background(), "good-token"); err != nil {
			t.Fatal(err)
		}
		a.answer(map[string]any{"active": false})
		a.clock.Advance(5 * time.Second)
		if _, err := v.Verify(context.Background(), "good-token"); err == nil {
			t.Fatal("served from the cache after exp")
		}
	})
}

func TestNewIntrospectionVerifierRefuses(t *testing.T) {
	a := newTestAS(t)
	ctx := context.Background()
	for name, f := range map[string]func() error{
		"no_secret": func() error {
			_, err := NewIntrospectionVerifier(ctx, a.issuer, testResource, "id", "", nil)
			return err
		},
		"endpoint_http_remote": func() error {
			_, err := NewIntrospectionVerifier(ctx, a.issuer, testResource, "id", "s", &IntrospectionOptions{Endpoint: "http://as.example/introspect"})
			return err
		},
		"issuer_mismatch": func() error {
			_, err := NewIntrospectionVerifier(ctx, a.issuer+"/x", testResource, "id", "s", nil)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			if f() == nil {
				t.Fatal("accepted")
			}
		})
	}
}
