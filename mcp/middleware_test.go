package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ddls/mcpauth/mcp"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMiddlewareChain: user middleware sees every MCP request with its caller, can transform arguments and
// results, rewrite metadata, answer itself, and refuse with a JSON-RPC error.
func TestMiddlewareChain(t *testing.T) {
	var logs syncBuffer
	var seen []string
	var mu sync.Mutex
	record := func(next mcp.Handler) mcp.Handler {
		return func(ctx context.Context, r *mcp.Request) (*mcp.Result, error) {
			mu.Lock()
			seen = append(seen, r.Method+" "+r.Name+" "+r.Caller.Subject)
			mu.Unlock()
			return next(ctx, r)
		}
	}
	refuse := func(next mcp.Handler) mcp.Handler {
		return func(ctx context.Context, r *mcp.Request) (*mcp.Result, error) {
			switch r.Name {
			case "refused":
				return nil, &mcp.Error{Code: -32042, Message: "not today"}
			case "broken":
				return nil, errors.New("database password is hunter2")
			case "cached":
				return mcp.NewResult(map[string]any{"content": []any{map[string]string{"type": "text", "text": "from cache"}}})
			}
			return next(ctx, r)
		}
	}
	e := newEnv(t, envOptions{
		mcpd: &mcp.Options{
			Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
			Middleware: []mcp.Middleware{
				record, refuse,
				mcp.Describe(map[string]string{"echo": "Echoes, as rewritten."}),
				mcp.TransformArguments("echo", func(_ context.Context, args json.RawMessage) (json.RawMessage, error) {
					var m map[string]any
					_ = json.Unmarshal(args, &m)
					m["text"] = strings.ToUpper(m["text"].(string))
					return json.Marshal(m)
				}),
				mcp.TransformResult("echo", func(_ context.Context, _ *mcp.Request, res *mcp.Result) error {
					var v map[string]any
					if err := res.Decode(&v); err != nil {
						return err
					}
					v["structuredContent"] = map[string]any{"transformed": true}
					return res.Replace(v)
				}),
			},
		},
		beforeServe: func(s *mcp.Server) {
			for _, name := range []string{"echo", "refused", "broken", "cached"} {
				err := s.AddTool(mcp.Tool{Name: name, Description: "Echoes.", Policy: mcp.Policy{Scopes: []string{"mcp:tools"}},
					Handler: func(_ context.Context, call *mcp.ToolCall) (*mcp.ToolResult, error) {
						var m map[string]string
						_ = json.Unmarshal(call.Arguments, &m)
						return mcp.TextResult(m["text"]), nil
					}})
				if err != nil {
					t.Fatal(err)
				}
			}
		},
	})
	tok := e.ccToken("svc-reporter", svcSecret, nil, "mcp:tools")
	cs := e.connect(httpClient(tok, nil), "2025-11-25")

	t.Run("argument_and_result_transforms", func(t *testing.T) {
		res, err := callTool(t, cs, "echo", map[string]any{"text": "quiet"})
		if err != nil {
			t.Fatal(err)
		}
		if tc, _ := res.Content[0].(*sdk.TextContent); tc == nil || tc.Text != "QUIET" {
			t.Fatalf("content %+v", res.Content)
		}
		if structured(t, res)["transformed"] != true {
			t.Fatalf("structured %v", res.StructuredContent)
		}
	})
	t.Run("metadata_rewriting", func(t *testing.T) {
		for tool, err := range cs.Tools(context.Background(), nil) {
			if err != nil {
				t.Fatal(err)
			}
			if tool.Name == "echo" && tool.Description != "Echoes, as rewritten." {
				t.Fatalf("description %q", tool.Description)
			}
		}
	})
	t.Run("jsonrpc_error_from_middleware", func(t *testing.T) {
		_, err := callTool(t, cs, "refused", nil)
		if wireCode(err) != -32042 || !strings.Contains(err.Error(), "not today") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("internal_error_hides_detail", func(t *testing.T) {
		_, err := callTool(t, cs, "broken", nil)
		if wireCode(err) != mcp.CodeInternalError || strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("middleware_answers_itself", func(t *testing.T) {
		res, err := callTool(t, cs, "cached", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc, _ := res.Content[0].(*sdk.TextContent); tc == nil || tc.Text != "from cache" {
			t.Fatalf("%+v", res.Content)
		}
	})
	t.Run("caller_and_log_lines", func(t *testing.T) {
		mu.Lock()
		got := strings.Join(seen, "\n")
		mu.Unlock()
		if !strings.Contains(got, "tools/call echo svc-reporter") || !strings.Contains(got, "tools/list  svc-reporter") {
			t.Fatalf("seen:\n%s", got)
		}
		out := logs.String()
		for _, want := range []string{`"msg":"mcp request"`, `"method":"tools/call"`, `"name":"echo"`, `"sub":"svc-reporter"`, `"outcome":"ok"`, `"latency_ms"`, `"outcome":"error"`, `"code":-32042`} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %s", want)
			}
		}
		if strings.Contains(out, tok) || strings.Contains(out, tok[len(tok)-20:]) || strings.Contains(out, "QUIET") {
			t.Fatal("a token or tool data in the logs")
		}
	})
}

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) mcp.Middleware {
		return func(next mcp.Handler) mcp.Handler {
			return func(ctx context.Context, r *mcp.Request) (*mcp.Result, error) {
				order = append(order, name)
				return next(ctx, r)
			}
		}
	}
	h := mcp.Chain(mw("a"), nil, mw("b"))(func(context.Context, *mcp.Request) (*mcp.Result, error) {
		order = append(order, "h")
		return mcp.NewResult(struct{}{})
	})
	if _, err := h(context.Background(), &mcp.Request{Method: mcp.MethodToolsList}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, "") != "abh" {
		t.Fatalf("order %v", order)
	}
}

func TestResult(t *testing.T) {
	r, err := mcp.NewResult(map[string]any{"isError": true, "content": []any{}})
	if err != nil || !r.IsError() {
		t.Fatalf("%v %v", err, r)
	}
	if err := r.Replace(map[string]any{"content": []any{}}); err != nil || r.IsError() {
		t.Fatal("replace")
	}
	if _, err := mcp.NewResult(func() {}); err == nil {
		t.Fatal("unencodable result accepted")
	}
	var nilResult *mcp.Result
	if nilResult.IsError() {
		t.Fatal("nil result is an error")
	}
}
