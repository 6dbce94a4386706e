package mcp_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/ddls/mcpauth/dpop"
	"github.com/ddls/mcpauth/mcp"
)

// oauthClient is the go-sdk client's authorization code handler for the pre-registered public client
// demo-cli, logging in as user through authd's forms. With key, every request it makes (token endpoint
// included) carries a DPoP proof, so authd issues DPoP-bound tokens. filter, if set, adjusts the scopes the
// client asks for.
func (e *env) oauthClient(user, pw string, key *dpop.Key, filter func([]string) []string) (*auth.AuthorizationCodeHandler, *http.Client, *atomic.Int32) {
	e.t.Helper()
	hc := &http.Client{}
	if key != nil {
		hc.Transport = dpopUpgrade(key)
	}
	logins := new(atomic.Int32)
	h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		PreregisteredClient: &oauthex.ClientCredentials{ClientID: demoClient, Issuer: e.issuer},
		RedirectURL:         "http://127.0.0.1:9998/callback",
		Client:              hc,
		ScopeFilter:         filter,
		AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			logins.Add(1)
			b := newBrowser(e.t, e.issuer)
			u := b.authorize(args.URL, user, pw)
			q := u.Query()
			if q.Get("error") != "" {
				return nil, errors.New(q.Get("error") + ": " + q.Get("error_description"))
			}
			return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
		},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return h, hc, logins
}

func (e *env) connectOAuth(h auth.OAuthHandler, hc *http.Client, version string) *sdk.ClientSession {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := sdk.NewClient(&sdk.Implementation{Name: "mcp-oauth-test", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: e.resource, HTTPClient: hc, OAuthHandler: h, DisableStandaloneSSE: true},
		&sdk.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		e.t.Fatalf("connect (%s): %v", version, err)
	}
	e.t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// TestLoginToolsWhoami is the MCP authorization flow with the go-sdk client, for every protocol version: 401
// → protected resource metadata → AS metadata → authorization code + PKCE through login and consent →
// tools/list → whoami; with a DPoP-bound token (dpop.Transport) and with a bearer token.
func TestLoginToolsWhoami(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, v := range protocolVersions {
		for _, useDPoP := range []bool{true, false} {
			name := "bearer_" + v
			var key *dpop.Key
			if useDPoP {
				name = "dpop_" + v
				key, _ = dpop.GenerateKey(dpop.ES256)
			}
			t.Run(name, func(t *testing.T) {
				e := e.with(t)
				h, hc, logins := e.oauthClient("alice", alicePW, key, nil)
				cs := e.connectOAuth(h, hc, v)
				if got := cs.InitializeResult().ProtocolVersion; got != v {
					t.Fatalf("negotiated %s", got)
				}
				if names := toolNames(t, cs); !slices.Equal(names, []string{"whoami"}) {
					t.Fatalf("tools %v", names)
				}
				w := callWhoami(t, cs)
				if w.Subject != "usr_alice" || w.ClientID != demoClient || w.OrgID != "org_acme" || !slices.Contains(w.Scopes, "mcp:tools") {
					t.Fatalf("whoami %+v", w)
				}
				if useDPoP != (w.TokenType == "DPoP") || useDPoP != (w.JKT != "") {
					t.Fatalf("token type %s jkt %q", w.TokenType, w.JKT)
				}
				if useDPoP && w.JKT != key.Thumbprint() {
					t.Fatalf("jkt %s, want the client's key %s", w.JKT, key.Thumbprint())
				}
				if !slices.Equal(w.Connections, []string{"conn_github"}) || w.Audience != e.resource || w.Issuer != e.issuer {
					t.Fatalf("whoami %+v", w)
				}
				if n := logins.Load(); n != 1 {
					t.Fatalf("%d logins", n)
				}
			})
		}
	}
}

// TestStepUpWithGoSDK: a tool needing mcp:admin answers 403 insufficient_scope; the go-sdk client asks for
// the union of its scopes and the challenge's, the user consents again, and the retried call succeeds.
func TestStepUpWithGoSDK(t *testing.T) {
	e := newEnv(t, envOptions{beforeServe: addAdminTool})
	var rounds atomic.Int32
	// The first authorization asks for mcp:tools only, although the metadata lists mcp:admin too.
	filter := func(s []string) []string {
		if rounds.Add(1) == 1 {
			return []string{"mcp:tools"}
		}
		return s
	}
	h, hc, logins := e.oauthClient("alice", alicePW, nil, filter)
	cs := e.connectOAuth(h, hc, "2025-11-25")
	if w := callWhoami(t, cs); slices.Contains(w.Scopes, "mcp:admin") {
		t.Fatalf("first token already has mcp:admin: %v", w.Scopes)
	}
	if slices.Contains(toolNames(t, cs), "admin_tool") {
		t.Fatal("admin_tool listed without mcp:admin")
	}
	res, err := callTool(t, cs, "admin_tool", nil)
	if err != nil || res.IsError {
		t.Fatalf("after step-up: %v %+v", err, res)
	}
	if n := logins.Load(); n != 2 {
		t.Fatalf("%d authorizations, want 2 (login, then step-up)", n)
	}
	if w := callWhoami(t, cs); !slices.Contains(w.Scopes, "mcp:admin") || !slices.Contains(w.Scopes, "mcp:tools") {
		t.Fatalf("scopes after step-up %v", w.Scopes)
	}
	if !slices.Contains(toolNames(t, cs), "admin_tool") {
		t.Fatal("admin_tool not listed with mcp:admin")
	}
}

// dpopUpgrade is the DPoP transport for the go-sdk client: the SDK's StreamableClientTransport always writes
// "Authorization: Bearer <token>" (v1.8.0), so the token is taken from that header and sent as
// "Authorization: DPoP <token>" with a proof bound to it (RFC 9449 §7.1). Requests without a token (the
// token endpoint, metadata) get a proof without ath (§5).
func dpopUpgrade(key *dpop.Key) http.RoundTripper {
	return &dpop.Transport{Key: key, Token: dpop.TokenFromBearerHeader()}
}

func addAdminTool(s *mcp.Server) {
	err := s.AddTool(mcp.Tool{
		Name: "admin_tool", Description: "Needs mcp:admin.",
		Policy: mcp.Policy{Scopes: []string{"mcp:tools", "mcp:admin"}},
		Handler: func(ctx context.Context, call *mcp.ToolCall) (*mcp.ToolResult, error) {
			return mcp.TextResult("admin ok for " + call.Caller.Subject), nil
		},
	})
	if err != nil {
		panic(err)
	}
}
