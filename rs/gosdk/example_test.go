package gosdk_test

import (
	"context"
	"log"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ddls/mcpauth/rs"
	"github.com/ddls/mcpauth/rs/gosdk"
)

// An MCP server on the Go SDK, protected by rs: Bearer and DPoP tokens, and the caller in every tool call.
func ExampleProtect() {
	ctx := context.Background()
	v, err := rs.NewJWTVerifier(ctx, "https://auth.example.com", "https://mcp.example.com/mcp", nil)
	if err != nil {
		log.Fatal(err)
	}
	mw, err := rs.New(v, nil)
	if err != nil {
		log.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "example", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "Who is calling"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, map[string]any, error) {
			p := gosdk.Principal(req.Extra.TokenInfo)
			return nil, map[string]any{"sub": p.Subject, "org_id": p.OrgID, "connections": p.Connections}, nil
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	http.Handle("/mcp", gosdk.Protect(mw, h, "mcp:tools"))
	log.Fatal(http.ListenAndServe(":8000", nil))
}
