package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ddls/mcpauth/mcp"
)

var (
	echoOnce sync.Once
	echoPath string
	echoErr  error
)

// echoServer builds the in-repo stdio MCP server once per test binary.
func echoServer(t testing.TB) string {
	t.Helper()
	echoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mcpd-echoserver")
		if err != nil {
			echoErr = err
			return
		}
		echoPath = filepath.Join(dir, "echoserver")
		out, err := exec.Command("go", "build", "-o", echoPath, "./internal/echoserver").CombinedOutput()
		if err != nil {
			echoErr = errors.New(string(out))
		}
	})
	if echoErr != nil {
		t.Fatalf("building echoserver: %v", echoErr)
	}
	return echoPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if echoPath != "" {
		_ = os.RemoveAll(filepath.Dir(echoPath))
	}
	os.Exit(code)
}

// waitTools waits until the upstream is connected and exposes n tools at least.
func waitUpstream(t testing.TB, s *mcp.Server, name string, cond func(mcp.UpstreamStatus) bool) mcp.UpstreamStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last mcp.UpstreamStatus
	for time.Now().Before(deadline) {
		for _, st := range s.Upstreams() {
			if st.Name == name {
				last = st
				if cond(st) {
					return st
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("upstream %s: condition not met; last status %+v", name, last)
	return last
}

func connected(min int) func(mcp.UpstreamStatus) bool {
	return func(st mcp.UpstreamStatus) bool { return st.Connected && st.Tools >= min }
}

func callTool(t testing.TB, cs *sdk.ClientSession, name string, args any) (*sdk.CallToolResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
}

func structured(t testing.TB, res *sdk.CallToolResult) map[string]any {
	t.Helper()
	b, _ := json.Marshal(res.StructuredContent)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func wireCode(err error) int64 {
	var we *jsonrpc.Error
	if errors.As(err, &we) {
		return we.Code
	}
	return 0
}

func echoUpstream(t testing.TB) mcp.Upstream {
	return mcp.Upstream{
		Name: "echo", Command: echoServer(t),
		Env:        map[string]string{"ECHO_VALUE": "configured"},
		Policy:     mcp.Policy{Scopes: []string{"mcp:tools"}},
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Tools: map[string]mcp.ToolOverride{
			"admin_echo":  {Scopes: []string{"mcp:tools", "mcp:admin"}},
			"github_echo": {Connections: []string{"conn_github"}},
			"secret":      {Hidden: true},
			"echo":        {Description: "Echoes its text (through mcpd)."},
		},
	}
}

func TestGatewayStdio(t *testing.T) {
	e := newEnv(t, envOptions{beforeServe: func(s *mcp.Server) {
		if err := s.AddUpstream(echoUpstream(t)); err != nil {
			t.Fatal(err)
		}
	}})
	waitUpstream(t, e.mcpd, "echo", connected(5))
	t.Setenv("MCPD_TEST_SECRET", "must-not-leak") // the gateway's environment is not the upstream's

	reporter := e.connect(httpClient(e.ccToken("svc-reporter", svcSecret, nil, "mcp:tools"), nil), "2025-11-25")
	other := e.connect(httpClient(e.ccToken("svc-other", otherSecret, nil, "mcp:tools"), nil), "2026-07-28")

	t.Run("tools_under_prefix_follow_the_caller", func(t *testing.T) {
		got := toolNames(t, reporter)
		for _, want := range []string{"whoami", "echo_echo", "echo_github_echo", "echo_fail", "echo_env", "echo_crash"} {
			if !slices.Contains(got, want) {
				t.Errorf("reporter: %s missing from %v", want, got)
			}
		}
		for _, never := range []string{"echo", "echo_secret", "secret", "echo_admin_echo"} {
			if slices.Contains(got, never) {
				t.Errorf("reporter: %s listed: %v", never, got)
			}
		}
		got = toolNames(t, other)
		if slices.Contains(got, "echo_github_echo") || !slices.Contains(got, "echo_echo") {
			t.Errorf("other (no conn_github): %v", got)
		}
	})
	t.Run("rfc9728_2_scopes_supported_names_upstream_scopes", func(t *testing.T) {
		e := e.with(t)
		r := e.raw(rawReq{method: http.MethodGet, path: "/.well-known/oauth-protected-resource/mcp"})
		if !strings.Contains(r.body, `"mcp:admin"`) || !strings.Contains(r.body, `"mcp:tools"`) {
			t.Fatalf("metadata %s", r.body)
		}
	})
	t.Run("description_rewritten", func(t *testing.T) {
		ctx := context.Background()
		for tool, err := range reporter.Tools(ctx, nil) {
			if err != nil {
				t.Fatal(err)
			}
			if tool.Name == "echo_echo" && tool.Description != "Echoes its text (through mcpd)." {
				t.Fatalf("description %q", tool.Description)
			}
		}
	})
	t.Run("call_through_gateway", func(t *testing.T) {
		res, err := callTool(t, reporter, "echo_echo", map[string]any{"text": "hi"})
		if err != nil || res.IsError || structured(t, res)["text"] != "hi" {
			t.Fatalf("%v %+v", err, res)
		}
	})
	t.Run("tool_error_is_a_result", func(t *testing.T) {
		res, err := callTool(t, reporter, "echo_fail", nil)
		if err != nil || !res.IsError {
			t.Fatalf("%v %+v", err, res)
		}
	})
	t.Run("hidden_tool_is_unknown", func(t *testing.T) {
		_, err := callTool(t, reporter, "echo_secret", nil)
		if wireCode(err) != jsonrpc.CodeInvalidParams || !strings.Contains(err.Error(), "unknown tool") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("missing_connection_is_unknown", func(t *testing.T) {
		_, err := callTool(t, other, "echo_github_echo", map[string]any{"text": "x"})
		if wireCode(err) != jsonrpc.CodeInvalidParams {
			t.Fatalf("%v", err)
		}
	})
	t.Run("upstream_env_is_minimal", func(t *testing.T) {
		res, err := callTool(t, reporter, "echo_env", nil)
		if err != nil {
			t.Fatal(err)
		}
		m := structured(t, res)
		names, _ := json.Marshal(m["names"])
		if m["value"] != "configured" || strings.Contains(string(names), "MCPD_TEST_SECRET") {
			t.Fatalf("%v", m)
		}
	})
	t.Run("prompt_and_resource", func(t *testing.T) {
		ctx := context.Background()
		pr, err := reporter.GetPrompt(ctx, &sdk.GetPromptParams{Name: "echo_greet", Arguments: map[string]string{"who": "alice"}})
		if err != nil || len(pr.Messages) != 1 {
			t.Fatalf("%v %+v", err, pr)
		}
		rr, err := reporter.ReadResource(ctx, &sdk.ReadResourceParams{URI: "echo://readme"})
		if err != nil || len(rr.Contents) != 1 || rr.Contents[0].Text != "echo server" {
			t.Fatalf("%v %+v", err, rr)
		}
	})
	t.Run("crash_is_a_clean_error_and_the_upstream_restarts", func(t *testing.T) {
		before := e.mcpd.Upstreams()[0].Restarts
		_, err := callTool(t, reporter, "echo_crash", nil)
		if code := wireCode(err); code != mcp.CodeUpstreamUnavailable {
			t.Fatalf("crash: code %d (%v)", code, err)
		}
		waitUpstream(t, e.mcpd, "echo", func(st mcp.UpstreamStatus) bool { return st.Connected && st.Restarts > before })
		res, err := callTool(t, reporter, "echo_echo", map[string]any{"text": "again"})
		if err != nil || structured(t, res)["text"] != "again" {
			t.Fatalf("after restart: %v %+v", err, res)
		}
	})
}

func TestGatewayTimeout(t *testing.T) {
	up := echoUpstream(t)
	up.Timeout = 300 * time.Millisecond
	e := newEnv(t, envOptions{beforeServe: func(s *mcp.Server) {
		if err := s.AddUpstream(up); err != nil {
			t.Fatal(err)
		}
	}})
	waitUpstream(t, e.mcpd, "echo", connected(5))
	cs := e.connect(httpClient(e.ccToken("svc-reporter", svcSecret, nil), nil), "2025-11-25")
	_, err := callTool(t, cs, "echo_sleep", map[string]any{"millis": 5000})
	if wireCode(err) != mcp.CodeUpstreamUnavailable || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("%v", err)
	}
	res, err := callTool(t, cs, "echo_sleep", map[string]any{"millis": 1})
	if err != nil || res.IsError {
		t.Fatalf("%v %+v", err, res)
	}
}

// TestGatewayHTTPNoTokenPassthrough fronts a Streamable HTTP upstream that records what it receives: the
// gateway's own credentials reach it, the caller's token never does.
func TestGatewayHTTPNoTokenPassthrough(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	up := sdk.NewServer(&sdk.Implementation{Name: "http-upstream", Version: "1"}, nil)
	sdk.AddTool(up, &sdk.Tool{Name: "hello"}, func(context.Context, *sdk.CallToolRequest, struct{}) (*sdk.CallToolResult, struct {
		Hello string `json:"hello"`
	}, error) {
		return nil, struct {
			Hello string `json:"hello"`
		}{"world"}, nil
	})
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return up }, nil)
	uts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer gateway-own-token" || r.Header.Get("X-Api-Key") != "k-123" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(uts.Close) // after mcpd's cleanup, which ends the gateway's streams to it

	e := newEnv(t, envOptions{beforeServe: func(s *mcp.Server) {
		err := s.AddUpstream(mcp.Upstream{
			Name: "remote", URL: uts.URL, Header: http.Header{"X-Api-Key": {"k-123"}},
			Token:  func(context.Context) (string, error) { return "gateway-own-token", nil },
			Policy: mcp.Policy{Scopes: []string{"mcp:tools"}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}})
	waitUpstream(t, e.mcpd, "remote", connected(1))
	tok := e.ccToken("svc-reporter", svcSecret, nil)
	cs := e.connect(httpClient(tok, nil), "2025-11-25")
	res, err := callTool(t, cs, "remote_hello", nil)
	if err != nil || structured(t, res)["hello"] != "world" {
		t.Fatalf("%v %+v", err, res)
	}
	mu.Lock()
	got := slices.Clone(seen)
	mu.Unlock()
	if len(got) == 0 {
		t.Fatal("the upstream saw no request")
	}
	for _, hd := range got {
		for k, vs := range hd {
			for _, v := range vs {
				if strings.Contains(v, tok) || strings.Contains(v, tok[:20]) {
					t.Fatalf("the caller's token reached the upstream in %s", k)
				}
			}
		}
		if hd.Get("Dpop") != "" {
			t.Fatal("a DPoP header reached the upstream")
		}
	}
}

// TestGatewayServerEverything fronts a real third-party MCP server, @modelcontextprotocol/server-everything
// from npm, over stdio: its tools appear under the prefix, can be called, and its environment is the
// gateway's minimal one.
func TestGatewayServerEverything(t *testing.T) {
	requireNode(t, "@modelcontextprotocol/server-everything")
	bin, err := filepath.Abs(filepath.Join(tsDir, "node_modules", ".bin", "mcp-server-everything"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MCPD_TEST_SECRET", "must-not-leak")
	e := newEnv(t, envOptions{beforeServe: func(s *mcp.Server) {
		err := s.AddUpstream(mcp.Upstream{
			Name: "everything", Command: bin, Args: []string{"stdio"},
			Policy: mcp.Policy{Scopes: []string{"mcp:tools"}},
			Tools:  map[string]mcp.ToolOverride{"get-sum": {Scopes: []string{"mcp:tools", "mcp:admin"}}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}})
	waitUpstream(t, e.mcpd, "everything", connected(5))
	cs := e.connect(httpClient(e.ccToken("svc-reporter", svcSecret, nil, "mcp:tools"), nil), "2025-11-25")
	names := toolNames(t, cs)
	for _, want := range []string{"whoami", "everything_echo", "everything_get-env"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s missing from %v", want, names)
		}
	}
	for _, n := range names {
		if n != "whoami" && !strings.HasPrefix(n, "everything_") {
			t.Errorf("tool %s without the prefix", n)
		}
	}
	if slices.Contains(names, "everything_get-sum") {
		t.Error("everything_get-sum listed without mcp:admin")
	}
	res, err := callTool(t, cs, "everything_echo", map[string]any{"message": "through mcpd"})
	if err != nil || res.IsError || len(res.Content) != 1 {
		t.Fatalf("echo: %v %+v", err, res)
	}
	if tc, ok := res.Content[0].(*sdk.TextContent); !ok || tc.Text != "Echo: through mcpd" {
		t.Fatalf("echo content %#v", res.Content[0])
	}
	res, err = callTool(t, cs, "everything_get-env", nil)
	if err != nil || len(res.Content) == 0 {
		t.Fatalf("get-env: %v %+v", err, res)
	}
	if tc, ok := res.Content[0].(*sdk.TextContent); !ok || strings.Contains(tc.Text, "MCPD_TEST_SECRET") {
		t.Fatal("the gateway's environment reached the upstream")
	}
	// Invalid arguments are the upstream's business; the answer comes back as a result or a JSON-RPC error,
	// never as a transport failure.
	if _, err := callTool(t, cs, "everything_echo", map[string]any{"message": 42}); err != nil && wireCode(err) == mcp.CodeUpstreamUnavailable {
		t.Fatalf("bad arguments: %v", err)
	}
	st := e.mcpd.Upstreams()[0]
	t.Logf("server-everything: %d tools, %d prompts, %d resources", st.Tools, st.Prompts, st.Resources)
}
