// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import "testing"

func TestNormalizeHTU(t *testing.T) {
	cases := []struct {
		in, want string // want "" means invalid
	}{
		{"https://server.example.com/token", "https://server.example.com/token"},
		{"HTTPS://Server.EXAMPLE.com/token", "https://server.example.com/token"},
		{"https://server.example.com:443/token", "https://server.example.com/token"},
		{"http://server.example.com:80/token", "http://server.example.com/token"},
		{"http://server.example.com:443/token", "http://server.example.com:443/token"},
		{"https://server.example.com:/token", "https://server.example.com/token"},
		{"https://server.example.com:0443/token", "https://server.example.com/token"},
		{"https://server.example.com:08443/token", "https://server.example.com:8443/token"},
		{"https://server.example.com", "https://server.example.com/"},
		{"https://server.example.com?q=1", "https://server.example.com/"},
		{"https://server.example.com/a?q=1#f", "https://server.example.com/a"},
		{"https://server.example.com/a#f?x", "https://server.example.com/a"},
		{"https://server.example.com/%7euser/%2fx", "https://server.example.com/~user/%2Fx"},
		{"https://server.example.com/%41%62c", "https://server.example.com/Abc"},
		{"https://server.example.com/a/./b/../c", "https://server.example.com/a/c"},
		{"https://server.example.com/a/%2E%2E/c", "https://server.example.com/c"},
		{"https://server.example.com/../../a", "https://server.example.com/a"},
		{"https://server.example.com/a/..", "https://server.example.com/"},
		{"https://server.example.com/a/.", "https://server.example.com/a/"},
		{"https://server.example.com/a..b/.c", "https://server.example.com/a..b/.c"},
		{"https://server.example.com/a//b/", "https://server.example.com/a//b/"},
		{"https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"},
		{"https://[2001:db8::1]:8443/x", "https://[2001:db8::1]:8443/x"},
		{"https://127.0.0.1:8443/mcp", "https://127.0.0.1:8443/mcp"},
		{"https://server.example.com/p:@!$&'()*+,;=", "https://server.example.com/p:@!$&'()*+,;="},
		{"https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"},
		// Invalid.
		{"ftp://server.example.com/", ""},
		{"//server.example.com/", ""},
		{"/token", ""},
		{"https://", ""},
		{"https:///token", ""},
		{"https://user@server.example.com/", ""},
		{"https://user:pw@server.example.com/", ""},
		{"https://server.example.com:99999/", ""},
		{"https://server.example.com:8x/", ""},
		{"https://server.example.com/a b", ""},
		{"https://server.example.com/%zz", ""},
		{"https://server.example.com/%4", ""},
		{"https://server.example.com/é", ""},
		{"https://[2001:db8::1/x", ""},
		{"https://[2001:db8::1]x/", ""},
		{"https://[zz]/", ""},
		{"https://[]/", ""},
		{"https://exa mple.com/", ""},
		{"https://server.example.com\\@evil.com/", ""},
	}
	for _, tc := range cases {
		got, ok := appendNormalizedHTU(nil, tc.in)
		if tc.want == "" {
			if ok {
				t.Errorf("%q: accepted as %q", tc.in, got)
			}
			continue
		}
		if !ok || string(got) != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, ok, tc.want)
		}
		// Normalization is idempotent.
		again, ok := appendNormalizedHTU(nil, string(got))
		if !ok || string(again) != string(got) {
			t.Errorf("%q: not idempotent: %q", tc.in, again)
		}
	}
}

func TestHTUMatches(t *testing.T) {
	for _, tc := range []struct {
		htu, req string
		want     bool
	}{
		{"https://a.example/x", "https://a.example/x?y", true},
		{"https://a.example/x?y", "https://a.example/x", true},
		{"https://A.example:443/x", "https://a.example/x", true},
		{"https://a.example/x", "https://a.example/y", false},
		{"https://a.example/x", "not a url", false},
		{"not a url", "not a url", true}, // identical strings from the server need no parsing
		{"", "https://a.example/", false},
	} {
		if got := htuMatches(tc.htu, tc.req); got != tc.want {
			t.Errorf("htuMatches(%q, %q) = %v", tc.htu, tc.req, got)
		}
	}
}
