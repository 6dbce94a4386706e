package as_test

import (
	"context"
	"github.com/ddls/mcpauth/internal/webtest"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddls/mcpauth/as"
	"github.com/ddls/mcpauth/as/password"
	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/as/store/memory"
	"github.com/ddls/mcpauth/as/store/postgres"
	"github.com/ddls/mcpauth/dpop"
	"github.com/ddls/mcpauth/dpop/pgreplay"
	"github.com/ddls/mcpauth/internal/pgtest"
)

const (
	mcpResource  = "http://localhost:8000/mcp"
	apiResource  = "https://api.example.com"
	demoRedirect = "http://127.0.0.1:9998/callback"
	svcSecret    = "s3cr3t-given-only-in-bootstrap"
	multiSecret  = "another-secret-of-sufficient-length"
	alicePW      = "correct horse battery staple"
	bobPW        = "bob's password is long"
)

// storeKinds lists the stores every end-to-end test runs against.
type openFunc func(t testing.TB, opts store.Options) (store.Store, *pgxpool.Pool)

var storeKinds = []struct {
	name string
	open openFunc
}{
	{"memory", func(t testing.TB, opts store.Options) (store.Store, *pgxpool.Pool) { return memory.New(opts), nil }},
	{"postgres", func(t testing.TB, opts store.Options) (store.Store, *pgxpool.Pool) {
		pool := pgtest.Pool(t)
		return postgres.New(pool, opts), pool
	}},
}

type env struct {
	t      testing.TB
	st     store.Store
	srv    *as.Server
	ts     *httptest.Server
	issuer string
	now    func() time.Time
	alice  store.User
	bob    store.User
	pool   *pgxpool.Pool
	replay dpop.ReplayStore
}

type envOptions struct {
	grace      time.Duration
	now        func() time.Time
	serverOpts func(*as.Options)
	pgReplay   bool // DPoP replay store in the test's PostgreSQL database
}

func newEnv(t testing.TB, open openFunc, eo envOptions) *env {
	t.Helper()
	if eo.now == nil {
		eo.now = time.Now
	}
	st, pool := open(t, store.Options{RefreshGracePeriod: eo.grace, Now: eo.now})
	e := &env{t: t, st: st, now: eo.now, pool: pool}
	if eo.pgReplay {
		rs, err := pgreplay.New(pool, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.replay = rs
	}
	e.seed()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.issuer = "http://" + ln.Addr().String()
	kek := make([]byte, 32)
	opts := &as.Options{KEK: kek, Now: eo.now, DPoPReplay: e.replay}
	if eo.serverOpts != nil {
		eo.serverOpts(opts)
	}
	e.srv, err = as.New(context.Background(), e.issuer, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.ts = &httptest.Server{Listener: ln, Config: &http.Server{Handler: e.srv.Handler()}}
	e.ts.Start()
	t.Cleanup(e.ts.Close)
	return e
}

func fastHash(t testing.TB, pw string) string {
	h, err := password.HashWithParams(pw, password.Params{Memory: 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (e *env) seed() {
	t, st, ctx := e.t, e.st, context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.UpsertResource(ctx, store.Resource{URI: mcpResource, Name: "Demo MCP server", Scopes: []store.Scope{{Name: "mcp:tools", Default: true}, {Name: "mcp:admin"}}}))
	must(st.UpsertResource(ctx, store.Resource{URI: apiResource, Name: "API", Scopes: []store.Scope{{Name: "api:read", Default: true}}, AccessTokenTTL: 2 * time.Minute}))
	must(st.UpsertOrganization(ctx, store.Organization{ID: "org_acme", Name: "Acme"}))
	must(st.UpsertOrganization(ctx, store.Organization{ID: "org_globex", Name: "Globex"}))
	must(st.UpsertConnection(ctx, store.Connection{ID: "conn_github", OrgID: "org_acme", Name: "GitHub", Kind: "github", Resources: []string{mcpResource}}))
	must(st.UpsertConnection(ctx, store.Connection{ID: "conn_pg", OrgID: "org_acme", Name: "Warehouse", Kind: "postgres", Resources: []string{mcpResource}}))
	must(st.UpsertConnection(ctx, store.Connection{ID: "conn_api_only", OrgID: "org_acme", Name: "API only", Kind: "http", Resources: []string{apiResource}}))
	must(st.UpsertConnection(ctx, store.Connection{ID: "conn_globex", OrgID: "org_globex", Name: "Globex CRM", Kind: "http", Resources: []string{mcpResource}}))
	var err error
	e.alice, err = st.UpsertUser(ctx, store.User{ID: "usr_alice", Username: "alice", PasswordHash: fastHash(t, alicePW), Organizations: []store.Membership{{OrgID: "org_acme", Role: "admin"}}})
	must(err)
	e.bob, err = st.UpsertUser(ctx, store.User{ID: "usr_bob", Username: "bob", PasswordHash: fastHash(t, bobPW), Organizations: []store.Membership{{OrgID: "org_acme", Role: "member"}, {OrgID: "org_globex", Role: "member"}}})
	must(err)
	must(st.UpsertClient(ctx, store.Client{
		ID: "demo-cli", Name: "Demo <CLI>", Public: true, TokenEndpointAuthMethod: "none",
		RedirectURIs: []string{demoRedirect}, GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"mcp:tools", "mcp:admin", "offline_access"}, Resources: []string{mcpResource},
	}))
	must(st.UpsertClient(ctx, store.Client{
		ID: "svc-reporter", SecretHash: as.HashClientSecret(svcSecret), TokenEndpointAuthMethod: "client_secret_basic",
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"mcp:tools"}, Resources: []string{mcpResource},
		OrgID: "org_acme", Connections: []string{"conn_github"},
	}))
	must(st.UpsertClient(ctx, store.Client{
		ID: "multi", SecretHash: as.HashClientSecret(multiSecret), TokenEndpointAuthMethod: "client_secret_post",
		RedirectURIs: []string{"https://app.example.com/cb"}, GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"},
		ResponseTypes: []string{"code"}, Scopes: []string{"mcp:tools", "api:read", "offline_access"}, Resources: []string{mcpResource, apiResource},
		OrgID: "org_acme",
	}))
}

// browser is a cookie-keeping HTTP client that stops at redirects leaving the authorization server.
type browser struct {
	t      testing.TB
	e      *env
	c      *http.Client
	final  *url.URL // the redirect to the client, once reached
	status int
	body   string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: e.t, e: e}
	b.c = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), e.issuer) {
			b.final = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

func (b *browser) do(req *http.Request) *http.Response {
	b.t.Helper()
	b.final = nil
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.status, b.body = resp.StatusCode, string(body)
	return resp
}

func (b *browser) get(u string) *http.Response {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) *http.Response {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// formFields returns the named inputs of the page's form and its action (hidden and preset values).
func formFields(t testing.TB, page string) (action string, fields url.Values) {
	t.Helper()
	action, fields, err := webtest.FormFields(page)
	if err != nil {
		t.Fatal(err)
	}
	return action, fields
}

// login fills the login form the browser is looking at.
func (b *browser) login(user, pw string) {
	b.t.Helper()
	action, f := formFields(b.t, b.body)
	if action != "/login" {
		b.t.Fatalf("expected the login page, got status %d: %.300s", b.status, b.body)
	}
	f.Set("username", user)
	f.Set("password", pw)
	b.post(b.e.issuer+action, f)
}

// consent submits the consent form; edit changes the preset fields first.
func (b *browser) consent(decision string, edit func(url.Values)) {
	b.t.Helper()
	action, f := formFields(b.t, b.body)
	if action != "/consent" {
		b.t.Fatalf("expected the consent page, got status %d: %.300s", b.status, b.body)
	}
	if edit != nil {
		edit(f)
	}
	f.Set("decision", decision)
	b.post(b.e.issuer+action, f)
}
