package mcp_test

import (
	"context"
	"encoding/json"
	"github.com/ddls/mcpauth/internal/webtest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ddls/mcpauth/as"
	"github.com/ddls/mcpauth/as/bootstrap"
	"github.com/ddls/mcpauth/as/password"
	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/as/store/memory"
	"github.com/ddls/mcpauth/dpop"
	"github.com/ddls/mcpauth/mcp"
	"github.com/ddls/mcpauth/rs"
)

const (
	alicePW     = "correct horse battery staple"
	bobPW       = "bob-demo-password"
	svcSecret   = "s3cr3t-given-only-in-bootstrap"
	otherSecret = "another-secret-of-sufficient-length"
	demoClient  = "demo-cli"
)

// env is authd and mcpd, both in this process on loopback listeners.
type env struct {
	t        testing.TB
	issuer   string
	resource string // mcpd's canonical URI: http://127.0.0.1:port/mcp
	base     string // http://127.0.0.1:port
	st       store.Store
	mcpd     *mcp.Server
	auth     *rs.Middleware
	ts       *httptest.Server
}

type envOptions struct {
	mcpd        *mcp.Options
	rs          *rs.Options
	beforeServe func(*mcp.Server)
	// bootstrap seeds authd from examples/bootstrap.yaml (its resource replaced by mcpd's URL) instead of
	// seed.
	bootstrap bool
}

func quietLogger() *slog.Logger {
	if os.Getenv("MCP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newEnv(t testing.TB, eo envOptions) *env {
	t.Helper()
	ctx := context.Background()
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, base: "http://" + mln.Addr().String()}
	e.resource = e.base + "/mcp"
	e.issuer = startAuthd(t, func(st store.Store) {
		e.st = st
		if eo.bootstrap {
			seedBootstrap(t, st, e.resource)
			return
		}
		seed(t, st, e.resource)
	})

	v, err := rs.NewJWTVerifier(ctx, e.issuer, e.resource, &rs.JWTOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ro := &rs.Options{Logger: quietLogger()}
	if eo.rs != nil {
		ro = eo.rs
		ro.Logger = quietLogger()
	}
	e.auth, err = rs.New(v, ro)
	if err != nil {
		t.Fatal(err)
	}
	mo := &mcp.Options{}
	if eo.mcpd != nil {
		mo = eo.mcpd
	}
	if mo.Logger == nil {
		mo.Logger = quietLogger()
	}
	e.mcpd, err = mcp.New(e.auth, mo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.mcpd.Close() })
	if eo.beforeServe != nil {
		eo.beforeServe(e.mcpd)
	}
	e.ts = &httptest.Server{Listener: mln, Config: &http.Server{Handler: e.mcpd.Handler()}}
	e.ts.Start()
	t.Cleanup(e.ts.Close)
	return e
}

// with returns a copy of e whose helpers report to t (a subtest).
func (e *env) with(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// startAuthd runs an authorization server with an in-memory store seeded by seed, and returns its issuer.
func startAuthd(t testing.TB, seed func(store.Store)) string {
	t.Helper()
	st := memory.New(store.Options{})
	seed(st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	srv, err := as.New(context.Background(), issuer, st, &as.Options{KEK: make([]byte, 32), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv.Handler()}}
	ts.Start()
	t.Cleanup(ts.Close)
	return issuer
}

func fastHash(t testing.TB, pw string) string {
	h, err := password.HashWithParams(pw, password.Params{Memory: 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// seed creates what examples/bootstrap.yaml declares, for resource, plus a second machine client.
func seed(t testing.TB, st store.Store, resource string) {
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.UpsertResource(ctx, store.Resource{URI: resource, Name: "Test MCP server", Scopes: []store.Scope{{Name: "mcp:tools", Default: true}, {Name: "mcp:admin"}}}))
	must(st.UpsertOrganization(ctx, store.Organization{ID: "org_acme", Name: "Acme"}))
	must(st.UpsertConnection(ctx, store.Connection{ID: "conn_github", OrgID: "org_acme", Name: "GitHub", Kind: "github", Resources: []string{resource}}))
	_, err := st.UpsertUser(ctx, store.User{ID: "usr_alice", Username: "alice", PasswordHash: fastHash(t, alicePW), Organizations: []store.Membership{{OrgID: "org_acme", Role: "admin"}}})
	must(err)
	_, err = st.UpsertUser(ctx, store.User{ID: "usr_bob", Username: "bob", PasswordHash: fastHash(t, bobPW), Organizations: []store.Membership{{OrgID: "org_acme", Role: "member"}}})
	must(err)
	must(st.UpsertClient(ctx, store.Client{
		ID: demoClient, Name: "Demo CLI", Public: true, TokenEndpointAuthMethod: "none",
		RedirectURIs: []string{"http://127.0.0.1:9998/callback"}, GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"mcp:tools", "mcp:admin", "offline_access"}, Resources: []string{resource},
	}))
	must(st.UpsertClient(ctx, store.Client{
		ID: "demo-cli-2", Name: "Another CLI", Public: true, TokenEndpointAuthMethod: "none",
		RedirectURIs: []string{"http://127.0.0.1:9998/callback"}, GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"mcp:tools", "offline_access"}, Resources: []string{resource},
	}))
	must(st.UpsertClient(ctx, store.Client{
		ID: "svc-reporter", SecretHash: as.HashClientSecret(svcSecret), TokenEndpointAuthMethod: "client_secret_basic",
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"mcp:tools", "mcp:admin"}, Resources: []string{resource},
		OrgID: "org_acme", Connections: []string{"conn_github"},
	}))
	must(st.UpsertClient(ctx, store.Client{
		ID: "svc-other", SecretHash: as.HashClientSecret(otherSecret), TokenEndpointAuthMethod: "client_secret_basic",
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"mcp:tools"}, Resources: []string{resource},
		OrgID: "org_acme",
	}))
}

// seedBootstrap applies the shipped bootstrap file, for resource instead of http://localhost:8000/mcp.
func seedBootstrap(t testing.TB, st store.Store, resource string) {
	t.Helper()
	data, err := os.ReadFile("../examples/bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.ReplaceAll(string(data), "http://localhost:8000/mcp", resource))
	f, err := bootstrap.Parse("examples/bootstrap.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	err = bootstrap.Apply(context.Background(), st, f, bootstrap.ApplyOptions{PasswordParams: password.Params{Memory: 1024, Iterations: 1, Parallelism: 1}})
	if err != nil {
		t.Fatal(err)
	}
}

// ccToken gets a client-credentials token for the resource; with key, a DPoP-bound one.
func (e *env) ccToken(clientID, secret string, key *dpop.Key, scopes ...string) string {
	e.t.Helper()
	conf := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: e.issuer + "/token", Scopes: scopes,
		EndpointParams: url.Values{"resource": {e.resource}}}
	ctx := context.Background()
	if key != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: &dpop.Transport{Key: key}})
	}
	tok, err := conf.Token(ctx)
	if err != nil {
		e.t.Fatalf("client credentials for %s: %v", clientID, err)
	}
	want := "Bearer"
	if key != nil {
		want = "DPoP"
	}
	if !strings.EqualFold(tok.TokenType, want) {
		e.t.Fatalf("token_type %q, want %s", tok.TokenType, want)
	}
	return tok.AccessToken
}

// codeToken runs the authorization code flow with PKCE for a public client, logging in as user, and returns
// the access token (DPoP-bound with key).
func (e *env) codeToken(clientID, user, pw string, key *dpop.Key, scopes ...string) string {
	e.t.Helper()
	conf := &oauth2.Config{ClientID: clientID, RedirectURL: "http://127.0.0.1:9998/callback", Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + "/authorize", TokenURL: e.issuer + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(e.t, e.issuer)
	u := b.authorize(conf.AuthCodeURL("st-123456789", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", e.resource)), user, pw)
	ctx := context.Background()
	if key != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: &dpop.Transport{Key: key}})
	}
	tok, err := conf.Exchange(ctx, u.Query().Get("code"), oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", e.resource))
	if err != nil {
		e.t.Fatalf("code exchange: %v", err)
	}
	return tok.AccessToken
}

// httpClient returns a client that sends token (Bearer, or DPoP with key).
func httpClient(token string, key *dpop.Key) *http.Client {
	if key != nil {
		return &http.Client{Transport: &dpop.Transport{Key: key, Token: dpop.StaticToken(token)}}
	}
	return &http.Client{Transport: &bearer{token: token}}
}

type bearer struct {
	token string
	base  http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	base := b.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// connect opens a go-sdk client session to mcpd over Streamable HTTP.
func (e *env) connect(hc *http.Client, version string) *sdk.ClientSession {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := sdk.NewClient(&sdk.Implementation{Name: "mcp-test", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: e.resource, HTTPClient: hc, DisableStandaloneSSE: true}, &sdk.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		e.t.Fatalf("connect (%s): %v", version, err)
	}
	e.t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func toolNames(t testing.TB, cs *sdk.ClientSession) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var names []string
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		names = append(names, tool.Name)
	}
	return names
}

func callWhoami(t testing.TB, cs *sdk.ClientSession) mcp.Whoami {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatalf("whoami: %v", err)
	}
	if res.IsError {
		t.Fatalf("whoami: tool error %v", res.Content)
	}
	b, _ := json.Marshal(res.StructuredContent)
	var w mcp.Whoami
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatalf("whoami structured content: %v", err)
	}
	return w
}

// browser drives authd's login and consent forms without a browser.
type browser struct {
	t      testing.TB
	issuer string
	c      *http.Client
	final  *url.URL
	body   string
	status int
}

func newBrowser(t testing.TB, issuer string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, issuer: issuer}
	b.c = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), issuer) {
			b.final = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

func (b *browser) do(req *http.Request) {
	b.t.Helper()
	b.final = nil
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.status, b.body = resp.StatusCode, string(body)
}

func (b *browser) get(u string) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	b.do(req)
}

func (b *browser) post(u string, form url.Values) {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	b.do(req)
}

// submit fills the form of the current page (hidden inputs kept) and posts it.
func (b *browser) submit(wantAction string, set url.Values) {
	b.t.Helper()
	action, f := formFields(b.t, b.body)
	if action != wantAction {
		b.t.Fatalf("expected the %s form, got status %d: %.300s", wantAction, b.status, b.body)
	}
	for k, vs := range set {
		f[k] = vs
	}
	b.post(b.issuer+action, f)
}

// authorize follows an authorization URL through login (as user) and consent, and returns the redirect to
// the client.
func (b *browser) authorize(authURL, user, pw string) *url.URL {
	b.t.Helper()
	b.get(authURL)
	if b.final == nil {
		b.submit("/login", url.Values{"username": {user}, "password": {pw}})
	}
	if b.final == nil {
		b.submit("/consent", url.Values{"decision": {"allow"}})
	}
	if b.final == nil {
		b.t.Fatalf("no redirect to the client (status %d): %.300s", b.status, b.body)
	}
	return b.final
}

func formFields(t testing.TB, page string) (action string, fields url.Values) {
	t.Helper()
	action, fields, err := webtest.FormFields(page)
	if err != nil {
		t.Fatal(err)
	}
	return action, fields
}
