package bootstrap

import (
	"context"
	"os"
	"testing"

	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/as/store/memory"
)

// FuzzParse: Parse never panics; whatever it accepts is stable under re-validation and applies cleanly to an
// empty store (validation catches everything the store would refuse).
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(examplePath); err == nil {
		f.Add(b)
	}
	f.Add([]byte(prelude))
	f.Add([]byte(client("client_id: c", "public: true", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]")))
	f.Add([]byte(user("username: a", "password: aaaaaaaa", "organizations: [{id: org_a, role: admin}]")))
	f.Add([]byte(`{"resources": [{"uri": "https://x.example/mcp", "scopes": [{"name": "a", "default": true}]}]}`))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("clients: [{jwks: {keys: [{kty: EC, crv: P-256, x: 1, y: 2}]}}]\n"))
	f.Add([]byte("resources:\n  - uri: https://x.example/mcp\n    access_token_ttl: 1h\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			return
		}
		ps := &problems{lines: file.lines}
		file.clone().validate(ps)
		if err := ps.err(); err != nil {
			t.Fatalf("a parsed file fails re-validation: %v", err)
		}
		if err := Apply(context.Background(), memory.New(store.Options{}), file, fast); err != nil {
			t.Fatalf("a parsed file does not apply: %v", err)
		}
	})
}
