package prm

import (
	"bytes"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func testMetadata() *Metadata {
	return &Metadata{
		Resource:                      "HTTPS://API.example.com:443/mcp/",
		AuthorizationServers:          []string{"https://auth.example.com"},
		ScopesSupported:               []string{"mcp:tools", "mcp:admin"},
		ResourceName:                  "Example MCP server",
		ResourceDocumentation:         "https://docs.example.com/mcp",
		DPoPSigningAlgValuesSupported: []string{"ES256", "EdDSA", "RS256", "PS256"},
		DPoPBoundAccessTokensRequired: true,
	}
}

func TestGolden(t *testing.T) {
	h, err := NewHandler(testMetadata())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "metadata.golden.json")
	got := h.Document()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./prm -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("document differs from %s (go test ./prm -update to accept):\n%s", golden, got)
	}
}

func TestMetadataURL(t *testing.T) {
	for _, tc := range []struct{ resource, want string }{
		{"https://x.example/api", "https://x.example/.well-known/oauth-protected-resource/api"},
		{"https://x.example/api/", "https://x.example/.well-known/oauth-protected-resource/api"},
		{"https://x.example", "https://x.example/.well-known/oauth-protected-resource"},
		{"https://x.example/", "https://x.example/.well-known/oauth-protected-resource"},
		{"HTTPS://X.example:443/a/b", "https://x.example/.well-known/oauth-protected-resource/a/b"},
		{"http://127.0.0.1:8080/api", "http://127.0.0.1:8080/.well-known/oauth-protected-resource/api"},
		{"https://x.example/a%20b", "https://x.example/.well-known/oauth-protected-resource/a%20b"},
		// RFC 9728 §3.1: the query stays after the inserted path.
		{"https://x.example/api?t=1", "https://x.example/.well-known/oauth-protected-resource/api?t=1"},
	} {
		got, err := MetadataURL(tc.resource)
		if err != nil || got != tc.want {
			t.Errorf("MetadataURL(%q) = %q, %v; want %q", tc.resource, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "/api", "https://x/#f", "ftp://x/a", "https://u@x/a"} {
		if got, err := MetadataURL(bad); err == nil {
			t.Errorf("MetadataURL(%q) = %q, want an error", bad, got)
		}
	}
}

func TestHandler(t *testing.T) {
	h, err := NewHandler(testMetadata())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.Paths(), " "); got != "/.well-known/oauth-protected-resource/mcp /.well-known/oauth-protected-resource" {
		t.Fatalf("Paths() = %s", got)
	}
	for _, tc := range []struct {
		name, method, path string
		status             int
	}{
		{"rfc9728_3.1_path_suffixed", http.MethodGet, "/.well-known/oauth-protected-resource/mcp", 200},
		{"root_fallback", http.MethodGet, "/.well-known/oauth-protected-resource", 200},
		{"head", http.MethodHead, "/.well-known/oauth-protected-resource/mcp", 200},
		{"cors_preflight", http.MethodOptions, "/.well-known/oauth-protected-resource/mcp", 204},
		{"other_resource_path", http.MethodGet, "/.well-known/oauth-protected-resource/other", 404},
		{"trailing_slash", http.MethodGet, "/.well-known/oauth-protected-resource/mcp/", 404},
		{"post", http.MethodPost, "/.well-known/oauth-protected-resource/mcp", 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req.Header.Set("Origin", "https://app.example")
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status == 404 {
				return
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin = %q", got)
			}
			if tc.status != 200 {
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if tc.method == http.MethodGet {
				md, err := Parse(rec.Body.Bytes(), "https://api.example.com/mcp")
				if err != nil {
					t.Fatal(err)
				}
				if md.BearerMethodsSupported[0] != "header" || !md.DPoPBoundAccessTokensRequired {
					t.Errorf("document %+v", md)
				}
			}
		})
	}
}

func TestNewHandlerRefuses(t *testing.T) {
	for name, mut := range map[string]func(*Metadata){
		"no_resource":         func(m *Metadata) { m.Resource = "" },
		"relative_resource":   func(m *Metadata) { m.Resource = "/mcp" },
		"fragment":            func(m *Metadata) { m.Resource = "https://x/mcp#a" },
		"no_as":               func(m *Metadata) { m.AuthorizationServers = nil },
		"as_with_query":       func(m *Metadata) { m.AuthorizationServers = []string{"https://as?x=1"} },
		"as_relative":         func(m *Metadata) { m.AuthorizationServers = []string{"as.example"} },
		"bad_scope":           func(m *Metadata) { m.ScopesSupported = []string{`a"b`} },
		"empty_scope":         func(m *Metadata) { m.ScopesSupported = []string{""} },
		"bad_bearer_method":   func(m *Metadata) { m.BearerMethodsSupported = []string{"cookie"} },
		"dpop_alg_none":       func(m *Metadata) { m.DPoPSigningAlgValuesSupported = []string{"none"} },
		"dpop_alg_hmac":       func(m *Metadata) { m.DPoPSigningAlgValuesSupported = []string{"HS256"} },
		"relative_policy_uri": func(m *Metadata) { m.ResourcePolicyURI = "/policy" },
		"javascript_tos_uri":  func(m *Metadata) { m.ResourceTOSURI = "javascript:alert(1)" },
	} {
		t.Run(name, func(t *testing.T) {
			m := testMetadata()
			mut(m)
			if _, err := NewHandler(m); err == nil {
				t.Fatal("NewHandler accepted it")
			}
		})
	}
	if _, err := NewHandler(nil); err == nil {
		t.Fatal("NewHandler(nil) accepted")
	}
}

func TestNewHandlerCopies(t *testing.T) {
	m := testMetadata()
	h, err := NewHandler(m)
	if err != nil {
		t.Fatal(err)
	}
	m.ScopesSupported[0] = "changed"
	if bytes.Contains(h.Document(), []byte("changed")) {
		t.Fatal("the handler shares the caller's slices")
	}
	if m.Resource != "HTTPS://API.example.com:443/mcp/" || m.BearerMethodsSupported != nil {
		t.Fatal("NewHandler modified its argument")
	}
}

func TestParse(t *testing.T) {
	const res = "https://api.example.com/mcp"
	for _, tc := range []struct {
		name, doc string
		ok        bool
	}{
		{"ok", `{"resource":"https://api.example.com/mcp","authorization_servers":["https://as.example"]}`, true},
		{"rfc9728_3.3_resource_mismatch", `{"resource":"https://api.example.com/other"}`, false},
		{"rfc9728_3.3_not_identical", `{"resource":"https://api.example.com/mcp/"}`, false},
		{"no_resource", `{"authorization_servers":["https://as.example"]}`, false},
		{"bad_as", `{"resource":"https://api.example.com/mcp","authorization_servers":["https://as.example#x"]}`, false},
		{"not_json", `resource=x`, false},
		{"trailing", `{"resource":"https://api.example.com/mcp"} {}`, false},
		{"wrong_type", `{"resource":"https://api.example.com/mcp","scopes_supported":"a b"}`, false},
		{"too_large", `{"resource":"https://api.example.com/mcp","resource_name":"` + strings.Repeat("a", MaxDocumentSize) + `"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), res)
			if (err == nil) != tc.ok {
				t.Fatalf("Parse: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"resource":"https://api.example.com/mcp","authorization_servers":["https://as.example"]}`), "https://api.example.com/mcp")
	f.Add([]byte(`{"resource":1}`), "x")
	f.Fuzz(func(t *testing.T, doc []byte, resource string) {
		md, err := Parse(doc, resource)
		if err == nil && md.Resource != resource {
			t.Fatalf("accepted metadata for %q when asked for %q", md.Resource, resource)
		}
	})
}

func FuzzMetadataURL(f *testing.F) {
	f.Add("https://x.example/api")
	f.Add("http://[::1]:80/a%2Fb?q")
	f.Fuzz(func(t *testing.T, resource string) {
		u, err := MetadataURL(resource)
		if err != nil {
			return
		}
		if !strings.Contains(u, WellKnownPath) {
			t.Fatalf("MetadataURL(%q) = %q", resource, u)
		}
	})
}
