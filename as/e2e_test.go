package as_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func (e *env) demoConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID:    "demo-cli",
		RedirectURL: demoRedirect,
		Scopes:      []string{"mcp:tools", "offline_access"},
		Endpoint:    oauth2.Endpoint{AuthURL: e.issuer + "/authorize", TokenURL: e.issuer + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
}

// authorize runs the browser part of the code flow and returns the redirect the client receives.
func (e *env) authorize(b *browser, conf *oauth2.Config, verifier string, extra ...oauth2.AuthCodeOption) *url.URL {
	e.t.Helper()
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", mcpResource)}, extra...)
	b.get(conf.AuthCodeURL("state-1234567", opts...))
	return b.final
}

// fullLogin drives login and consent as alice and returns the authorization code.
func (e *env) codeFor(conf *oauth2.Config, verifier string, extra ...oauth2.AuthCodeOption) string {
	e.t.Helper()
	b := e.browser()
	e.authorize(b, conf, verifier, extra...)
	b.login("alice", alicePW)
	if b.final == nil { // remembered consent skips the page
		b.consent("allow", nil)
	}
	return codeFrom(e.t, e, b.final)
}

func codeFrom(t testing.TB, e *env, u *url.URL) string {
	t.Helper()
	if u == nil {
		t.Fatal("no redirect to the client")
	}
	q := u.Query()
	if q.Get("error") != "" {
		t.Fatalf("authorization error: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("iss") != e.issuer { // RFC 9207 §2
		t.Fatalf("iss = %q, want %q", q.Get("iss"), e.issuer)
	}
	if q.Get("state") != "state-1234567" {
		t.Fatalf("state = %q", q.Get("state"))
	}
	return q.Get("code")
}

// verifyAT checks an access token against the published JWKS and returns its claims and header.
func (e *env) verifyAT(tok string) (map[string]any, map[string]any) {
	e.t.Helper()
	set, err := jwk.Fetch(context.Background(), e.issuer+"/jwks.json")
	if err != nil {
		e.t.Fatal(err)
	}
	payload, err := jws.Verify([]byte(tok), jws.WithKeySet(set, jws.WithRequireKid(true)))
	if err != nil {
		e.t.Fatalf("access token does not verify against the JWKS: %v", err)
	}
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	hdrJSON, _ := jws.Parse([]byte(tok))
	var hdr map[string]any
	b, _ := json.Marshal(hdrJSON.Signatures()[0].ProtectedHeaders())
	_ = json.Unmarshal(b, &hdr)
	return claims, hdr
}

func (e *env) introspect(clientID, secret, token string) map[string]any {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 {
		e.t.Fatalf("introspect: %d %v", resp.StatusCode, out)
	}
	return out
}

func oauthErr(t testing.TB, err error) string {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("want an OAuth error response, got %v", err)
	}
	return re.ErrorCode
}

func TestAuthorizationCodeFlow(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			e := newEnv(t, sk.open, envOptions{})
			ctx := context.Background()
			conf := e.demoConfig()
			verifier := oauth2.GenerateVerifier()
			code := e.codeFor(conf, verifier)
			tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
				t.Fatalf("token response: type %q refresh %t expiry %v", tok.TokenType, tok.RefreshToken != "", tok.Expiry)
			}
			claims, hdr := e.verifyAT(tok.AccessToken)
			if hdr["typ"] != "at+jwt" || hdr["alg"] != "ES256" || hdr["kid"] == nil { // RFC 9068 §2.1
				t.Fatalf("header %v", hdr)
			}
			want := map[string]any{"iss": e.issuer, "sub": e.alice.ID, "aud": mcpResource, "client_id": "demo-cli",
				"scope": "mcp:tools offline_access", "org_id": "org_acme"}
			for k, v := range want {
				if claims[k] != v {
					t.Errorf("claim %s = %v, want %v", k, claims[k], v)
				}
			}
			if got := claims["ddls:connections"]; !equalAny(got, "conn_github", "conn_pg") {
				t.Errorf("ddls:connections = %v", got)
			}
			for _, k := range []string{"iat", "exp", "jti", "auth_time"} {
				if claims[k] == nil {
					t.Errorf("claim %s missing", k)
				}
			}
			if _, ok := claims["ddls:user_delegations"]; ok {
				t.Error("ddls:user_delegations must be omitted when empty")
			}
			if _, ok := claims["cnf"]; ok {
				t.Error("cnf on an unbound token")
			}
			if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat < 590 || exp-iat > 600 {
				t.Errorf("lifetime %v s, want 10 minutes", exp-iat)
			}

			// RFC 7662: introspection by a confidential client returns the token's claims.
			in := e.introspect("svc-reporter", svcSecret, tok.AccessToken)
			if in["active"] != true || in["token_type"] != "Bearer" || in["sub"] != e.alice.ID || in["aud"] != mcpResource {
				t.Fatalf("introspection %v", in)
			}

			// Refresh: rotated on every use.
			src := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken})
			tok2, err := src.Token()
			if err != nil {
				t.Fatal(err)
			}
			if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken {
				t.Fatal("refresh did not rotate")
			}
			c2, _ := e.verifyAT(tok2.AccessToken)
			if c2["sub"] != e.alice.ID || c2["org_id"] != "org_acme" || c2["aud"] != mcpResource {
				t.Fatalf("refreshed claims %v", c2)
			}

			// RFC 7009: revoking the refresh token ends the grant.
			revoke(t, e, "demo-cli", "", tok2.RefreshToken)
			if in := e.introspect("svc-reporter", svcSecret, tok2.AccessToken); in["active"] != false {
				t.Fatalf("access token still active after its grant was revoked: %v", in)
			}
			if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token(); err == nil {
				t.Fatal("revoked refresh token still works")
			}
		})
	}
}

func equalAny(v any, want ...string) bool {
	arr, ok := v.([]any)
	if !ok || len(arr) != len(want) {
		return false
	}
	for i := range arr {
		if arr[i] != want[i] {
			return false
		}
	}
	return true
}

func revoke(t testing.TB, e *env, clientID, secret, token string) {
	t.Helper()
	form := url.Values{"token": {token}, "client_id": {clientID}}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(clientID, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
}

func TestClientCredentials(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			e := newEnv(t, sk.open, envOptions{})
			cc := clientcredentials.Config{ClientID: "svc-reporter", ClientSecret: svcSecret, TokenURL: e.issuer + "/token",
				EndpointParams: url.Values{"resource": {mcpResource}}, AuthStyle: oauth2.AuthStyleInHeader}
			tok, err := cc.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tok.RefreshToken != "" { // RFC 6749 §4.4.3
				t.Fatal("refresh token issued for client credentials")
			}
			claims, _ := e.verifyAT(tok.AccessToken)
			if claims["sub"] != "svc-reporter" || claims["client_id"] != "svc-reporter" || claims["org_id"] != "org_acme" ||
				claims["scope"] != "mcp:tools" || claims["aud"] != mcpResource || !equalAny(claims["ddls:connections"], "conn_github") {
				t.Fatalf("claims %v", claims)
			}
			if _, ok := claims["auth_time"]; ok {
				t.Error("auth_time on a client-credentials token")
			}
			// The resource's own lifetime (api: 2 minutes) and its own connections (none assigned to multi).
			multi := clientcredentials.Config{ClientID: "multi", ClientSecret: multiSecret, TokenURL: e.issuer + "/token",
				EndpointParams: url.Values{"resource": {apiResource + "/"}}, AuthStyle: oauth2.AuthStyleInParams}
			tok, err = multi.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			claims, _ = e.verifyAT(tok.AccessToken)
			if claims["aud"] != apiResource || claims["scope"] != "api:read" || !equalAny(claims["ddls:connections"]) {
				t.Fatalf("claims %v", claims)
			}
			if life := claims["exp"].(float64) - claims["iat"].(float64); life != 120 {
				t.Fatalf("lifetime %v, want the resource's 2m", life)
			}
		})
	}
}

func TestRememberedConsent(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{})
	conf := e.demoConfig()
	b := e.browser()
	e.authorize(b, conf, oauth2.GenerateVerifier())
	b.login("alice", alicePW)
	// Untick conn_pg: the token must carry only conn_github.
	b.consent("allow", func(f url.Values) { f["connection"] = []string{"conn_github"} })
	code := codeFrom(t, e, b.final)
	_ = code
	// Same browser, same client and resource: no consent page this time.
	v := oauth2.GenerateVerifier()
	final := e.authorize(b, conf, v)
	code = codeFrom(t, e, final)
	tok, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := e.verifyAT(tok.AccessToken)
	if !equalAny(claims["ddls:connections"], "conn_github") {
		t.Fatalf("connections %v, want only the ticked one", claims["ddls:connections"])
	}
	// prompt=consent shows the page again.
	if final := e.authorize(b, conf, oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "consent")); final != nil {
		t.Fatalf("prompt=consent skipped the consent page: %v", final)
	}
	if !strings.Contains(b.body, `name="decision"`) {
		t.Fatalf("consent page expected, got %.200s", b.body)
	}
	// More scopes than remembered: consent again.
	conf.Scopes = []string{"mcp:tools", "mcp:admin"}
	if final := e.authorize(b, conf, oauth2.GenerateVerifier()); final != nil {
		t.Fatal("a wider request reused a narrower consent")
	}
}

func TestConsentChoosesOrganization(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{})
	conf := e.demoConfig()
	b := e.browser()
	v := oauth2.GenerateVerifier()
	e.authorize(b, conf, v)
	b.login("bob", bobPW)
	if !strings.Contains(b.body, `type="radio" name="org" value="org_globex"`) {
		t.Fatalf("bob is in two organizations: the consent page must offer a choice: %.400s", b.body)
	}
	// Pick Globex; the Acme connections ticked by default must not leak into the token.
	b.consent("allow", func(f url.Values) { f.Set("org", "org_globex"); f.Add("connection", "conn_globex") })
	tok, err := conf.Exchange(context.Background(), codeFrom(t, e, b.final), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := e.verifyAT(tok.AccessToken)
	if claims["org_id"] != "org_globex" || !equalAny(claims["ddls:connections"], "conn_globex") {
		t.Fatalf("claims %v", claims)
	}
}

func TestConcurrentCodeRedemption(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			e := newEnv(t, sk.open, envOptions{})
			conf := e.demoConfig()
			v := oauth2.GenerateVerifier()
			code := e.codeFor(conf, v)
			const n = 4
			errs := make(chan error, n)
			for range n {
				go func() {
					_, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(v))
					errs <- err
				}()
			}
			ok := 0
			for range n {
				if err := <-errs; err == nil {
					ok++
				} else if c := oauthErr(t, err); c != "invalid_grant" {
					t.Errorf("loser got %q, want invalid_grant", c)
				}
			}
			if ok != 1 {
				t.Fatalf("%d redemptions succeeded, want exactly 1", ok)
			}
		})
	}
}

func TestRefreshGraceAndReuse(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	e := newEnv(t, storeKinds[0].open, envOptions{grace: 10 * time.Second, now: clock})
	conf := e.demoConfig()
	v := oauth2.GenerateVerifier()
	tok, err := conf.Exchange(context.Background(), e.codeFor(conf, v), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(rt string) (*oauth2.Token, error) {
		return conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
	}
	t1, err := refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	// A concurrent client retrying within the grace window succeeds.
	now = now.Add(5 * time.Second)
	t2, err := refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("retry within grace refused: %v", err)
	}
	// After the window, reuse revokes the whole family (OAuth 2.1 §4.3.1).
	now = now.Add(10 * time.Second)
	if _, err := refresh(tok.RefreshToken); err == nil || oauthErr(t, err) != "invalid_grant" {
		t.Fatalf("reuse after grace: %v", err)
	}
	for _, rt := range []string{t1.RefreshToken, t2.RefreshToken} {
		if _, err := refresh(rt); err == nil {
			t.Fatal("family member survived reuse detection")
		}
	}
	if in := e.introspect("svc-reporter", svcSecret, t2.AccessToken); in["active"] != false {
		t.Fatalf("access token of a revoked family still active: %v", in)
	}
}

func TestMetadata(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{})
	resp, err := http.Get(e.issuer + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&md)
	checks := map[string]any{
		"issuer":                 e.issuer,
		"authorization_endpoint": e.issuer + "/authorize",
		"token_endpoint":         e.issuer + "/token",
		"jwks_uri":               e.issuer + "/jwks.json",
		"authorization_response_iss_parameter_supported": true,
	}
	for k, v := range checks {
		if md[k] != v {
			t.Errorf("%s = %v, want %v", k, md[k], v)
		}
	}
	if !equalAny(md["code_challenge_methods_supported"], "S256") || !equalAny(md["response_types_supported"], "code") {
		t.Errorf("metadata %v", md)
	}
	methods, _ := md["token_endpoint_auth_methods_supported"].([]any)
	if !slices.Contains(methods, any("none")) || !slices.Contains(methods, any("private_key_jwt")) {
		t.Errorf("token_endpoint_auth_methods_supported %v", methods)
	}
	// RFC 9449 §5.1
	if !equalAny(md["dpop_signing_alg_values_supported"], "ES256", "RS256", "PS256", "EdDSA") {
		t.Errorf("dpop_signing_alg_values_supported %v", md["dpop_signing_alg_values_supported"])
	}
	scopes, _ := md["scopes_supported"].([]any)
	for _, s := range []string{"mcp:tools", "mcp:admin", "api:read", "offline_access"} {
		if !slices.Contains(scopes, any(s)) {
			t.Errorf("scopes_supported lacks %s", s)
		}
	}
}
