package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/ddls/mcpauth/mcp"
	"github.com/ddls/mcpauth/rs"
)

// A protected MCP server: rs verifies authd's tokens for the resource, mcp serves the MCP endpoint at the
// resource's path and the protected resource metadata, and fronts a stdio MCP server.
func ExampleNew() {
	ctx := context.Background()
	v, err := rs.NewJWTVerifier(ctx, "http://localhost:9000", "http://localhost:8000/mcp", nil)
	if err != nil {
		log.Fatal(err)
	}
	auth, err := rs.New(v, nil)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := mcp.New(auth, &mcp.Options{ResourceName: "Demo MCP server", AllowedOrigins: []string{"http://localhost:6274"}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	err = srv.AddTool(mcp.Tool{
		Name:        "hello",
		Description: "Greets the caller.",
		Policy:      mcp.Policy{Scopes: []string{"mcp:tools"}},
		Handler: func(ctx context.Context, call *mcp.ToolCall) (*mcp.ToolResult, error) {
			return mcp.TextResult("hello, " + call.Caller.Subject), nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	err = srv.AddUpstream(mcp.Upstream{
		Name:    "everything",
		Command: "mcp-server-everything",
		Args:    []string{"stdio"},
		Policy:  mcp.Policy{Scopes: []string{"mcp:tools"}},
		Tools:   map[string]mcp.ToolOverride{"get-env": {Hidden: true}},
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:8000", srv.Handler()))
}

// The configuration file: problems come back all at once, each with its line.
func ExampleParseConfig() {
	_, err := mcp.ParseConfig("mcpd.yaml", []byte(`
session_timeout: 10
upstreams:
  - name: everything
    comand: mcp-server-everything
`), nil)
	fmt.Println(err)
	// Output:
	// mcpd.yaml:2: session_timeout: must be a duration with a unit between 1ms and 24h, like 30s or 10m
	// mcpd.yaml:5: upstreams[0].comand: unknown key (did you mean command?)
}

// Middleware composes like rs middleware: here a timing middleware around an argument transform.
func ExampleChain() {
	timing := func(next mcp.Handler) mcp.Handler {
		return func(ctx context.Context, r *mcp.Request) (*mcp.Result, error) {
			start := time.Now()
			res, err := next(ctx, r)
			_ = time.Since(start) // report it somewhere
			return res, err
		}
	}
	redact := mcp.TransformArguments("search", func(_ context.Context, args json.RawMessage) (json.RawMessage, error) {
		var m map[string]any
		if err := json.Unmarshal(args, &m); err != nil {
			return nil, &mcp.Error{Code: mcp.CodeInvalidParams, Message: "arguments must be an object"}
		}
		delete(m, "api_key")
		return json.Marshal(m)
	})
	tool := func(_ context.Context, r *mcp.Request) (*mcp.Result, error) {
		fmt.Println("the tool gets", string(r.Arguments))
		return mcp.NewResult(map[string]any{"content": []any{}})
	}
	h := mcp.Chain(timing, redact)(tool)
	_, _ = h(context.Background(), &mcp.Request{Method: mcp.MethodToolsCall, Name: "search", Arguments: json.RawMessage(`{"q":"mcp","api_key":"k"}`)})
	// Output: the tool gets {"q":"mcp"}
}
