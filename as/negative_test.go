package as_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ory/fosite"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ddls/mcpauth/as/store"
)

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeQuery is a valid authorization request for demo-cli; cases edit it.
func authorizeQuery(verifier string) url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {"demo-cli"},
		"redirect_uri":          {demoRedirect},
		"scope":                 {"mcp:tools"},
		"state":                 {"state-1234567"},
		"code_challenge":        {s256(verifier)},
		"code_challenge_method": {"S256"},
		"resource":              {mcpResource},
	}
}

// TestAuthorizeRefusals: errors that can be redirected come back to the client with iss and state; errors
// about the client or the redirect URI never redirect (RFC 6749 §4.1.2.1).
func TestAuthorizeRefusals(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{})
	b := e.browser()
	// A logged-in browser, so refusals are not hidden behind the login page.
	b.get(e.issuer + "/authorize?" + authorizeQuery("v-0123456789012345678901234567890123456789").Encode())
	b.login("alice", alicePW)

	cases := []struct {
		name     string
		edit     func(url.Values)
		redirect string // error code expected on the redirect; "" means an error page and no redirect
		page     int    // status of the error page
	}{
		{"rfc7636_plain_refused", func(q url.Values) {
			q.Set("code_challenge_method", "plain")
			q.Set("code_challenge", "v-0123456789012345678901234567890123456789")
		}, "invalid_request", 0},
		{"rfc7636_missing_challenge_refused", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request", 0},
		{"rfc8707_invalid_target_unknown", func(q url.Values) { q.Set("resource", "https://unknown.example.com/mcp") }, "invalid_target", 0},
		{"rfc8707_invalid_target_fragment", func(q url.Values) { q.Set("resource", mcpResource+"#frag") }, "invalid_target", 0},
		{"rfc8707_invalid_target_relative", func(q url.Values) { q.Set("resource", "/mcp") }, "invalid_target", 0},
		{"rfc8707_invalid_target_not_allowed_for_client", func(q url.Values) { q.Set("resource", apiResource) }, "invalid_target", 0},
		{"rfc8707_invalid_target_two_resources", func(q url.Values) { q.Add("resource", apiResource) }, "invalid_target", 0},
		{"rfc6749_3.3_scope_unknown_to_resource", func(q url.Values) { q.Set("scope", "mcp:tools api:read") }, "invalid_scope", 0},
		{"rfc6749_3.3_scope_not_allowed_for_client", func(q url.Values) { q.Set("scope", "mcp:tools openid") }, "invalid_scope", 0},
		{"rfc6749_4.1.1_response_type_token", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type", 0},
		{"oauth21_response_mode_fragment", func(q url.Values) { q.Set("response_mode", "fragment") }, "unsupported_response_mode", 0},
		{"rfc7636_4.2_challenge_malformed", func(q url.Values) { q.Set("code_challenge", "short") }, "invalid_request", 0},
		{"oidc_prompt_none_with_consent_needed", func(q url.Values) { q.Set("prompt", "none") }, "consent_required", 0},
		{"rfc6749_4.1.2.1_unregistered_redirect_uri", func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:9998/evil") }, "", http.StatusBadRequest},
		{"rfc6749_4.1.2.1_other_host_redirect_uri", func(q url.Values) { q.Set("redirect_uri", "https://attacker.example/callback") }, "", http.StatusBadRequest},
		{"rfc6749_4.1.2.1_unknown_client", func(q url.Values) { q.Set("client_id", "nobody") }, "", http.StatusUnauthorized},
		{"rfc6749_4.1.2.1_missing_client", func(q url.Values) { q.Del("client_id") }, "", http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := authorizeQuery("v-0123456789012345678901234567890123456789")
			c.edit(q)
			b.get(e.issuer + "/authorize?" + q.Encode())
			if c.redirect == "" {
				if b.final != nil {
					t.Fatalf("redirected to %s; must show an error page instead", b.final)
				}
				if b.status != c.page || !strings.Contains(b.body, "Something went wrong") {
					t.Fatalf("status %d, body %.200s", b.status, b.body)
				}
				return
			}
			if b.final == nil {
				t.Fatalf("no redirect; status %d body %.300s", b.status, b.body)
			}
			got := b.final.Query()
			if got.Get("error") != c.redirect || got.Get("iss") != e.issuer || got.Get("state") != "state-1234567" {
				t.Fatalf("redirect %s: want error=%s with iss and state", b.final, c.redirect)
			}
			if got.Get("code") != "" {
				t.Fatal("a code came with an error")
			}
		})
	}
}

func TestConsentDenied(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{})
	b := e.browser()
	e.authorize(b, e.demoConfig(), oauth2.GenerateVerifier())
	b.login("alice", alicePW)
	b.consent("deny", nil)
	if b.final == nil || b.final.Query().Get("error") != "access_denied" || b.final.Query().Get("iss") != e.issuer {
		t.Fatalf("deny: %v", b.final)
	}
}

func TestLoginAndConsentForms(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{})
	t.Run("wrong_password", func(t *testing.T) {
		b := e.browser()
		e.authorize(b, e.demoConfig(), oauth2.GenerateVerifier())
		b.login("alice", "wrong")
		if b.status != http.StatusUnauthorized || !strings.Contains(b.body, "Invalid username or password") {
			t.Fatalf("status %d", b.status)
		}
		b.login("nobody", "whatever") // unknown user: same answer
		if b.status != http.StatusUnauthorized || !strings.Contains(b.body, "Invalid username or password") {
			t.Fatalf("status %d", b.status)
		}
	})
	t.Run("csrf_token_missing", func(t *testing.T) {
		b := e.browser()
		e.authorize(b, e.demoConfig(), oauth2.GenerateVerifier())
		_, f := formFields(t, b.body)
		f.Del("csrf")
		f.Set("username", "alice")
		f.Set("password", alicePW)
		b.post(e.issuer+"/login", f)
		if b.status != http.StatusForbidden {
			t.Fatalf("status %d", b.status)
		}
	})
	t.Run("csrf_cross_site_request", func(t *testing.T) {
		b := e.browser()
		e.authorize(b, e.demoConfig(), oauth2.GenerateVerifier())
		_, f := formFields(t, b.body)
		f.Set("username", "alice")
		f.Set("password", alicePW)
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/login", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		b.do(req)
		if b.status != http.StatusForbidden {
			t.Fatalf("status %d", b.status)
		}
	})
	t.Run("open_redirect_refused", func(t *testing.T) {
		b := e.browser()
		for _, ret := range []string{"https://evil.example/", "//evil.example/authorize?x", "/authorize", "/metrics?x"} {
			b.get(e.issuer + "/login?" + url.Values{"return": {ret}}.Encode())
			if b.status != http.StatusBadRequest {
				t.Fatalf("return=%q: status %d", ret, b.status)
			}
		}
	})
	t.Run("consent_tampered_request_revalidated", func(t *testing.T) {
		b := e.browser()
		e.authorize(b, e.demoConfig(), oauth2.GenerateVerifier())
		b.login("alice", alicePW)
		b.consent("allow", func(f url.Values) {
			q, _ := url.ParseQuery(f.Get("authz"))
			q.Set("redirect_uri", "https://attacker.example/cb")
			f.Set("authz", q.Encode())
		})
		if b.final != nil || b.status != http.StatusBadRequest {
			t.Fatalf("tampered consent: redirect %v status %d", b.final, b.status)
		}
	})
	t.Run("consent_foreign_org_refused", func(t *testing.T) {
		b := e.browser()
		e.authorize(b, e.demoConfig(), oauth2.GenerateVerifier())
		b.login("alice", alicePW)
		b.consent("allow", func(f url.Values) { f.Set("org", "org_globex") })
		if b.final != nil || b.status != http.StatusBadRequest {
			t.Fatalf("alice chose an org she is not in: redirect %v status %d", b.final, b.status)
		}
	})
	t.Run("consent_foreign_connection_dropped", func(t *testing.T) {
		b := e.browser()
		v := oauth2.GenerateVerifier()
		conf := e.demoConfig()
		e.authorize(b, conf, v, oauth2.SetAuthURLParam("prompt", "consent"))
		b.login("alice", alicePW)
		b.consent("allow", func(f url.Values) { f["connection"] = []string{"conn_globex", "conn_api_only", "conn_github"} })
		tok, err := conf.Exchange(context.Background(), codeFrom(t, e, b.final), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		claims, _ := e.verifyAT(tok.AccessToken)
		if !equalAny(claims["ddls:connections"], "conn_github") {
			t.Fatalf("connections %v: only the org's connections for this resource may be granted", claims["ddls:connections"])
		}
	})
	t.Run("pages_are_hardened", func(t *testing.T) {
		b := e.browser()
		resp := func() *http.Response {
			e.authorize(b, e.demoConfig(), oauth2.GenerateVerifier())
			return b.get(b.e.issuer + "/login?" + url.Values{"return": {"/authorize?x=1"}}.Encode())
		}()
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("CSP %q", csp)
		}
		for _, c := range b.c.Jar.Cookies(mustURL(e.issuer)) {
			_ = c // the jar hides attributes; check the raw header instead
		}
		if sc := resp.Header.Get("Set-Cookie"); sc != "" && (!strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax")) {
			t.Fatalf("cookie %q", sc)
		}
	})
	t.Run("client_name_escaped", func(t *testing.T) {
		b := e.browser()
		e.authorize(b, e.demoConfig(), oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "consent"))
		b.login("alice", alicePW)
		if strings.Contains(b.body, "Demo <CLI>") || !strings.Contains(b.body, "Demo &lt;CLI&gt;") {
			t.Fatal("client name not escaped on the consent page")
		}
		if !strings.Contains(b.body, "127.0.0.1:9998") {
			t.Fatal("redirect host not shown")
		}
	})
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

// tokenPost sends a raw token request and returns status and the decoded body.
func tokenPost(t *testing.T, e *env, form url.Values, user, pass string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("token endpoint answered non-JSON (%d): %.200s", resp.StatusCode, body)
	}
	return resp.StatusCode, out, resp.Header
}

func TestTokenRefusals(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{})
	conf := e.demoConfig()
	ccForm := url.Values{"grant_type": {"client_credentials"}, "resource": {mcpResource}}
	with := func(v url.Values, k, val string) url.Values {
		out := url.Values{}
		for kk, vv := range v {
			out[kk] = append([]string(nil), vv...)
		}
		if val == "" {
			out.Del(k)
		} else {
			out.Set(k, val)
		}
		return out
	}
	newCode := func() (string, string) {
		v := oauth2.GenerateVerifier()
		return e.codeFor(conf, v), v
	}
	codeForm := func(code, verifier string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
			"redirect_uri": {demoRedirect}, "client_id": {"demo-cli"}}
	}
	type tc struct {
		name       string
		form       func() url.Values
		user, pass string
		status     int
		err        string
	}
	cases := []tc{
		{"rfc6749_5.2_invalid_client_wrong_secret", func() url.Values { return ccForm }, "svc-reporter", "wrong", 401, "invalid_client"},
		{"rfc6749_5.2_invalid_client_unknown", func() url.Values { return ccForm }, "nobody", "x", 401, "invalid_client"},
		{"rfc6749_5.2_unsupported_grant_type", func() url.Values { return with(ccForm, "grant_type", "password") }, "svc-reporter", svcSecret, 400, "unsupported_grant_type"},
		{"rfc6749_5.2_missing_grant_type", func() url.Values { return with(ccForm, "grant_type", "") }, "svc-reporter", svcSecret, 400, "invalid_request"},
		{"rfc8707_invalid_target_cc_unknown", func() url.Values { return with(ccForm, "resource", "https://nope.example") }, "svc-reporter", svcSecret, 400, "invalid_target"},
		{"rfc8707_invalid_target_cc_malformed", func() url.Values { return with(ccForm, "resource", "not a uri") }, "svc-reporter", svcSecret, 400, "invalid_target"},
		{"rfc8707_invalid_target_cc_ambiguous", func() url.Values {
			return with(with(with(ccForm, "resource", ""), "client_id", "multi"), "client_secret", multiSecret)
		}, "", "", 400, "invalid_target"},
		{"rfc6749_5.2_invalid_client_no_authentication", func() url.Values { return ccForm }, "", "", 401, "invalid_client"},
		{"rfc6749_4.4.3_offline_access_refused", func() url.Values { return with(ccForm, "scope", "mcp:tools offline_access") }, "svc-reporter", svcSecret, 400, "invalid_scope"},
		{"rfc6749_3.3_cc_scope_not_allowed", func() url.Values { return with(ccForm, "scope", "mcp:admin") }, "svc-reporter", svcSecret, 400, "invalid_scope"},
		{"rfc6749_4.4_public_client_cc", func() url.Values { return with(ccForm, "client_id", "demo-cli") }, "", "", 400, "unauthorized_client"},
		{"rfc6749_4.1.3_code_unknown", func() url.Values { return codeForm("mcpa_ac_nope", oauth2.GenerateVerifier()) }, "", "", 400, "invalid_grant"},
		{"rfc7636_4.6_wrong_verifier", func() url.Values { c, _ := newCode(); return codeForm(c, oauth2.GenerateVerifier()) }, "", "", 400, "invalid_grant"},
		{"rfc7636_4.6_missing_verifier", func() url.Values { c, _ := newCode(); return with(codeForm(c, "x"), "code_verifier", "") }, "", "", 400, "invalid_grant"},
		{"rfc6749_4.1.3_redirect_uri_mismatch", func() url.Values {
			c, v := newCode()
			return with(codeForm(c, v), "redirect_uri", "http://127.0.0.1:9998/other")
		}, "", "", 400, "invalid_grant"},
		{"rfc8707_2.2_token_resource_mismatch", func() url.Values {
			c, v := newCode()
			return with(codeForm(c, v), "resource", apiResource)
		}, "", "", 400, "invalid_target"},
		{"rfc6749_6_refresh_unknown", func() url.Values {
			return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"mcpa_rt_nope"}, "client_id": {"demo-cli"}}
		}, "", "", 400, "invalid_grant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, hdr := tokenPost(t, e, c.form(), c.user, c.pass)
			if status != c.status || body["error"] != c.err {
				t.Fatalf("got %d %v, want %d %s", status, body, c.status, c.err)
			}
			if hdr.Get("Cache-Control") != "no-store" && status != 401 {
				t.Errorf("Cache-Control %q", hdr.Get("Cache-Control"))
			}
		})
	}

	t.Run("rfc6749_4.1.2_code_reuse_revokes_tokens", func(t *testing.T) {
		code, v := newCode()
		tok, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		status, body, _ := tokenPost(t, e, codeForm(code, v), "", "")
		if status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("reuse: %d %v", status, body)
		}
		if in := e.introspect("svc-reporter", svcSecret, tok.AccessToken); in["active"] != false {
			t.Fatalf("tokens of a reused code stay active: %v", in)
		}
	})
	t.Run("oversized_body", func(t *testing.T) {
		form := with(ccForm, "scope", strings.Repeat("a", 100<<10))
		status, body, _ := tokenPost(t, e, form, "svc-reporter", svcSecret)
		if status != 400 || body["error"] != "invalid_request" {
			t.Fatalf("got %d %v", status, body)
		}
	})
	t.Run("malformed_body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader("%zz=%%%"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("svc-reporter", svcSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("client_credentials_ok_via_post", func(t *testing.T) {
		cc := clientcredentials.Config{ClientID: "multi", ClientSecret: multiSecret, TokenURL: e.issuer + "/token",
			EndpointParams: url.Values{"resource": {mcpResource}}, AuthStyle: oauth2.AuthStyleInParams}
		if _, err := cc.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("rfc6749_2.3.1_auth_method_enforced", func(t *testing.T) {
		// multi registered client_secret_post; basic is refused.
		status, body, _ := tokenPost(t, e, ccForm, "multi", multiSecret)
		if status != 401 || body["error"] != "invalid_client" {
			t.Fatalf("got %d %v", status, body)
		}
	})
}

func TestIntrospectionRefusals(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{})
	post := func(form url.Values, user, pass string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/introspect", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if s, b := post(url.Values{"token": {"x"}}, "", ""); s != 401 || b["error"] != "invalid_client" {
		t.Errorf("rfc7662_2.1_unauthenticated: %d %v", s, b)
	}
	if s, b := post(url.Values{"token": {"x"}, "client_id": {"demo-cli"}}, "", ""); s != 401 {
		t.Errorf("rfc7662_2.1_public_client: %d %v", s, b)
	}
	if s, b := post(url.Values{}, "svc-reporter", svcSecret); s != 400 || b["error"] != "invalid_request" {
		t.Errorf("rfc7662_2.1_missing_token: %d %v", s, b)
	}
	if s, b := post(url.Values{"token": {"garbage"}}, "svc-reporter", svcSecret); s != 200 || b["active"] != false || len(b) != 1 {
		t.Errorf("rfc7662_2.2_unknown_token_inactive: %d %v", s, b)
	}
	// A forged token with a valid-looking shape but our kid and a bad signature is inactive.
	cc := clientcredentials.Config{ClientID: "svc-reporter", ClientSecret: svcSecret, TokenURL: e.issuer + "/token",
		EndpointParams: url.Values{"resource": {mcpResource}}, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.AccessToken, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2]
	if _, b := post(url.Values{"token": {forged}}, "svc-reporter", svcSecret); b["active"] != false {
		t.Errorf("forged token active: %v", b)
	}
	// Refresh tokens are described only to their own client.
	conf := e.demoConfig()
	v := oauth2.GenerateVerifier()
	rt, err := conf.Exchange(context.Background(), e.codeFor(conf, v), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if _, b := post(url.Values{"token": {rt.RefreshToken}}, "svc-reporter", svcSecret); b["active"] != false {
		t.Errorf("another client's refresh token described: %v", b)
	}
}

// TestStateOptional: OAuth 2.1 §4.1.1 makes state optional when PKCE is used; MCP clients (the TypeScript
// SDK without provider.state()) send none. The code still comes back, with iss.
func TestStateOptional(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{})
	b := e.browser()
	q := authorizeQuery("v-0123456789012345678901234567890123456789")
	q.Del("state")
	b.get(e.issuer + "/authorize?" + q.Encode())
	b.login("alice", alicePW)
	b.consent("allow", nil)
	if b.final == nil || b.final.Query().Get("code") == "" || b.final.Query().Get("iss") != e.issuer || b.final.Query().Has("state") {
		t.Fatalf("authorization without state: %v (status %d %.200s)", b.final, b.status, b.body)
	}
}

// downStore is a store whose database just went away: every client lookup fails as unavailable.
type downStore struct{ store.Store }

func (d downStore) GetClient(context.Context, string) (fosite.Client, error) {
	return nil, fmt.Errorf("postgres: get client: %w: dial tcp: connection refused", store.ErrUnavailable)
}

// TestStoreDownIsTemporarilyUnavailable: with the database unreachable, token, introspection and revocation
// answer 503 temporarily_unavailable (try again), never invalid_client (your credentials are wrong).
func TestStoreDownIsTemporarilyUnavailable(t *testing.T) {
	var down bool
	e := newEnv(t, func(tb testing.TB, o store.Options) (store.Store, *pgxpool.Pool) {
		st, pool := storeKinds[0].open(tb, o)
		return switchStore{Store: st, down: &down}, pool
	}, envOptions{})
	down = true
	for _, path := range []string{"/token", "/introspect", "/revoke"} {
		form := url.Values{"grant_type": {"client_credentials"}, "resource": {mcpResource}, "token": {"x"}}
		req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("svc-reporter", svcSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
			t.Errorf("%s with the store down: %d %v, want 503 temporarily_unavailable", path, resp.StatusCode, body)
		}
	}
	// An unknown client while the store is up is still invalid_client.
	down = false
	if status, body, _ := tokenPost(t, e, url.Values{"grant_type": {"client_credentials"}, "resource": {mcpResource}}, "nobody", "x"); status != 401 || body["error"] != "invalid_client" {
		t.Fatalf("unknown client: %d %v", status, body)
	}
}

// switchStore fails client lookups as unavailable while *down is true.
type switchStore struct {
	store.Store
	down *bool
}

func (s switchStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if *s.down {
		return downStore{}.GetClient(ctx, id)
	}
	return s.Store.GetClient(ctx, id)
}

// TestLogout: GET /logout offers a button (no state change on GET); the POST ends the session, so the next
// authorization asks for the password again; a POST without the CSRF token changes nothing.
func TestLogout(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{})
	b := e.browser()
	e.authorize(b, e.demoConfig(), oauth2.GenerateVerifier())
	b.login("alice", alicePW)
	b.get(e.issuer + "/logout")
	if !strings.Contains(b.body, "Signed in as <strong>alice</strong>") {
		t.Fatalf("logout page: %.300s", b.body)
	}
	action, f := formFields(t, b.body)
	bad := url.Values{}
	b.post(e.issuer+action, bad)
	if b.status != http.StatusForbidden {
		t.Fatalf("logout without CSRF token: %d", b.status)
	}
	b.post(e.issuer+action, f)
	if b.status != http.StatusOK {
		t.Fatalf("logout: %d", b.status)
	}
	e.authorize(b, e.demoConfig(), oauth2.GenerateVerifier())
	if a, _ := formFields(t, b.body); a != "/login" {
		t.Fatalf("after logout the next authorization did not ask for the password: %.200s", b.body)
	}
}
