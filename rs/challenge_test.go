package rs

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ddls/mcpauth/dpop"
)

// TestChallengesRoundTrip parses every challenge the writer can emit with dpop.ParseChallenges (RFC 9110
// §11.6.1) and checks each parameter comes back as written.
func TestChallengesRoundTrip(t *testing.T) {
	errs := []*Error{
		errMissingToken(),
		errInvalidRequest("x", "The request has more than one Authorization header."),
		errInvalidToken("x", "The access token has expired.", nil),
		InsufficientScope("mcp:admin", "mcp:tools"),
		{Status: 401, Code: CodeInvalidDPoPProof, Description: `quote " backslash \ tab	newline
end`},
		{Status: 401, Code: CodeUseDPoPNonce, Description: "Résumé: non-ASCII"},
		{Status: 403, Code: CodeInsufficientScope, Scope: "a:b c/d !#$%&'()*+,-./:;<=>?@[]^_`{|}~"},
	}
	metaURLs := []string{"https://rs.example/.well-known/oauth-protected-resource/api", `https://rs.example/a"b\c`}
	for _, bearer := range []bool{true, false} {
		for _, mu := range metaURLs {
			ch := &challenges{bearer: bearer, metadataURL: mu, algs: "ES256 EdDSA RS256 PS256"}
			for _, scheme := range []string{"", schemeBearer, schemeDPoP} {
				for _, e := range errs {
					hdr := ch.header(scheme, e)
					got, err := dpop.ParseChallenges(hdr)
					if err != nil {
						t.Fatalf("ParseChallenges(%q): %v", hdr, err)
					}
					n := 1
					if bearer {
						n = 2
					}
					if len(got) != n {
						t.Fatalf("%q: %d challenges, want %d", hdr, len(got), n)
					}
					withErr := 0
					for _, c := range got {
						if c.Params["resource_metadata"] != mu {
							t.Errorf("%q: resource_metadata %q", hdr, c.Params["resource_metadata"])
						}
						if c.Scheme == "DPoP" && c.Params["algs"] != ch.algs {
							t.Errorf("%q: algs %q", hdr, c.Params["algs"])
						}
						if c.Params["error"] == "" {
							if len(c.Params) != 1+btoi(c.Scheme == "DPoP") {
								t.Errorf("%q: %s without error has params %v", hdr, c.Scheme, c.Params)
							}
							continue
						}
						withErr++
						if c.Params["error"] != e.Code || c.Params["scope"] != e.Scope ||
							c.Params["error_description"] != sanitizeDescription(e.Description) {
							t.Errorf("%q: %s params %v", hdr, c.Scheme, c.Params)
						}
						for _, r := range c.Params["error_description"] {
							// RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E.
							if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
								t.Errorf("%q: error_description holds %q", hdr, r)
							}
						}
					}
					switch {
					case e.Code == "" && withErr != 0:
						t.Errorf("%q: error attributes for a request without token", hdr)
					case e.Code == CodeInsufficientScope && withErr != n:
						t.Errorf("%q: insufficient_scope on %d challenges, want all (step-up scope for any scheme)", hdr, withErr)
					case e.Code != "" && e.Code != CodeInsufficientScope && scheme != "" && withErr != 1:
						t.Errorf("%q: error attributes on %d challenges, want the one of %s", hdr, withErr, scheme)
					case e.Code != "" && scheme == "" && withErr != n:
						t.Errorf("%q: error attributes on %d challenges, want all", hdr, withErr)
					}
				}
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestChallengeExact pins the exact wire form of the common challenges.
func TestChallengeExact(t *testing.T) {
	ch := &challenges{bearer: true, metadataURL: "https://rs/.well-known/oauth-protected-resource/api", algs: "ES256 EdDSA"}
	for _, tc := range []struct {
		scheme string
		e      *Error
		want   string
	}{
		{"", errMissingToken(),
			`Bearer resource_metadata="https://rs/.well-known/oauth-protected-resource/api", DPoP algs="ES256 EdDSA", resource_metadata="https://rs/.well-known/oauth-protected-resource/api"`},
		{schemeBearer, errInvalidToken("x", "The access token has expired.", nil),
			`Bearer resource_metadata="https://rs/.well-known/oauth-protected-resource/api", error="invalid_token", error_description="The access token has expired.", DPoP algs="ES256 EdDSA", resource_metadata="https://rs/.well-known/oauth-protected-resource/api"`},
		{schemeDPoP, InsufficientScope("mcp:admin"),
			`Bearer resource_metadata="https://rs/.well-known/oauth-protected-resource/api", error="insufficient_scope", error_description="The access token does not grant the scope this operation requires.", scope="mcp:admin", DPoP algs="ES256 EdDSA", resource_metadata="https://rs/.well-known/oauth-protected-resource/api", error="insufficient_scope", error_description="The access token does not grant the scope this operation requires.", scope="mcp:admin"`},
	} {
		if got := ch.header(tc.scheme, tc.e); got != tc.want {
			t.Errorf("header(%q, %s):\n got %s\nwant %s", tc.scheme, tc.e.Code, got, tc.want)
		}
	}
}

func TestWriteErrorUnavailable(t *testing.T) {
	e := newMWEnv(t, nil)
	rec := httptest.NewRecorder()
	e.m.writeError(rec, httptest.NewRequest(http.MethodGet, helloURL, nil), schemeBearer, errUnavailable("introspection", "retry later", nil))
	if rec.Code != 503 || rec.Header().Get("WWW-Authenticate") != "" || rec.Header().Get("Cache-Control") != "no-store" ||
		!strings.Contains(rec.Body.String(), `"error":"temporarily_unavailable"`) {
		t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

func TestParseAuthorization(t *testing.T) {
	for _, tc := range []struct {
		name          string
		values        []string
		scheme, token string
		code          string
	}{
		{"none", nil, "", "", ""},
		{"bearer", []string{"Bearer abc.DEF-_~+/=="}, "Bearer", "abc.DEF-_~+/==", ""},
		{"dpop", []string{"DPoP abc"}, "DPoP", "abc", ""},
		{"case", []string{"dpop abc"}, "DPoP", "abc", ""},
		{"extra_spaces", []string{"  Bearer   abc \t"}, "Bearer", "abc", ""},
		{"basic", []string{"Basic dXNlcg=="}, "", "", ""},
		{"bearerish", []string{"Bearerabc"}, "", "", ""},
		{"empty", []string{""}, "", "", ""},
		{"rfc6750_3.1_two_headers", []string{"Bearer a", "Bearer a"}, "", "", CodeInvalidRequest},
		{"no_token", []string{"Bearer"}, "Bearer", "", CodeInvalidRequest},
		{"no_token_space", []string{"DPoP  "}, "DPoP", "", CodeInvalidRequest},
		{"two_tokens", []string{"Bearer a b"}, "Bearer", "", CodeInvalidRequest},
		{"auth_params", []string{`Bearer token="a"`}, "Bearer", "", CodeInvalidRequest},
		{"padding_inside", []string{"Bearer a=b"}, "Bearer", "", CodeInvalidRequest},
		{"only_padding", []string{"Bearer ==="}, "Bearer", "", CodeInvalidRequest},
		{"comma_list", []string{"Bearer a, DPoP b"}, "Bearer", "", CodeInvalidRequest},
		{"non_ascii", []string{"Bearer é"}, "Bearer", "", CodeInvalidRequest},
		{"too_large", []string{"Bearer " + strings.Repeat("a", maxTokenSize+1)}, "Bearer", "", CodeInvalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scheme, token, e := parseAuthorization(tc.values)
			code := ""
			if e != nil {
				code = e.Code
			}
			if scheme != tc.scheme || token != tc.token || code != tc.code {
				t.Fatalf("got %q %q %q, want %q %q %q", scheme, token, code, tc.scheme, tc.token, tc.code)
			}
		})
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "DPoP a.b.c", "Basic x", "bearer  a==", "Bearer a b", "", "DPoP"} {
		f.Add(s, "")
	}
	f.Add("Bearer a", "Bearer b")
	f.Fuzz(func(t *testing.T, v1, v2 string) {
		values := []string{v1}
		if v2 != "" {
			values = append(values, v2)
		}
		scheme, token, e := parseAuthorization(values)
		if e != nil {
			if token != "" {
				t.Fatal("token with error")
			}
			if e.Status != 400 && e.Status != 401 {
				t.Fatalf("status %d", e.Status)
			}
			return
		}
		if scheme == "" {
			if token != "" {
				t.Fatal("token without scheme")
			}
			return
		}
		if (scheme != schemeBearer && scheme != schemeDPoP) || !isToken68(token) || len(token) > maxTokenSize ||
			!strings.Contains(v1, token) {
			t.Fatalf("parseAuthorization(%q) = %q %q", values, scheme, token)
		}
	})
}
