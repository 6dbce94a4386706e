package rs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/ddls/mcpauth/prm"
	"github.com/ddls/mcpauth/rs"
)

// A resource server for https://api.example.com/mcp, trusting the tokens of https://auth.example.com.
func ExampleNewJWTVerifier() {
	ctx := context.Background()
	v, err := rs.NewJWTVerifier(ctx, "https://auth.example.com", "https://api.example.com/mcp", nil)
	if err != nil {
		log.Fatal(err) // the issuer's metadata or keys could not be fetched
	}
	mw, err := rs.New(v, nil)
	if err != nil {
		log.Fatal(err)
	}

	md := mw.Metadata()
	md.ScopesSupported = []string{"mcp:tools", "mcp:admin"}
	md.ResourceName = "Example MCP server"
	meta, err := prm.NewHandler(md)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	for _, p := range meta.Paths() {
		mux.Handle(p, meta)
	}
	mux.Handle("/mcp", mw.Require("mcp:tools")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := rs.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "hello %s of %s\n", p.Subject, p.OrgID)
	})))
	log.Fatal(http.ListenAndServe(":8000", mux))
}

// Introspection instead of local JWT verification: revocation is seen at once when the cache is off.
func ExampleNewIntrospectionVerifier() {
	v, err := rs.NewIntrospectionVerifier(context.Background(), "https://auth.example.com", "https://api.example.com/mcp",
		"api-introspector", "its-secret", &rs.IntrospectionOptions{CacheTTL: -1})
	if err != nil {
		log.Fatal(err)
	}
	mw, err := rs.New(v, &rs.Options{RequireDPoP: true})
	if err != nil {
		log.Fatal(err)
	}
	_ = mw
}

// staticVerifier accepts one token: a Verifier can be anything that returns a Principal.
type staticVerifier struct{}

func (staticVerifier) Resource() string { return "https://api.example.com/mcp" }
func (staticVerifier) Issuer() string   { return "https://auth.example.com" }
func (staticVerifier) Verify(_ context.Context, token string) (*rs.Principal, error) {
	if token != "let-me-in" {
		return nil, &rs.Error{Status: http.StatusUnauthorized, Code: rs.CodeInvalidToken, Description: "Unknown token."}
	}
	return &rs.Principal{Subject: "usr_alice", Scopes: []string{"mcp:tools"}, Expiry: time.Now().Add(time.Minute)}, nil
}

func ExampleNew() {
	mw, err := rs.New(staticVerifier{}, &rs.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello", rs.PrincipalFrom(r.Context()).Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /mcp/hello", mw.Require("mcp:tools")(hello))
	mux.Handle("GET /mcp/admin", mw.Require("mcp:admin")(hello))

	for _, tc := range []struct{ path, authz string }{
		{"/mcp/hello", ""},
		{"/mcp/hello", "Bearer let-me-in"},
		{"/mcp/admin", "Bearer let-me-in"},
	} {
		r := httptest.NewRequest(http.MethodGet, "https://api.example.com"+tc.path, nil)
		if tc.authz != "" {
			r.Header.Set("Authorization", tc.authz)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Header().Get("WWW-Authenticate"))))
	}
	// Output:
	// 401 Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", DPoP algs="ES256 RS256 PS256 EdDSA", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"
	// 200
	// 403 Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", error="insufficient_scope", error_description="The access token does not grant the scope this operation requires.", scope="mcp:admin", DPoP algs="ES256 RS256 PS256 EdDSA", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", error="insufficient_scope", error_description="The access token does not grant the scope this operation requires.", scope="mcp:admin"
}

func ExamplePrincipalFrom() {
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := rs.PrincipalFrom(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]any{
			"sub": p.Subject, "client_id": p.ClientID, "org_id": p.OrgID, "connections": p.Connections, "dpop": p.JKT != "",
		})
	})
	// In a test of the handler, put a principal in the context yourself.
	r := httptest.NewRequest(http.MethodGet, "/whoami", nil)
	r = r.WithContext(rs.ContextWithPrincipal(r.Context(), &rs.Principal{Subject: "usr_alice", ClientID: "demo-cli", OrgID: "org_acme", Connections: []string{"conn_github"}}))
	w := httptest.NewRecorder()
	whoami.ServeHTTP(w, r)
	fmt.Print(w.Body)
	// Output: {"client_id":"demo-cli","connections":["conn_github"],"dpop":false,"org_id":"org_acme","sub":"usr_alice"}
}

// A handler checking a finer scope itself answers with the same challenge as the middleware (step-up).
func ExampleMiddleware_WriteError() {
	mw, err := rs.New(staticVerifier{}, &rs.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	deleteRepo := mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rs.PrincipalFrom(r.Context()).HasScope("repo:delete") {
			mw.WriteError(w, r, rs.InsufficientScope("repo:delete"))
			return
		}
		fmt.Fprintln(w, "deleted")
	}))
	r := httptest.NewRequest(http.MethodDelete, "https://api.example.com/mcp/repo", nil)
	r.Header.Set("Authorization", "Bearer let-me-in")
	w := httptest.NewRecorder()
	deleteRepo.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body.String())
	// Output: 403 {"error":"insufficient_scope","error_description":"The access token does not grant the scope this operation requires.","scope":"repo:delete"}
}
