package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ddls/mcpauth/as"
	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/as/store/memory"
	"github.com/ddls/mcpauth/dpop"
	"github.com/ddls/mcpauth/prm"
	"github.com/ddls/mcpauth/rs"
)

const (
	svcSecret   = "svc-secret-of-sufficient-length"
	adminSecret = "admin-secret-of-sufficient-length"
)

// e2e is authd (in memory) plus the example API, both on loopback listeners.
type e2e struct {
	t        *testing.T
	issuer   string
	resource string // http://127.0.0.1:<port>/api
	other    string // another resource of the same authd
	api      string // the API's base URL
}

func newE2E(t *testing.T, requireDPoP bool) *e2e {
	t.Helper()
	ctx := context.Background()
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, api: "http://" + apiLn.Addr().String()}
	e.resource = e.api + "/api"
	e.other = "http://127.0.0.1:1/other"

	st := memory.New(store.Options{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.UpsertResource(ctx, store.Resource{URI: e.resource, Name: "Protected API", Scopes: []store.Scope{{Name: "mcp:tools", Default: true}, {Name: "mcp:admin"}}}))
	must(st.UpsertResource(ctx, store.Resource{URI: e.other, Name: "Other", Scopes: []store.Scope{{Name: "mcp:tools", Default: true}}}))
	must(st.UpsertOrganization(ctx, store.Organization{ID: "org_acme", Name: "Acme"}))
	must(st.UpsertConnection(ctx, store.Connection{ID: "conn_github", OrgID: "org_acme", Name: "GitHub", Kind: "github", Resources: []string{e.resource}}))
	must(st.UpsertClient(ctx, store.Client{
		ID: "svc", SecretHash: as.HashClientSecret(svcSecret), TokenEndpointAuthMethod: "client_secret_basic",
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"mcp:tools"}, Resources: []string{e.resource, e.other},
		OrgID: "org_acme", Connections: []string{"conn_github"},
	}))
	must(st.UpsertClient(ctx, store.Client{
		ID: "admin-svc", SecretHash: as.HashClientSecret(adminSecret), TokenEndpointAuthMethod: "client_secret_basic",
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"mcp:tools", "mcp:admin"}, Resources: []string{e.resource},
		OrgID: "org_acme",
	}))
	asLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.issuer = "http://" + asLn.Addr().String()
	srv, err := as.New(ctx, e.issuer, st, &as.Options{KEK: make([]byte, 32), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	authd := &httptest.Server{Listener: asLn, Config: &http.Server{Handler: srv.Handler()}}
	authd.Start()
	t.Cleanup(authd.Close)

	h, err := newHandler(ctx, config{issuer: e.issuer, resource: e.resource, requireDPoP: requireDPoP}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	api := &httptest.Server{Listener: apiLn, Config: &http.Server{Handler: h}}
	api.Start()
	t.Cleanup(api.Close)
	return e
}

// token gets a client-credentials token with golang.org/x/oauth2; with key, the token request carries a
// DPoP proof (RFC 9449 §5).
func (e *e2e) token(id, secret, resource, scope string, key *dpop.Key) *oauth2.Token {
	e.t.Helper()
	cc := clientcredentials.Config{
		ClientID: id, ClientSecret: secret, TokenURL: e.issuer + "/token", AuthStyle: oauth2.AuthStyleInHeader,
		EndpointParams: url.Values{"resource": {resource}},
	}
	if scope != "" {
		cc.Scopes = strings.Fields(scope)
	}
	ctx := context.Background()
	if key != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: &dpop.Transport{Key: key}})
	}
	tok, err := cc.Token(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

type answer struct {
	status int
	body   map[string]any
	chs    []dpop.Challenge
	hdr    http.Header
}

func (e *e2e) get(path string, c *http.Client, authz string) answer {
	e.t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	req, _ := http.NewRequest(http.MethodGet, e.api+path, nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, hdr: resp.Header}
	if err := json.Unmarshal(b, &a.body); err != nil {
		e.t.Fatalf("GET %s: %d %q is not JSON", path, resp.StatusCode, b)
	}
	if wa := resp.Header.Get("WWW-Authenticate"); wa != "" {
		if a.chs, err = dpop.ParseChallenges(wa); err != nil {
			e.t.Fatalf("WWW-Authenticate %q: %v", wa, err)
		}
	}
	return a
}

// challenge returns the challenge of scheme, or fails.
func (a answer) challenge(t *testing.T, scheme string) dpop.Challenge {
	t.Helper()
	for _, c := range a.chs {
		if strings.EqualFold(c.Scheme, scheme) {
			return c
		}
	}
	t.Fatalf("no %s challenge in %v", scheme, a.chs)
	return dpop.Challenge{}
}

func TestE2E(t *testing.T) {
	e := newE2E(t, false)
	svc := e.token("svc", svcSecret, e.resource, "", nil)
	if !strings.EqualFold(svc.TokenType, "Bearer") {
		t.Fatalf("token_type %q", svc.TokenType)
	}
	bearer := "Bearer " + svc.AccessToken

	t.Run("bearer_hello", func(t *testing.T) {
		a := e.get("/api/hello", nil, bearer)
		if a.status != 200 {
			t.Fatalf("%d %v", a.status, a.body)
		}
		want := map[string]any{"sub": "svc", "client_id": "svc", "scope": "mcp:tools", "org_id": "org_acme", "connections": []any{"conn_github"}, "jkt": ""}
		for k, v := range want {
			if got, _ := json.Marshal(a.body[k]); string(got) != mustJSON(v) {
				t.Errorf("%s = %s, want %s", k, got, mustJSON(v))
			}
		}
	})
	t.Run("rfc6750_3.1_insufficient_scope", func(t *testing.T) {
		a := e.get("/api/admin", nil, bearer)
		c := a.challenge(t, "Bearer")
		if a.status != 403 || c.Params["error"] != "insufficient_scope" || c.Params["scope"] != "mcp:admin" || a.body["error"] != "insufficient_scope" {
			t.Fatalf("%d %v %v", a.status, c, a.body)
		}
		// Step-up: a token with mcp:admin gets through.
		adm := e.token("admin-svc", adminSecret, e.resource, "mcp:tools mcp:admin", nil)
		if a := e.get("/api/admin", nil, "Bearer "+adm.AccessToken); a.status != 200 || a.body["sub"] != "admin-svc" {
			t.Fatalf("%d %v", a.status, a.body)
		}
	})
	t.Run("rfc6750_3.1_no_token_then_discovery", func(t *testing.T) {
		a := e.get("/api/hello", nil, "")
		b, d := a.challenge(t, "Bearer"), a.challenge(t, "DPoP")
		if a.status != 401 || b.Params["error"] != "" || d.Params["error"] != "" || d.Params["algs"] == "" {
			t.Fatalf("%d %v", a.status, a.chs)
		}
		// RFC 9728 §5.1 → §3: the client follows resource_metadata to the authorization server.
		mu := b.Params["resource_metadata"]
		if mu != e.api+"/.well-known/oauth-protected-resource/api" || d.Params["resource_metadata"] != mu {
			t.Fatalf("resource_metadata %q", mu)
		}
		resp, err := http.Get(mu)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		md, err := prm.Parse(body, e.resource)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" || len(md.AuthorizationServers) != 1 || md.AuthorizationServers[0] != e.issuer ||
			md.BearerMethodsSupported[0] != "header" || len(md.ScopesSupported) != 2 || md.DPoPBoundAccessTokensRequired {
			t.Fatalf("metadata %s", body)
		}
	})
	t.Run("rfc9068_4_aud_other_resource", func(t *testing.T) {
		other := e.token("svc", svcSecret, e.other, "", nil)
		a := e.get("/api/hello", nil, "Bearer "+other.AccessToken)
		if c := a.challenge(t, "Bearer"); a.status != 401 || c.Params["error"] != "invalid_token" {
			t.Fatalf("%d %v", a.status, a.chs)
		}
	})
	t.Run("rfc7515_5.2_tampered", func(t *testing.T) {
		tok := svc.AccessToken
		i := strings.IndexByte(tok, '.') + 5
		tampered := tok[:i] + string("ab"[(tok[i]-'a'+1)%2]) + tok[i+1:]
		if a := e.get("/api/hello", nil, "Bearer "+tampered); a.status != 401 || a.body["error"] != "invalid_token" {
			t.Fatalf("%d %v", a.status, a.body)
		}
	})
	t.Run("dpop", func(t *testing.T) {
		key, err := dpop.GenerateKey(dpop.ES256)
		if err != nil {
			t.Fatal(err)
		}
		tok := e.token("svc", svcSecret, e.resource, "", key)
		// RFC 9449 §5: authd binds the token and says so.
		if tok.TokenType != "DPoP" {
			t.Fatalf("token_type %q with a DPoP proof at the token endpoint", tok.TokenType)
		}
		c := &http.Client{Transport: &dpop.Transport{Key: key, Token: dpop.StaticToken(tok.AccessToken)}}
		a := e.get("/api/hello", c, "")
		if a.status != 200 || a.body["jkt"] != key.Thumbprint() || a.body["sub"] != "svc" {
			t.Fatalf("%d %v", a.status, a.body)
		}
		t.Run("rfc9449_7.1_bearer_use_of_bound_token", func(t *testing.T) {
			a := e.get("/api/hello", nil, "Bearer "+tok.AccessToken)
			if c := a.challenge(t, "Bearer"); a.status != 401 || c.Params["error"] != "invalid_token" {
				t.Fatalf("%d %v", a.status, a.chs)
			}
		})
		t.Run("rfc9449_6.1_other_key", func(t *testing.T) {
			other, _ := dpop.GenerateKey(dpop.ES256)
			c := &http.Client{Transport: &dpop.Transport{Key: other, Token: dpop.StaticToken(tok.AccessToken)}}
			a := e.get("/api/hello", c, "")
			if ch := a.challenge(t, "DPoP"); a.status != 401 || ch.Params["error"] != "invalid_dpop_proof" {
				t.Fatalf("%d %v", a.status, a.chs)
			}
		})
		t.Run("rfc9449_7.1_no_proof", func(t *testing.T) {
			a := e.get("/api/hello", nil, "DPoP "+tok.AccessToken)
			if ch := a.challenge(t, "DPoP"); a.status != 401 || ch.Params["error"] != "invalid_dpop_proof" {
				t.Fatalf("%d %v", a.status, a.chs)
			}
		})
	})
}

func TestE2ERequireDPoP(t *testing.T) {
	e := newE2E(t, true)
	svc := e.token("svc", svcSecret, e.resource, "", nil)
	a := e.get("/api/hello", nil, "Bearer "+svc.AccessToken)
	if a.status != 401 || len(a.chs) != 1 || a.challenge(t, "DPoP").Params["error"] != "invalid_token" {
		t.Fatalf("%d %v", a.status, a.chs)
	}
	key, _ := dpop.GenerateKey(dpop.EdDSA)
	tok := e.token("svc", svcSecret, e.resource, "", key)
	c := &http.Client{Transport: &dpop.Transport{Key: key, Token: dpop.StaticToken(tok.AccessToken)}}
	if a := e.get("/api/hello", c, ""); a.status != 200 || a.body["jkt"] != key.Thumbprint() {
		t.Fatalf("%d %v", a.status, a.body)
	}
}

// TestE2EIntrospection checks the introspection verifier against authd: a revoked token is refused at once.
func TestE2EIntrospection(t *testing.T) {
	e := newE2E(t, false)
	ctx := context.Background()
	v, err := rs.NewIntrospectionVerifier(ctx, e.issuer, e.resource, "admin-svc", adminSecret, &rs.IntrospectionOptions{CacheTTL: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := dpop.GenerateKey(dpop.ES256)
	tok := e.token("svc", svcSecret, e.resource, "", key)
	p, err := v.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "svc" || p.JKT != key.Thumbprint() || p.OrgID != "org_acme" || len(p.Connections) != 1 {
		t.Fatalf("principal %+v", p)
	}
	// RFC 7009: the client revokes its token; introspection says inactive.
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/revoke", strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", svcSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if _, err := v.Verify(ctx, tok.AccessToken); err == nil {
		t.Fatal("a revoked token is still active")
	}
	// A token for another resource is refused even though it is active.
	other := e.token("svc", svcSecret, e.other, "", nil)
	if _, err := v.Verify(ctx, other.AccessToken); err == nil {
		t.Fatal("token for another resource accepted")
	}
}

func TestFlags(t *testing.T) {
	c, err := parseFlags([]string{"--addr", ":1", "--issuer", "https://as", "--resource", "https://x/api", "--require-dpop"}, io.Discard)
	if err != nil || c.addr != ":1" || c.issuer != "https://as" || c.resource != "https://x/api" || !c.requireDPoP {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := parseFlags([]string{"extra"}, io.Discard); err == nil {
		t.Fatal("extra argument accepted")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
