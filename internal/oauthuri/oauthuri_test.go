package oauthuri

import "testing"

func TestCanonicalResource(t *testing.T) {
	ok := []struct{ name, in, want string }{
		{"rfc8707_lowercase_scheme_host", "HTTPS://Example.COM/mcp", "https://example.com/mcp"},
		{"trailing_slash_dropped", "http://localhost:8000/mcp/", "http://localhost:8000/mcp"},
		{"default_port_dropped", "https://example.com:443/api", "https://example.com/api"},
		{"http_default_port_dropped", "http://example.com:80", "http://example.com"},
		{"root_slash_dropped", "https://example.com/", "https://example.com"},
		{"path_case_kept", "https://example.com/MCP", "https://example.com/MCP"},
		{"ipv6", "http://[::1]:8000/mcp", "http://[::1]:8000/mcp"},
		{"query_kept", "https://example.com/r?x=1", "https://example.com/r?x=1"},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			got, err := CanonicalResource(c.in)
			if err != nil || got != c.want {
				t.Fatalf("CanonicalResource(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
		})
	}
	bad := []struct{ name, in string }{
		{"rfc8707_2_fragment", "https://example.com/mcp#frag"},
		{"rfc8707_2_empty_fragment", "https://example.com/mcp#"},
		{"rfc8707_2_relative", "/mcp"},
		{"empty", ""},
		{"no_host", "https:///mcp"},
		{"urn", "urn:example:mcp"},
		{"ftp", "ftp://example.com/x"},
		{"userinfo", "https://user:pw@example.com/mcp"},
		{"garbage", "ht tp://%zz"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if got, err := CanonicalResource(c.in); err == nil {
				t.Fatalf("CanonicalResource(%q) = %q, want error", c.in, got)
			}
		})
	}
}

func TestValidateRedirectURI(t *testing.T) {
	for _, ok := range []string{"https://app.example.com/cb", "http://127.0.0.1:9998/callback", "http://localhost/cb", "http://[::1]:1234/cb", "com.example.app:/cb"} {
		if err := ValidateRedirectURI(ok); err != nil {
			t.Errorf("ValidateRedirectURI(%q) = %v", ok, err)
		}
	}
	for name, bad := range map[string]string{
		"oauth21_http_non_loopback": "http://example.com/cb",
		"oauth21_fragment":          "https://example.com/cb#x",
		"relative":                  "/cb",
		"javascript":                "javascript:alert(1)",
		"private_scheme_no_period":  "myapp:/cb",
	} {
		if err := ValidateRedirectURI(bad); err == nil {
			t.Errorf("%s: ValidateRedirectURI(%q) accepted", name, bad)
		}
	}
}

func FuzzCanonicalResource(f *testing.F) {
	for _, s := range []string{"https://example.com/mcp", "HTTP://A:80/", "http://[::1]:1/x?y#z", "%", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := CanonicalResource(s)
		if err != nil {
			return
		}
		// Canonicalisation is idempotent.
		again, err := CanonicalResource(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, out, again, err)
		}
	})
}
