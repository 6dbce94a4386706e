package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ddls/mcpauth/mcp"
)

const tsDir = "e2e/ts"

// requireNode returns the node binary, skipping the test when node or the npm packages are missing, unless
// CI=true, where that is a failure.
func requireNode(t *testing.T, pkg string) string {
	t.Helper()
	missing := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: .ci/run installs it with `npm ci --prefix mcp/e2e/ts`)", why)
		}
		t.Skipf("%s: run `npm ci --prefix mcp/e2e/ts` to run this test", why)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(tsDir, "node_modules", filepath.FromSlash(pkg), "package.json")); err != nil {
		missing(pkg + " is not installed")
	}
	return node
}

type traceEntry struct {
	Method          string `json:"method"`
	URL             string `json:"url"`
	Status          int    `json:"status"`
	WWWAuthenticate string `json:"www_authenticate"`
}

type tsOutput struct {
	FirstError      string            `json:"first_error"`
	Steps           []string          `json:"steps"`
	Iss             string            `json:"iss"`
	AuthzRequest    map[string]string `json:"authorization_request"`
	TokenType       string            `json:"token_type"`
	ProtocolVersion string            `json:"protocol_version"`
	SessionID       string            `json:"session_id"`
	Tools           []string          `json:"tools"`
	Whoami          mcp.Whoami        `json:"whoami"`
	WhoamiIsError   bool              `json:"whoami_is_error"`
	Trace           []traceEntry      `json:"trace"`
}

// TestTypeScriptClient drives the MCP TypeScript SDK client (@modelcontextprotocol/sdk from npm) against
// authd seeded with the shipped bootstrap file and mcpd: 401 → protected resource metadata → AS metadata →
// authorization code + PKCE with the pre-registered public client through the login and consent forms →
// tools/list → whoami.
func TestTypeScriptClient(t *testing.T) {
	node := requireNode(t, "@modelcontextprotocol/sdk")
	e := newEnv(t, envOptions{bootstrap: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = tsDir
	cmd.Env = append(os.Environ(),
		"MCP_URL="+e.resource, "CLIENT_ID=demo-cli",
		// RFC 8252 §7.3: any port on the loopback redirect URI; nothing needs to listen on it.
		"REDIRECT_URI=http://127.0.0.1:49151/callback",
		"USERNAME=alice", "PASSWORD="+alicePW)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node client.mjs: %v\nstderr:\n%s", err, stderr.String())
	}
	var out tsOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("output: %v\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}

	if out.FirstError != "UnauthorizedError" || !slices.Equal(out.Steps, []string{"login", "consent"}) || out.Iss != e.issuer {
		t.Errorf("authorization: first error %q, steps %v, iss %q", out.FirstError, out.Steps, out.Iss)
	}
	q := out.AuthzRequest
	if q["client_id"] != "demo-cli" || q["code_challenge_method"] != "S256" || q["code_challenge"] == "" ||
		q["resource"] != e.resource || q["response_type"] != "code" {
		t.Errorf("authorization request %v", q)
	}
	// The discovery order of the MCP authorization spec: 401 with resource_metadata, the metadata, then the
	// authorization server's metadata, then the token endpoint.
	order := []string{
		"POST " + e.resource + " 401",
		"GET " + e.base + "/.well-known/oauth-protected-resource/mcp 200",
		"GET " + e.issuer + "/.well-known/oauth-authorization-server 200",
		"POST " + e.issuer + "/token 200",
		"POST " + e.resource + " 200",
	}
	i := 0
	for _, tr := range out.Trace {
		if i < len(order) && tr.Method+" "+tr.URL+" "+itoa(tr.Status) == order[i] {
			i++
		}
	}
	if i != len(order) {
		var got []string
		for _, tr := range out.Trace {
			got = append(got, tr.Method+" "+tr.URL+" "+itoa(tr.Status))
		}
		t.Errorf("trace missing %q; got:\n%s", order[i], strings.Join(got, "\n"))
	}
	if out.Trace[0].Status == 401 && !strings.Contains(out.Trace[0].WWWAuthenticate, "resource_metadata=") {
		t.Errorf("first challenge %q", out.Trace[0].WWWAuthenticate)
	}
	if !strings.EqualFold(out.TokenType, "bearer") || out.ProtocolVersion == "" || out.SessionID == "" {
		t.Errorf("token type %q, protocol %q, session %q", out.TokenType, out.ProtocolVersion, out.SessionID)
	}
	if !slices.Contains(out.Tools, "whoami") || out.WhoamiIsError {
		t.Errorf("tools %v, whoami error %v", out.Tools, out.WhoamiIsError)
	}
	w := out.Whoami
	if w.ClientID != "demo-cli" || w.Subject == "" || w.OrgID != "org_acme" || !slices.Contains(w.Scopes, "mcp:tools") ||
		w.TokenType != "Bearer" || w.Audience != e.resource || w.SessionID != out.SessionID {
		t.Errorf("whoami %+v", w)
	}
	t.Logf("TS SDK: protocol %s, tools %v, whoami sub=%s scopes=%v connections=%v", out.ProtocolVersion, out.Tools, w.Subject, w.Scopes, w.Connections)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
