// Package storetest is the conformance suite of as/store: Run drives any store.Store through the contract
// stated in as/store (doc.go), and the Bench… functions measure the hot paths, so the in-memory and the
// PostgreSQL stores are held to the same behaviour and compared on the same work.
//
// Subtests are named after the spec step they cover: RFC 6749 §4.1.2 (one-time codes), OAuth 2.1 §4.3.1 and
// RFC 6819 §5.2.2.3 (refresh rotation and reuse detection), RFC 7009 §2.1 (family revocation), RFC 7523 §3
// (client assertion jti used once), RFC 7636 (PKCE sessions).
//
// Every subtest gets a fresh store from newStore and a clock it can advance (store.Options.Now), so grace
// periods and expiry are tested without sleeping.
package storetest

import (
	"context"
	"errors"
	"github.com/ddls/mcpauth/internal/testclock"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

// NewStore returns a fresh, empty store using opts; it registers its own cleanup on t.
type NewStore = func(t *testing.T, opts store.Options) store.Store

// Run runs the whole suite against the stores newStore returns.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	h := harness{newStore: newStore}
	groups := []struct {
		name string
		run  func(*testing.T, harness)
	}{
		{"codes", runCodes},
		{"pkce", runPKCE},
		{"access_tokens", runAccess},
		{"refresh_tokens", runRefresh},
		{"transactions", runTx},
		{"client_assertions", runJTI},
		{"resources_organizations_connections", runOrgs},
		{"users", runUsers},
		{"clients", runClients},
		{"signing_keys_sessions_consents", runRecords},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.run(t, h) })
	}
}

type harness struct{ newStore NewStore }

// testCase is one subtest; grace is the store's refresh grace period.
type testCase struct {
	name  string
	grace time.Duration
	run   func(t *testing.T, e *env)
}

func (h harness) run(t *testing.T, cases []testCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // every case has its own store and clock
			tc.run(t, h.env(t, tc.grace))
		})
	}
}

// env is one fresh store with a seeded organization, user and client.
type env struct {
	s      store.Store
	clock  *Clock
	ctx    context.Context
	org    store.Organization
	user   store.User
	client store.Client
}

// epoch is the suite's starting time: whole microseconds, so PostgreSQL stores it exactly.
func epoch() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }

const (
	resourceURI = "https://mcp.example.com/mcp"
	grace       = 10 * time.Second
)

func (h harness) env(t *testing.T, grace time.Duration) *env {
	t.Helper()
	clock := NewClock(epoch())
	e := &env{
		s:     h.newStore(t, store.Options{RefreshGracePeriod: grace, Now: clock.Now}),
		clock: clock,
		ctx:   context.Background(),
		org:   store.Organization{ID: "org_acme", Name: "Acme"},
	}
	must(t, e.s.UpsertOrganization(e.ctx, e.org))
	e.user = store.User{ID: "usr_alice", Username: "alice", PasswordHash: "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA",
		Organizations: []store.Membership{{OrgID: e.org.ID, Role: "admin"}}, CreatedAt: epoch()}
	must(t, e.s.CreateUser(e.ctx, e.user))
	e.client = store.Client{
		ID: "demo-cli", Name: "Demo CLI", Public: true, TokenEndpointAuthMethod: "none",
		RedirectURIs: []string{"http://127.0.0.1:9998/callback"},
		GrantTypes:   []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"mcp:tools", "offline_access"}, Resources: []string{resourceURI}, CreatedAt: epoch(),
	}
	must(t, e.s.CreateClient(e.ctx, e.client))
	return e
}

// Clock is a settable clock for store.Options.Now, safe for concurrent use.
type Clock = testclock.Clock

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return testclock.New(t) }

// testSession is a session with fields of its own besides fosite's, as the authorization server's is.
type testSession struct {
	fosite.DefaultSession
	OrgID       string    `json:"org_id"`
	Connections []string  `json:"connections"`
	JKT         string    `json:"jkt,omitempty"`
	AuthTime    time.Time `json:"auth_time"`
}

func (s *testSession) Clone() fosite.Session {
	c := *s
	c.DefaultSession = *s.DefaultSession.Clone().(*fosite.DefaultSession)
	c.Connections = slices.Clone(s.Connections)
	return &c
}

func (e *env) session() *testSession {
	now := e.clock.Now()
	s := &testSession{
		DefaultSession: fosite.DefaultSession{Subject: e.user.ID, Username: e.user.Username,
			Extra: map[string]any{"tenant": "acme"}},
		OrgID: e.org.ID, Connections: []string{"conn_github", "conn_pg"}, JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		AuthTime: now.Add(-time.Minute),
	}
	s.SetExpiresAt(fosite.AuthorizeCode, now.Add(10*time.Minute))
	s.SetExpiresAt(fosite.AccessToken, now.Add(10*time.Minute))
	s.SetExpiresAt(fosite.RefreshToken, now.Add(24*time.Hour))
	return s
}

// request is a stored-grant request of family id, with secret form values that must never be stored.
func (e *env) request(id string) *fosite.Request {
	r := fosite.NewRequest()
	r.ID = id
	r.RequestedAt = e.clock.Now().Add(-time.Second)
	r.Client = store.NewFositeClient(e.client)
	r.RequestedScope = fosite.Arguments{"mcp:tools", "offline_access"}
	r.GrantedScope = fosite.Arguments{"mcp:tools", "offline_access"}
	r.RequestedAudience = fosite.Arguments{resourceURI}
	r.GrantedAudience = fosite.Arguments{resourceURI}
	r.Form = url.Values{
		"redirect_uri":  {"http://127.0.0.1:9998/callback"},
		"resource":      {resourceURI},
		"code_verifier": {"never-stored-verifier"},
		"client_secret": {"never-stored-secret"},
		"refresh_token": {"never-stored-refresh"},
	}
	r.Session = e.session()
	return r
}

// checkRequest compares a loaded request with the one stored, secrets aside.
func checkRequest(t *testing.T, got fosite.Requester, want *fosite.Request) {
	t.Helper()
	if got == nil {
		t.Fatal("request is nil")
	}
	if got.GetID() != want.ID || !got.GetRequestedAt().Equal(want.RequestedAt) {
		t.Errorf("id/requested_at = %q %v, want %q %v", got.GetID(), got.GetRequestedAt(), want.ID, want.RequestedAt)
	}
	if got.GetClient() == nil || got.GetClient().GetID() != want.Client.GetID() {
		t.Errorf("client = %v, want %q", got.GetClient(), want.Client.GetID())
	}
	if !slices.Equal(got.GetGrantedScopes(), want.GrantedScope) || !slices.Equal(got.GetRequestedScopes(), want.RequestedScope) {
		t.Errorf("scopes = %v/%v, want %v/%v", got.GetRequestedScopes(), got.GetGrantedScopes(), want.RequestedScope, want.GrantedScope)
	}
	if !slices.Equal(got.GetGrantedAudience(), want.GrantedAudience) || !slices.Equal(got.GetRequestedAudience(), want.RequestedAudience) {
		t.Errorf("audience = %v/%v, want %v", got.GetRequestedAudience(), got.GetGrantedAudience(), want.GrantedAudience)
	}
	form := got.GetRequestForm()
	for _, k := range []string{"code_verifier", "client_secret", "refresh_token"} {
		if form.Has(k) {
			t.Errorf("form parameter %s was stored; secrets must never reach storage", k)
		}
	}
	if form.Get("redirect_uri") != want.Form.Get("redirect_uri") || form.Get("resource") != resourceURI {
		t.Errorf("form = %v", form)
	}
	if gs, ok := got.GetSession().(*testSession); ok {
		checkSession(t, gs, want.Session.(*testSession))
	}
}

func checkSession(t *testing.T, got, want *testSession) {
	t.Helper()
	if got.Subject != want.Subject || got.Username != want.Username || got.OrgID != want.OrgID ||
		got.JKT != want.JKT || !got.AuthTime.Equal(want.AuthTime) || !slices.Equal(got.Connections, want.Connections) {
		t.Errorf("session = %+v, want %+v", got, want)
	}
	for _, tt := range []fosite.TokenType{fosite.AuthorizeCode, fosite.AccessToken, fosite.RefreshToken} {
		if !got.GetExpiresAt(tt).Equal(want.GetExpiresAt(tt)) {
			t.Errorf("session expiry %s = %v, want %v", tt, got.GetExpiresAt(tt), want.GetExpiresAt(tt))
		}
	}
	if got.Extra["tenant"] != want.Extra["tenant"] {
		t.Errorf("session extra = %v, want %v", got.Extra, want.Extra)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// is fails unless errors.Is(err, want); want nil means no error.
func is(t *testing.T, err, want error, what string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s: unexpected error %v", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: error = %v, want %v", what, err, want)
	}
}
