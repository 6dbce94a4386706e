package gosdk_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ddls/mcpauth/dpop"
	"github.com/ddls/mcpauth/rs"
	"github.com/ddls/mcpauth/rs/gosdk"
)

// tokens is a Verifier over a fixed table of tokens: the bridge is under test here, not JWT verification.
type tokens struct {
	resource string
	byToken  map[string]*rs.Principal
}

func (v *tokens) Resource() string { return v.resource }
func (v *tokens) Issuer() string   { return "https://auth.example.com" }
func (v *tokens) Verify(_ context.Context, tok string) (*rs.Principal, error) {
	if p, ok := v.byToken[tok]; ok {
		return p, nil
	}
	return nil, &rs.Error{Status: 401, Code: rs.CodeInvalidToken, Description: "unknown token"}
}

type whoami struct {
	Sub    string   `json:"sub"`
	Org    string   `json:"org"`
	JKT    string   `json:"jkt"`
	Scopes []string `json:"scopes"`
	Claim  string   `json:"claim"`
}

type env struct {
	url   string
	key   *dpop.Key
	bound string // DPoP-bound token of key
	plain string // bearer token
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{url: "http://" + ln.Addr().String() + "/mcp", bound: "bound-token", plain: "plain-token"}
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if e.key, err = dpop.NewKey(priv, nil); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	v := &tokens{resource: e.url, byToken: map[string]*rs.Principal{
		e.bound: {Subject: "usr_alice", ClientID: "demo-cli", OrgID: "org_acme", Scopes: []string{"mcp:tools"}, JKT: e.key.Thumbprint(), Expiry: exp},
		e.plain: {Subject: "svc-reporter", ClientID: "svc-reporter", OrgID: "org_acme", Scopes: []string{"mcp:tools"}, Expiry: exp},
	}}
	mw, err := rs.New(v, &rs.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "the caller"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoami, error) {
			ti := req.Extra.TokenInfo
			p := gosdk.Principal(ti)
			if ti == nil || p == nil {
				return nil, whoami{}, errors.New("no token info")
			}
			claim, _ := ti.Extra["sub"].(string)
			return nil, whoami{Sub: ti.UserID, Org: p.OrgID, JKT: p.JKT, Scopes: ti.Scopes, Claim: claim}, nil
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	mux := http.NewServeMux()
	mux.Handle("/mcp", gosdk.Protect(mw, h, "mcp:tools"))
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	return e
}

func call(t *testing.T, url string, c *http.Client) (whoami, error) {
	t.Helper()
	ctx := context.Background()
	client := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: c, MaxRetries: -1}, nil)
	if err != nil {
		return whoami{}, err
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		return whoami{}, err
	}
	if res.IsError {
		t.Fatalf("tool error: %+v", res.Content)
	}
	var w whoami
	m, _ := res.StructuredContent.(map[string]any)
	w.Sub, _ = m["sub"].(string)
	w.Org, _ = m["org"].(string)
	w.JKT, _ = m["jkt"].(string)
	w.Claim, _ = m["claim"].(string)
	return w, nil
}

// The MCP Go SDK client, through dpop.Transport, reaches a go-sdk server behind rs with a DPoP-bound token;
// the tool sees the TokenInfo and the principal.
func TestProtectDPoP(t *testing.T) {
	e := newEnv(t)
	c := &http.Client{Transport: &dpop.Transport{Key: e.key, Token: dpop.StaticToken(e.bound)}}
	w, err := call(t, e.url, c)
	if err != nil {
		t.Fatal(err)
	}
	if w.Sub != "usr_alice" || w.Org != "org_acme" || w.JKT != e.key.Thumbprint() {
		t.Fatalf("whoami %+v", w)
	}
}

func TestProtectBearer(t *testing.T) {
	e := newEnv(t)
	c := &http.Client{Transport: bearer(e.plain)}
	w, err := call(t, e.url, c)
	if err != nil {
		t.Fatal(err)
	}
	if w.Sub != "svc-reporter" || w.JKT != "" {
		t.Fatalf("whoami %+v", w)
	}
}

// RFC 9449 §7.2: the bound token without its proof is refused before the SDK sees the request.
func TestProtectRefusesBoundAsBearer(t *testing.T) {
	e := newEnv(t)
	if _, err := call(t, e.url, &http.Client{Transport: bearer(e.bound)}); err == nil {
		t.Fatal("connected with a DPoP-bound token sent as bearer")
	}
	req, _ := http.NewRequest(http.MethodPost, e.url, nil)
	req.Header.Set("Authorization", "Bearer "+e.bound)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestWithTokenInfoWithoutRS(t *testing.T) {
	h := gosdk.WithTokenInfo(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Fatal("reached") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestWithTokenInfoKeepsAuthorization(t *testing.T) {
	p := &rs.Principal{Subject: "s", Expiry: time.Now().Add(-time.Hour)} // expired by the SDK's clock: rs decides
	h := gosdk.WithTokenInfo(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ti := auth.TokenInfoFromContext(r.Context())
		if ti == nil || ti.UserID != "s" || gosdk.Principal(ti) != p {
			t.Errorf("TokenInfo %+v", ti)
		}
		if got := r.Header.Get("Authorization"); got != "DPoP abc" {
			t.Errorf("Authorization %q", got)
		}
	}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "DPoP abc")
	r = r.WithContext(rs.ContextWithPrincipal(r.Context(), p))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 200 || r.Header.Get("Authorization") != "DPoP abc" {
		t.Fatalf("status %d, caller's header %q", rec.Code, r.Header.Get("Authorization"))
	}
}

func TestVerifier(t *testing.T) {
	e := &tokens{resource: "https://x/mcp", byToken: map[string]*rs.Principal{
		"b": {Subject: "s", JKT: "thumb", Expiry: time.Now().Add(time.Hour)},
		"p": {Subject: "s", Expiry: time.Now().Add(time.Hour)},
	}}
	tv := gosdk.Verifier(e)
	for tok, ok := range map[string]bool{"b": false, "p": true, "x": false} {
		ti, err := tv(context.Background(), tok, nil)
		if (err == nil) != ok || (err != nil && !errors.Is(err, auth.ErrInvalidToken)) || (ok && ti.UserID != "s") {
			t.Errorf("%s: %+v %v", tok, ti, err)
		}
	}
}

type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}
