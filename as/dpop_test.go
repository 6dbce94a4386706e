package as_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ddls/mcpauth/as"
	"github.com/ddls/mcpauth/dpop"
)

// RFC 9449 end to end: authd binds tokens to the client's DPoP key.

func newKey(t testing.TB) *dpop.Key {
	t.Helper()
	k, err := dpop.GenerateKey(dpop.ES256)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func proofFor(t testing.TB, e *env, k *dpop.Key) string {
	t.Helper()
	p, err := k.Proof(http.MethodPost, e.issuer+"/token", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tokenPostDPoP is tokenPost with DPoP header values.
func tokenPostDPoP(t *testing.T, e *env, form url.Values, user, pass string, proofs ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("non-JSON answer (%d)", resp.StatusCode)
	}
	return resp.StatusCode, out, resp.Header
}

var ccForm = url.Values{"grant_type": {"client_credentials"}, "resource": {mcpResource}}

func TestDPoPClientCredentials(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			e := newEnv(t, sk.open, envOptions{})
			k := newKey(t)
			status, body, _ := tokenPostDPoP(t, e, ccForm, "svc-reporter", svcSecret, proofFor(t, e, k))
			if status != 200 || body["token_type"] != "DPoP" {
				t.Fatalf("%d %v", status, body)
			}
			at := body["access_token"].(string)
			claims, _ := e.verifyAT(at)
			if cnf, _ := claims["cnf"].(map[string]any); cnf["jkt"] != k.Thumbprint() {
				t.Fatalf("cnf %v, want jkt %s", claims["cnf"], k.Thumbprint())
			}
			in := e.introspect("svc-reporter", svcSecret, at)
			if in["token_type"] != "DPoP" || in["cnf"] == nil {
				t.Fatalf("introspection of a bound token: %v", in)
			}
			// Without a proof: a Bearer token, since neither client nor resource demands DPoP.
			if status, body, _ := tokenPostDPoP(t, e, ccForm, "svc-reporter", svcSecret); status != 200 || body["token_type"] != "Bearer" {
				t.Fatalf("no proof: %d %v", status, body)
			}
		})
	}
}

// b64 is unpadded base64url.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// craftProof builds a proof by hand so tests can break one rule at a time.
func craftProof(t testing.TB, key *ecdsa.PrivateKey, hdr, claims map[string]any, alg string) string {
	t.Helper()
	hb, _ := json.Marshal(hdr)
	cb, _ := json.Marshal(claims)
	input := b64(hb) + "." + b64(cb)
	switch alg {
	case "none":
		return input + "."
	case "HS256":
		m := hmac.New(sha256.New, []byte("secret"))
		m.Write([]byte(input))
		return input + "." + b64(m.Sum(nil))
	}
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64(sig)
}

func ecJWK(k *ecdsa.PrivateKey, private bool) map[string]any {
	pad := func(i *big.Int) string { b := make([]byte, 32); i.FillBytes(b); return b64(b) }
	m := map[string]any{"kty": "EC", "crv": "P-256", "x": pad(k.X), "y": pad(k.Y)}
	if private {
		m["d"] = pad(k.D)
	}
	return m
}

func TestDPoPTokenEndpointRefusals(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().Unix()
	hdr := func(edit func(map[string]any)) map[string]any {
		h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": ecJWK(key, false)}
		if edit != nil {
			edit(h)
		}
		return h
	}
	var n int
	claims := func(edit func(map[string]any)) map[string]any {
		n++
		c := map[string]any{"jti": "jti-" + time.Now().Format("150405.000000000") + "-" + string(rune('a'+n%26)) + strings.Repeat("x", n%7), "htm": "POST", "htu": e.issuer + "/token", "iat": now}
		if edit != nil {
			edit(c)
		}
		return c
	}
	sign := func(h, c map[string]any) string { return craftProof(t, key, h, c, h["alg"].(string)) }
	replayed := sign(hdr(nil), claims(nil))
	if status, body, _ := tokenPostDPoP(t, e, ccForm, "svc-reporter", svcSecret, replayed); status != 200 {
		t.Fatalf("well-formed crafted proof refused: %v", body)
	}
	cases := []struct {
		name   string
		proofs []string
	}{
		{"rfc9449_4.3_jti_replay", []string{replayed}},
		{"rfc9449_4.3_htu_mismatch", []string{sign(hdr(nil), claims(func(c map[string]any) { c["htu"] = e.issuer + "/other" }))}},
		{"rfc9449_4.3_htm_mismatch", []string{sign(hdr(nil), claims(func(c map[string]any) { c["htm"] = "GET" }))}},
		{"rfc9449_4.3_iat_stale", []string{sign(hdr(nil), claims(func(c map[string]any) { c["iat"] = now - 600 }))}},
		{"rfc9449_4.3_iat_future", []string{sign(hdr(nil), claims(func(c map[string]any) { c["iat"] = now + 600 }))}},
		{"rfc9449_4.3_jti_missing", []string{sign(hdr(nil), claims(func(c map[string]any) { delete(c, "jti") }))}},
		{"rfc9449_4.3_private_key_in_jwk", []string{sign(hdr(func(h map[string]any) { h["jwk"] = ecJWK(key, true) }), claims(nil))}},
		{"rfc9449_4.3_signature_by_other_key", []string{craftProof(t, other, hdr(nil), claims(nil), "ES256")}},
		{"rfc9449_4.3_alg_none", []string{sign(hdr(func(h map[string]any) { h["alg"] = "none" }), claims(nil))}},
		{"rfc9449_4.3_alg_hs256", []string{sign(hdr(func(h map[string]any) { h["alg"] = "HS256" }), claims(nil))}},
		{"rfc9449_4.3_typ_jwt", []string{sign(hdr(func(h map[string]any) { h["typ"] = "JWT" }), claims(nil))}},
		{"rfc9449_4.3_two_headers", []string{sign(hdr(nil), claims(nil)), sign(hdr(nil), claims(nil))}},
		{"rfc9449_4.3_malformed", []string{"not.a.jws"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := tokenPostDPoP(t, e, ccForm, "svc-reporter", svcSecret, c.proofs...)
			if status != 400 || body["error"] != "invalid_dpop_proof" {
				t.Fatalf("got %d %v, want 400 invalid_dpop_proof", status, body)
			}
		})
	}
}

func TestDPoPRequiredByClientOrResource(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{})
	ctx := context.Background()
	c, _ := e.st.GetClientRecord(ctx, "svc-reporter")
	c.DPoPBoundAccessTokens = true
	if err := e.st.UpsertClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if status, body, _ := tokenPostDPoP(t, e, ccForm, "svc-reporter", svcSecret); status != 400 || body["error"] != "invalid_dpop_proof" {
		t.Fatalf("rfc9449_5.2_dpop_bound_access_tokens_without_proof: %d %v", status, body)
	}
	if status, body, _ := tokenPostDPoP(t, e, ccForm, "svc-reporter", svcSecret, proofFor(t, e, newKey(t))); status != 200 || body["token_type"] != "DPoP" {
		t.Fatalf("with proof: %d %v", status, body)
	}
	res, _ := e.st.GetResource(ctx, apiResource)
	res.RequireDPoP = true
	if err := e.st.UpsertResource(ctx, res); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {apiResource}, "client_id": {"multi"}, "client_secret": {multiSecret}}
	if status, body, _ := tokenPostDPoP(t, e, form, "", ""); status != 400 || body["error"] != "invalid_dpop_proof" {
		t.Fatalf("resource_require_dpop_without_proof: %d %v", status, body)
	}
}

// TestDPoPCodeFlow: code + PKCE + DPoP through the login pages, dpop_jkt binding, public refresh binding.
func TestDPoPCodeFlow(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			e := newEnv(t, sk.open, envOptions{})
			k := newKey(t)
			conf := e.demoConfig()
			exchange := func(code, verifier string, proofs ...string) (int, map[string]any) {
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
					"redirect_uri": {demoRedirect}, "client_id": {"demo-cli"}}
				status, body, _ := tokenPostDPoP(t, e, form, "", "", proofs...)
				return status, body
			}
			// rfc9449_10_dpop_jkt: the code is bound to the key named at authorization.
			v := oauth2.GenerateVerifier()
			code := e.codeFor(conf, v, oauth2.SetAuthURLParam("dpop_jkt", k.Thumbprint()))
			if status, body := exchange(code, v, proofFor(t, e, newKey(t))); status != 400 || body["error"] != "invalid_dpop_proof" {
				t.Fatalf("rfc9449_10_dpop_jkt_other_key: %d %v", status, body)
			}
			v = oauth2.GenerateVerifier()
			code = e.codeFor(conf, v, oauth2.SetAuthURLParam("dpop_jkt", k.Thumbprint()))
			if status, body := exchange(code, v); status != 400 || body["error"] != "invalid_dpop_proof" {
				t.Fatalf("rfc9449_10_dpop_jkt_no_proof: %d %v", status, body)
			}
			v = oauth2.GenerateVerifier()
			code = e.codeFor(conf, v, oauth2.SetAuthURLParam("dpop_jkt", k.Thumbprint()))
			status, body := exchange(code, v, proofFor(t, e, k))
			if status != 200 || body["token_type"] != "DPoP" {
				t.Fatalf("bound exchange: %d %v", status, body)
			}
			rt := body["refresh_token"].(string)
			refresh := func(proofs ...string) (int, map[string]any) {
				s, b, _ := tokenPostDPoP(t, e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"demo-cli"}}, "", "", proofs...)
				return s, b
			}
			// rfc9449_5_public_refresh_bound: the refresh token needs the same key.
			if s, b := refresh(); s != 400 || b["error"] != "invalid_dpop_proof" {
				t.Fatalf("rfc9449_5_refresh_without_proof: %d %v", s, b)
			}
			if s, b := refresh(proofFor(t, e, newKey(t))); s != 400 || b["error"] != "invalid_dpop_proof" {
				t.Fatalf("rfc9449_5_refresh_other_key: %d %v", s, b)
			}
			s, b := refresh(proofFor(t, e, k))
			if s != 200 || b["token_type"] != "DPoP" {
				t.Fatalf("refresh with the bound key: %d %v", s, b)
			}
			claims, _ := e.verifyAT(b["access_token"].(string))
			if cnf, _ := claims["cnf"].(map[string]any); cnf["jkt"] != k.Thumbprint() {
				t.Fatalf("refreshed cnf %v", claims["cnf"])
			}
			// The rotated refresh token stays bound.
			rt = b["refresh_token"].(string)
			if s, b := refresh(proofFor(t, e, newKey(t))); s != 400 || b["error"] != "invalid_dpop_proof" {
				t.Fatalf("rotated token lost its binding: %d %v", s, b)
			}
		})
	}
}

// TestDPoPConfidentialRebind documents the rule for confidential clients: their refresh tokens are not key
// bound (RFC 9449 §5), so a refresh may present a new key and gets a token bound to it.
func TestDPoPConfidentialRebind(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{})
	// multi can do authorization_code; log in through the pages with its redirect URI.
	conf := &oauth2.Config{ClientID: "multi", ClientSecret: multiSecret, RedirectURL: "https://app.example.com/cb",
		Scopes:   []string{"mcp:tools", "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + "/authorize", TokenURL: e.issuer + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	v := oauth2.GenerateVerifier()
	code := e.codeFor(conf, v)
	k1, k2 := newKey(t), newKey(t)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {v}, "redirect_uri": {conf.RedirectURL},
		"client_id": {"multi"}, "client_secret": {multiSecret}}
	s, b, _ := tokenPostDPoP(t, e, form, "", "", proofFor(t, e, k1))
	if s != 200 {
		t.Fatalf("%d %v", s, b)
	}
	rform := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {b["refresh_token"].(string)}, "client_id": {"multi"}, "client_secret": {multiSecret}}
	s, b, _ = tokenPostDPoP(t, e, rform, "", "", proofFor(t, e, k2))
	if s != 200 || b["token_type"] != "DPoP" {
		t.Fatalf("rebind refresh: %d %v", s, b)
	}
	claims, _ := e.verifyAT(b["access_token"].(string))
	if cnf, _ := claims["cnf"].(map[string]any); cnf["jkt"] != k2.Thumbprint() {
		t.Fatalf("cnf %v, want the new key", claims["cnf"])
	}
}

// TestDPoPNonceRetry: with server nonces on, the dpop transport retries once on use_dpop_nonce, and
// golang.org/x/oauth2 gets its token through it.
func TestDPoPNonceRetry(t *testing.T) {
	e := newEnv(t, storeKinds[0].open, envOptions{serverOpts: func(o *as.Options) { o.DPoPNonces = true }})
	k := newKey(t)
	var seen []int
	tr := &countingTransport{base: http.DefaultTransport, statuses: &seen}
	hc := &http.Client{Transport: &dpop.Transport{Base: tr, Key: k}}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
	cc := clientcredentials.Config{ClientID: "svc-reporter", ClientSecret: svcSecret, TokenURL: e.issuer + "/token",
		EndpointParams: url.Values{"resource": {mcpResource}}, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "DPoP" || len(seen) != 2 || seen[0] != 400 || seen[1] != 200 {
		t.Fatalf("token type %q, statuses %v: want a use_dpop_nonce 400 then 200", tok.TokenType, seen)
	}
	// A proof without nonce gets use_dpop_nonce and a DPoP-Nonce header.
	status, body, hdr := tokenPostDPoP(t, e, ccForm, "svc-reporter", svcSecret, proofFor(t, e, k))
	if status != 400 || body["error"] != "use_dpop_nonce" || hdr.Get("DPoP-Nonce") == "" {
		t.Fatalf("rfc9449_8_nonce_missing: %d %v nonce %q", status, body, hdr.Get("DPoP-Nonce"))
	}
	stale, _ := k.Proof(http.MethodPost, e.issuer+"/token", "", "bm90LWEtbm9uY2U")
	if status, body, _ := tokenPostDPoP(t, e, ccForm, "svc-reporter", svcSecret, stale); status != 400 || body["error"] != "use_dpop_nonce" {
		t.Fatalf("rfc9449_8_nonce_invalid: %d %v", status, body)
	}
}

type countingTransport struct {
	base     http.RoundTripper
	statuses *[]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err == nil {
		*c.statuses = append(*c.statuses, resp.StatusCode)
	}
	return resp, err
}

// TestDPoPReplayAcrossReplicas: two authd replicas on one PostgreSQL database refuse a proof replayed from
// one to the other.
func TestDPoPReplayAcrossReplicas(t *testing.T) {
	e1 := newEnv(t, storeKinds[1].open, envOptions{pgReplay: true})
	replica, err := as.New(context.Background(), e1.issuer, e1.st, &as.Options{KEK: make([]byte, 32), DPoPReplay: e1.replay})
	if err != nil {
		t.Fatal(err)
	}
	k := newKey(t)
	p := proofFor(t, e1, k)
	if rec := serveDPoP(e1.srv.Handler(), e1.issuer, p); rec.Code != 200 {
		t.Fatalf("first use: %d %s", rec.Code, rec.Body)
	}
	rec := serveDPoP(replica.Handler(), e1.issuer, p)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "invalid_dpop_proof") {
		t.Fatalf("replay on the other replica: %d %s", rec.Code, rec.Body)
	}
}

func serveDPoP(h http.Handler, issuer, proof string) *httptest.ResponseRecorder {
	req, _ := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(ccForm.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc-reporter", svcSecret)
	req.Header.Set("DPoP", proof)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
