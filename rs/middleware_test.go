package rs

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ddls/mcpauth/dpop"
)

const helloURL = testResource + "/hello"

type mwEnv struct {
	a   *testAS
	v   *JWTVerifier
	m   *Middleware
	log *recordingHandler
	h   http.Handler
}

func newMWEnv(t testing.TB, opts *Options) *mwEnv {
	t.Helper()
	a := newTestAS(t)
	e := &mwEnv{a: a, v: a.verifier(t, nil), log: &recordingHandler{}}
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Logger = slog.New(e.log)
	if o.DPoP == nil {
		o.DPoP = &dpop.VerifierOptions{}
	}
	o.DPoP.Now = a.clock.Now
	m, err := New(e.v, &o)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	mux := http.NewServeMux()
	mux.Handle("GET /api/hello", m.Require("mcp:tools")(okHandler))
	mux.Handle("GET /api/admin", m.Require("mcp:admin", "mcp:tools")(okHandler))
	mux.Handle("POST /api/any", m.Handler(okHandler))
	e.h = mux
	return e
}

func (e *mwEnv) do(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	return rec
}

func get(url string, hdr ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

// proof makes a DPoP proof by key for method and url bound to token.
func proof(t testing.TB, key *dpop.Key, method, url, token, nonce string) string {
	t.Helper()
	p, err := key.Proof(method, url, token, nonce)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// want describes a refusal.
type want struct {
	status int
	code   string // "" for a missing token
	scheme string // the challenge carrying the error ("" when none, "*" on all)
	scope  string
	check  string
}

// checkRefusal checks status, headers, challenges and body of a refusal.
func checkRefusal(t *testing.T, e *mwEnv, rec *httptest.ResponseRecorder, w want) {
	t.Helper()
	if rec.Code != w.status {
		t.Fatalf("status %d, want %d; body %s; WWW-Authenticate %s", rec.Code, w.status, rec.Body, rec.Header().Get("WWW-Authenticate"))
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if body["error"] != w.code {
		t.Errorf("body error %q, want %q", body["error"], w.code)
	}
	if w.code != "" && body["error_description"] == "" {
		t.Errorf("body has no error_description: %s", rec.Body)
	}
	if got := e.log.last(); got != w.check {
		t.Errorf("logged check %q, want %q", got, w.check)
	}
	if w.status >= 500 {
		return
	}
	hdr := rec.Header().Get("WWW-Authenticate")
	chs, err := dpop.ParseChallenges(hdr)
	if err != nil {
		t.Fatalf("WWW-Authenticate %q does not parse: %v", hdr, err)
	}
	wantSchemes := []string{"Bearer", "DPoP"}
	if e.m.requireDPoP {
		wantSchemes = []string{"DPoP"}
	}
	if len(chs) != len(wantSchemes) {
		t.Fatalf("challenges %q, want %v", hdr, wantSchemes)
	}
	for i, c := range chs {
		if c.Scheme != wantSchemes[i] {
			t.Fatalf("challenge %d is %s, want %s (%s)", i, c.Scheme, wantSchemes[i], hdr)
		}
		// RFC 9728 §5.1: every challenge names the metadata.
		if c.Params["resource_metadata"] != "https://rs.example.com/.well-known/oauth-protected-resource/api" {
			t.Errorf("%s resource_metadata %q", c.Scheme, c.Params["resource_metadata"])
		}
		// RFC 9449 §7.1: algs on the DPoP challenge.
		if c.Scheme == "DPoP" && (c.Params["algs"] != strings.Join(e.m.dpop.AllowedAlgs(), " ") || !strings.Contains(c.Params["algs"], "ES256")) {
			t.Errorf("DPoP algs %q", c.Params["algs"])
		}
		wantErr, wantScope := "", ""
		// insufficient_scope goes on every challenge: the step-up scope holds whatever the scheme.
		if c.Scheme == w.scheme || w.scheme == "*" || w.code == CodeInsufficientScope {
			wantErr, wantScope = w.code, w.scope
		}
		if c.Params["error"] != wantErr {
			t.Errorf("%s error %q, want %q (%s)", c.Scheme, c.Params["error"], wantErr, hdr)
		}
		if c.Params["scope"] != wantScope {
			t.Errorf("%s scope %q, want %q", c.Scheme, c.Params["scope"], wantScope)
		}
		if wantErr != "" && c.Params["error_description"] == "" {
			t.Errorf("%s has no error_description", c.Scheme)
		}
		if wantErr == "" && c.Params["error_description"] != "" {
			t.Errorf("%s has an error_description without error", c.Scheme)
		}
	}
}

func TestMiddlewareAccepts(t *testing.T) {
	e := newMWEnv(t, nil)
	key := e.a.dpopKey(t)
	bearer := e.a.token(nil)
	bound := e.a.boundToken(key)
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		want string
	}{
		{"rfc6750_2.1_bearer", func() *http.Request { return get(helloURL, "Authorization", "Bearer "+bearer) }, "usr_alice  mcp:tools,offline_access"},
		{"rfc9110_11.1_scheme_case", func() *http.Request { return get(helloURL, "Authorization", "bEARER  "+bearer) }, "usr_alice  mcp:tools,offline_access"},
		{"rfc9449_7.1_dpop", func() *http.Request {
			return get(helloURL, "Authorization", "DPoP "+bound, "DPoP", proof(t, key, "GET", helloURL, bound, ""))
		}, "usr_alice " + key.Thumbprint() + " mcp:tools,offline_access"},
		{"rfc9449_4.3_htu_ignores_query", func() *http.Request {
			return get(helloURL+"?x=1", "Authorization", "DPoP "+bound, "DPoP", proof(t, key, "GET", helloURL, bound, ""))
		}, "usr_alice " + key.Thumbprint() + " mcp:tools,offline_access"},
		{"rfc9449_4.3_htu_origin_form", func() *http.Request {
			r := get(helloURL, "Authorization", "DPoP "+bound, "DPoP", proof(t, key, "GET", helloURL, bound, ""))
			r.RequestURI = "/api/hello?q"
			return r
		}, "usr_alice " + key.Thumbprint() + " mcp:tools,offline_access"},
		{"rfc9449_7.2_unbound_bearer_with_stray_proof", func() *http.Request {
			return get(helloURL, "Authorization", "Bearer "+bearer, "DPoP", "garbage")
		}, "usr_alice  mcp:tools,offline_access"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(tc.req())
			if rec.Code != 200 || rec.Body.String() != tc.want {
				t.Fatalf("%d %q, want 200 %q (%s)", rec.Code, rec.Body, tc.want, rec.Header().Get("WWW-Authenticate"))
			}
			if rec.Header().Get("WWW-Authenticate") != "" {
				t.Fatal("a challenge on success")
			}
		})
	}
}

// TestMiddlewareRefuses covers every refusal of the middleware; each case names the clause it enforces.
func TestMiddlewareRefuses(t *testing.T) {
	e := newMWEnv(t, nil)
	key := e.a.dpopKey(t)
	other := e.a.dpopKey(t)
	bearer := e.a.token(nil)
	bound := e.a.boundToken(key)
	expired := e.a.token(func(_, c map[string]any) { c["exp"] = e.a.clock.Now().Unix() - 3600 })
	otherAud := e.a.token(func(_, c map[string]any) { c["aud"] = "https://rs.example.com/other" })
	boundOtherAud := e.a.token(func(_, c map[string]any) {
		c["aud"] = "https://rs.example.com/other"
		c["cnf"] = map[string]string{"jkt": key.Thumbprint()}
	})
	replayed := proof(t, key, "GET", helloURL, bound, "")
	if rec := e.do(get(helloURL, "Authorization", "DPoP "+bound, "DPoP", replayed)); rec.Code != 200 {
		t.Fatalf("first use of the proof: %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		want want
	}{
		{"rfc6750_3.1_no_token", func() *http.Request { return get(helloURL) }, want{401, "", "", "", "no_token"}},
		{"rfc6750_3.1_unsupported_scheme", func() *http.Request { return get(helloURL, "Authorization", "Basic dXNlcjpwdw==") }, want{401, "", "", "", "no_token"}},
		{"rfc6750_3.1_dpop_header_only", func() *http.Request {
			return get(helloURL, "DPoP", proof(t, key, "GET", helloURL, "", ""))
		}, want{401, "", "", "", "no_token"}},
		{"rfc6750_3.1_two_authorization_headers", func() *http.Request {
			return get(helloURL, "Authorization", "Bearer "+bearer, "Authorization", "Bearer "+bearer)
		}, want{400, "invalid_request", "*", "", "authorization_multiple"}},
		{"rfc6750_2.1_no_credentials", func() *http.Request { return get(helloURL, "Authorization", "Bearer") }, want{400, "invalid_request", "Bearer", "", "authorization_malformed"}},
		{"rfc6750_2.1_not_b64token", func() *http.Request { return get(helloURL, "Authorization", "Bearer a b") }, want{400, "invalid_request", "Bearer", "", "authorization_malformed"}},
		{"rfc6750_3.1_invalid_token", func() *http.Request { return get(helloURL, "Authorization", "Bearer abc.def.ghi") }, want{401, "invalid_token", "Bearer", "", "malformed"}},
		{"rfc6750_3.1_expired", func() *http.Request { return get(helloURL, "Authorization", "Bearer "+expired) }, want{401, "invalid_token", "Bearer", "", "exp"}},
		{"rfc9068_4_aud", func() *http.Request { return get(helloURL, "Authorization", "Bearer "+otherAud) }, want{401, "invalid_token", "Bearer", "", "aud"}},
		{"rfc9068_4_aud_dpop", func() *http.Request {
			return get(helloURL, "Authorization", "DPoP "+boundOtherAud, "DPoP", proof(t, key, "GET", helloURL, boundOtherAud, ""))
		}, want{401, "invalid_token", "DPoP", "", "aud"}},
		{"rfc6750_3.1_insufficient_scope", func() *http.Request {
			return get(testResource+"/admin", "Authorization", "Bearer "+bearer)
		}, want{403, "insufficient_scope", "Bearer", "mcp:admin mcp:tools", "scope"}},
		{"rfc6750_3.1_insufficient_scope_dpop", func() *http.Request {
			u := testResource + "/admin"
			return get(u, "Authorization", "DPoP "+bound, "DPoP", proof(t, key, "GET", u, bound, ""))
		}, want{403, "insufficient_scope", "DPoP", "mcp:admin mcp:tools", "scope"}},
		{"rfc9449_7.1_bearer_use_of_bound_token", func() *http.Request {
			return get(helloURL, "Authorization", "Bearer "+bound, "DPoP", proof(t, key, "GET", helloURL, bound, ""))
		}, want{401, "invalid_token", "Bearer", "", "bound_token_as_bearer"}},
		{"rfc9449_7.1_unbound_token_as_dpop", func() *http.Request {
			return get(helloURL, "Authorization", "DPoP "+bearer, "DPoP", proof(t, key, "GET", helloURL, bearer, ""))
		}, want{401, "invalid_token", "DPoP", "", "unbound_token_as_dpop"}},
		{"rfc9449_7.1_no_proof", func() *http.Request { return get(helloURL, "Authorization", "DPoP "+bound) }, want{401, "invalid_dpop_proof", "DPoP", "", "dpop_missing"}},
		{"rfc9449_4.3_two_proofs", func() *http.Request {
			p := proof(t, key, "GET", helloURL, bound, "")
			return get(helloURL, "Authorization", "DPoP "+bound, "DPoP", p, "DPoP", p)
		}, want{401, "invalid_dpop_proof", "DPoP", "", "dpop_multiple_headers"}},
		{"rfc9449_4.3_htm", func() *http.Request {
			return get(helloURL, "Authorization", "DPoP "+bound, "DPoP", proof(t, key, "POST", helloURL, bound, ""))
		}, want{401, "invalid_dpop_proof", "DPoP", "", "dpop_htm"}},
		{"rfc9449_4.3_htu", func() *http.Request {
			return get(helloURL, "Authorization", "DPoP "+bound, "DPoP", proof(t, key, "GET", testResource+"/admin", bound, ""))
		}, want{401, "invalid_dpop_proof", "DPoP", "", "dpop_htu"}},
		{"rfc9449_4.3_htu_host_header", func() *http.Request {
			// The proof names the host the attacker sent in Host; htu is judged against the resource's origin.
			u := "https://evil.example/api/hello"
			return get(u, "Authorization", "DPoP "+bound, "DPoP", proof(t, key, "GET", u, bound, ""))
		}, want{401, "invalid_dpop_proof", "DPoP", "", "dpop_htu"}},
		{"rfc9449_4.3_ath", func() *http.Request {
			return get(helloURL, "Authorization", "DPoP "+bound, "DPoP", proof(t, key, "GET", helloURL, bearer, ""))
		}, want{401, "invalid_dpop_proof", "DPoP", "", "dpop_ath"}},
		{"rfc9449_4.3_ath_missing", func() *http.Request {
			return get(helloURL, "Authorization", "DPoP "+bound, "DPoP", proof(t, key, "GET", helloURL, "", ""))
		}, want{401, "invalid_dpop_proof", "DPoP", "", "dpop_ath"}},
		{"rfc9449_6.1_cnf_jkt", func() *http.Request {
			return get(helloURL, "Authorization", "DPoP "+bound, "DPoP", proof(t, other, "GET", helloURL, bound, ""))
		}, want{401, "invalid_dpop_proof", "DPoP", "", "dpop_jkt"}},
		{"rfc9449_11.1_replay", func() *http.Request {
			return get(helloURL, "Authorization", "DPoP "+bound, "DPoP", replayed)
		}, want{401, "invalid_dpop_proof", "DPoP", "", "dpop_replay"}},
		{"rfc9449_4.3_malformed_proof", func() *http.Request {
			return get(helloURL, "Authorization", "DPoP "+bound, "DPoP", "a.b.c")
		}, want{401, "invalid_dpop_proof", "DPoP", "", "dpop_malformed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkRefusal(t, e, e.do(tc.req()), tc.want)
		})
	}
}

func TestMiddlewareRequireDPoP(t *testing.T) {
	e := newMWEnv(t, &Options{RequireDPoP: true})
	key := e.a.dpopKey(t)
	bound := e.a.boundToken(key)
	bearer := e.a.token(nil)
	t.Run("rfc9449_7.2_dpop_required", func(t *testing.T) {
		checkRefusal(t, e, e.do(get(helloURL, "Authorization", "Bearer "+bearer)), want{401, "invalid_token", "DPoP", "", "dpop_required"})
	})
	t.Run("rfc9449_7.2_dpop_required_bound_as_bearer", func(t *testing.T) {
		checkRefusal(t, e, e.do(get(helloURL, "Authorization", "Bearer "+bound)), want{401, "invalid_token", "DPoP", "", "dpop_required"})
	})
	t.Run("rfc6750_3.1_no_token", func(t *testing.T) {
		checkRefusal(t, e, e.do(get(helloURL)), want{401, "", "", "", "no_token"})
	})
	t.Run("dpop_ok", func(t *testing.T) {
		rec := e.do(get(helloURL, "Authorization", "DPoP "+bound, "DPoP", proof(t, key, "GET", helloURL, bound, "")))
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	md := e.m.Metadata()
	if !md.DPoPBoundAccessTokensRequired || md.Resource != testResource || md.AuthorizationServers[0] != e.a.issuer {
		t.Fatalf("metadata %+v", md)
	}
}

func TestMiddlewareNonces(t *testing.T) {
	a := newTestAS(t)
	ns, err := dpop.NewNonceSource([][]byte{make([]byte, 32)}, &dpop.NonceOptions{Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := newMWEnv(t, &Options{DPoP: &dpop.VerifierOptions{Nonces: ns}})
	key := e.a.dpopKey(t)
	bound := e.a.boundToken(key)
	// RFC 9449 §9: without the nonce, use_dpop_nonce and a DPoP-Nonce header.
	rec := e.do(get(helloURL, "Authorization", "DPoP "+bound, "DPoP", proof(t, key, "GET", helloURL, bound, "")))
	checkRefusal(t, e, rec, want{401, "use_dpop_nonce", "DPoP", "", "dpop_nonce"})
	nonce := rec.Header().Get("DPoP-Nonce")
	if nonce == "" || !ns.Valid(nonce) {
		t.Fatalf("DPoP-Nonce %q", nonce)
	}
	// Every refusal carries one, even without DPoP.
	if rec := e.do(get(helloURL)); rec.Header().Get("DPoP-Nonce") == "" {
		t.Fatal("no DPoP-Nonce on a 401")
	}
	rec = e.do(get(helloURL, "Authorization", "DPoP "+bound, "DPoP", proof(t, key, "GET", helloURL, bound, nonce)))
	if rec.Code != 200 || rec.Header().Get("DPoP-Nonce") == "" {
		t.Fatalf("%d %s, DPoP-Nonce %q", rec.Code, rec.Body, rec.Header().Get("DPoP-Nonce"))
	}
}

// TestMiddlewareWithDPoPTransport drives the middleware with dpop.Transport, which must handle the nonce
// challenge by itself.
func TestMiddlewareWithDPoPTransport(t *testing.T) {
	a := newTestAS(t)
	ns, err := dpop.NewNonceSource([][]byte{make([]byte, 32)}, &dpop.NonceOptions{Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := newMWEnv(t, &Options{DPoP: &dpop.VerifierOptions{Nonces: ns}})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	key := e.a.dpopKey(t)
	bound := e.a.boundToken(key)
	c := &http.Client{Transport: &dpop.Transport{Key: key, Token: dpop.StaticToken(bound), Base: rewriteTo(srv.URL)}}
	resp, err := c.Get(helloURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// rewriteTo sends requests for testResource's origin to a local test server, keeping the URL the proof names.
func rewriteTo(base string) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r2 := r.Clone(r.Context())
		r2.URL.Scheme = "http"
		r2.URL.Host = strings.TrimPrefix(base, "http://")
		return http.DefaultTransport.RoundTrip(r2)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWriteError(t *testing.T) {
	e := newMWEnv(t, nil)
	rec := httptest.NewRecorder()
	e.m.WriteError(rec, get(helloURL, "Authorization", "Bearer x"), InsufficientScope("mcp:admin"))
	checkRefusal(t, e, rec, want{403, "insufficient_scope", "Bearer", "mcp:admin", "scope"})
}

func TestRequirePanicsOnBadScope(t *testing.T) {
	e := newMWEnv(t, nil)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	e.m.Require(`bad"scope`)
}

func TestNewRefuses(t *testing.T) {
	e := newMWEnv(t, nil)
	if _, err := New(nil, nil); err == nil {
		t.Error("nil verifier accepted")
	}
	if _, err := New(e.v, &Options{DPoP: &dpop.VerifierOptions{AllowedAlgs: []string{"HS256"}}}); err == nil {
		t.Error("HS256 proofs accepted")
	}
	if _, err := New(e.v, &Options{MetadataURL: "/relative"}); err == nil {
		t.Error("relative MetadataURL accepted")
	}
}
