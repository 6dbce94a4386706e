package prm_test

import (
	"fmt"
	"net/http"

	"github.com/ddls/mcpauth/prm"
)

func ExampleNewHandler() {
	h, err := prm.NewHandler(&prm.Metadata{
		Resource:             "https://api.example.com/mcp",
		AuthorizationServers: []string{"https://auth.example.com"},
		ScopesSupported:      []string{"mcp:tools"},
		ResourceName:         "Example MCP server",
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	for _, p := range h.Paths() {
		mux.Handle(p, h) // no method in the pattern: CORS preflights must reach the handler
	}
	fmt.Println(h.Paths())
	// Output: [/.well-known/oauth-protected-resource/mcp /.well-known/oauth-protected-resource]
}

func ExampleMetadataURL() {
	u, err := prm.MetadataURL("https://api.example.com/mcp")
	if err != nil {
		panic(err)
	}
	fmt.Println(u)
	// Output: https://api.example.com/.well-known/oauth-protected-resource/mcp
}

func ExampleParse() {
	doc := []byte(`{"resource":"https://api.example.com/mcp","authorization_servers":["https://auth.example.com"]}`)
	md, err := prm.Parse(doc, "https://api.example.com/mcp")
	if err != nil {
		panic(err)
	}
	fmt.Println(md.AuthorizationServers[0])
	// Output: https://auth.example.com
}
