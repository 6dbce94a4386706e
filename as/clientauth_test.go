package as_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/ddls/mcpauth/as"
	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/as/store/memory"
)

// TestPrivateKeyJWT: RFC 7523 §2.2 client authentication with a registered key.
func TestPrivateKeyJWT(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.Import(key.Public())
	_ = pub.Set(jwk.KeyIDKey, "k1")
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	jwks, _ := json.Marshal(set)
	if err := e.st.UpsertClient(context.Background(), store.Client{
		ID: "jwt-client", TokenEndpointAuthMethod: "private_key_jwt", JWKS: jwks,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"mcp:tools"}, Resources: []string{mcpResource}, OrgID: "org_acme",
	}); err != nil {
		t.Fatal(err)
	}
	assertion := func(k *ecdsa.PrivateKey, edit func(map[string]any)) string {
		now := time.Now()
		c := map[string]any{"iss": "jwt-client", "sub": "jwt-client", "aud": e.issuer + "/token",
			"jti": "j-" + now.Format("150405.000000000"), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
		if edit != nil {
			edit(c)
		}
		payload, _ := json.Marshal(c)
		hdr := jws.NewHeaders()
		_ = hdr.Set(jws.KeyIDKey, "k1")
		tok, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), k, jws.WithProtectedHeaders(hdr)))
		if err != nil {
			t.Fatal(err)
		}
		return string(tok)
	}
	form := func(a string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "resource": {mcpResource},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
	}
	ok := assertion(key, nil)
	status, body, _ := tokenPost(t, e, form(ok), "", "")
	if status != 200 || body["token_type"] != "Bearer" {
		t.Fatalf("private_key_jwt: %d %v", status, body)
	}
	claims, _ := e.verifyAT(body["access_token"].(string))
	if claims["sub"] != "jwt-client" || claims["org_id"] != "org_acme" {
		t.Fatalf("claims %v", claims)
	}
	cases := map[string]string{
		"rfc7523_3_jti_replay":     ok,
		"rfc7523_3_wrong_audience": assertion(key, func(c map[string]any) { c["aud"] = "https://elsewhere.example/token" }),
		"rfc7523_3_expired":        assertion(key, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
		"rfc7523_3_iss_not_client": assertion(key, func(c map[string]any) { c["iss"] = "someone" }),
		"rfc7523_3_other_key":      assertion(other, nil),
		"rfc7523_3_garbage":        "not-a-jwt",
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			status, body, _ := tokenPost(t, e, form(a), "", "")
			if status != 401 || body["error"] != "invalid_client" {
				t.Fatalf("got %d %v, want 401 invalid_client", status, body)
			}
		})
	}
	// A secret-based login for a private_key_jwt client is refused too.
	if status, body, _ := tokenPost(t, e, ccForm, "jwt-client", "guess"); status != 401 || body["error"] != "invalid_client" {
		t.Fatalf("secret for a private_key_jwt client: %d %v", status, body)
	}
}

// TestHTTPSCookies: with an https issuer the browser cookies are __Host- prefixed and Secure
// (RFC 6265bis §4.1.3.2), HttpOnly and SameSite=Lax.
func TestHTTPSCookies(t *testing.T) {
	st := memory.New(store.Options{})
	srv, err := as.New(context.Background(), "https://auth.example.com", st, &as.Options{KEK: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "https://auth.example.com/login?return="+url.QueryEscape("/authorize?x=1"), nil)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	sc := rec.Header().Get("Set-Cookie")
	for _, want := range []string{"__Host-mcpauth_csrf=", "Path=/", "Secure", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(sc, "Domain=") {
		t.Errorf("__Host- cookie with a Domain: %q", sc)
	}
}
