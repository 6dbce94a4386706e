package mcp

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/ddls/mcpauth/rs"
)

// The access token and the DPoP proof stop at the bridge: what is behind it (the SDK, tool handlers,
// upstream calls) sees the caller only as a TokenInfo.
func TestBridgeStripsCredentials(t *testing.T) {
	s := &Server{}
	var got http.Header
	var ti *auth.TokenInfo
	h := s.bridge(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ti = r.Header.Clone(), auth.TokenInfoFromContext(r.Context())
	}))
	p := &rs.Principal{Subject: "usr_alice", ClientID: "demo-cli", Scopes: []string{"mcp:tools"}, Expiry: time.Now().Add(time.Minute)}
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Header.Set("Authorization", "DPoP the-access-token")
	req.Header.Set("DPoP", "the-proof")
	req = req.WithContext(rs.ContextWithPrincipal(req.Context(), p))
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got == nil || got.Get("Authorization") != "" || got.Get("DPoP") != "" {
		t.Fatalf("credentials passed on: %v", got)
	}
	if ti == nil || ti.UserID != "usr_alice" || principalOf(nil) != nil {
		t.Fatalf("token info %+v", ti)
	}
	if req.Header.Get("Authorization") != "DPoP the-access-token" {
		t.Fatal("the caller's request was modified")
	}
}

// A name belongs to whoever claimed it first (the server, an upstream) until released by its owner.
func TestClaim(t *testing.T) {
	s := &Server{}
	steps := []struct {
		op, owner string
		want      bool
	}{
		{"claim", "", true},     // the server's whoami
		{"claim", "a", false},   // an upstream exposing whoami
		{"claim", "", true},     // replacing one's own
		{"release", "a", false}, // not a's to release
		{"claim", "b", false},   // still the server's
		{"release", "", false},  // released by its owner
		{"claim", "b", true},    // now free
	}
	for i, st := range steps {
		switch st.op {
		case "claim":
			if got := s.claim("tool", "whoami", st.owner); got != st.want {
				t.Fatalf("step %d: claim by %q = %v", i, st.owner, got)
			}
		case "release":
			s.release("tool", st.owner, "whoami")
		}
	}
	if !s.claim("prompt", "whoami", "a") {
		t.Fatal("kinds share names")
	}
}
