package as_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// Token endpoint benchmarks, in-process (handler only, no sockets) so they measure the server: fosite,
// our checks, signing and the store. Run with TEST_DATABASE_URL set to include PostgreSQL:
//
//	go test -run '^$' -bench Token -benchtime 3s ./as/

func serve(h http.Handler, method, target string, form url.Values, user, pass string, cookies []*http.Cookie) *httptest.ResponseRecorder {
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func BenchmarkTokenClientCredentials(b *testing.B) {
	for _, sk := range storeKinds {
		b.Run(sk.name, func(b *testing.B) {
			e := newEnv(b, sk.open, envOptions{})
			h := e.srv.Handler()
			form := url.Values{"grant_type": {"client_credentials"}, "resource": {mcpResource}}
			b.ReportAllocs()
			b.SetParallelism(8) // 16 concurrent clients on 2 cores, as in the SPEC's target
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if rec := serve(h, "POST", e.issuer+"/token", form, "svc-reporter", svcSecret, nil); rec.Code != 200 {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}

// BenchmarkTokenCodeExchange is one complete authorization: /authorize with an existing browser session and
// remembered consent, then the code + PKCE exchange at /token.
func BenchmarkTokenCodeExchange(b *testing.B) {
	for _, sk := range storeKinds {
		b.Run(sk.name, func(b *testing.B) {
			e := newEnv(b, sk.open, envOptions{})
			h := e.srv.Handler()
			conf := e.demoConfig()
			// Log in and consent once through the real pages.
			br := e.browser()
			e.codeFor(conf, oauth2.GenerateVerifier())
			_ = br
			cookies := loginCookies(b, e)
			verifier := oauth2.GenerateVerifier()
			authURL := conf.AuthCodeURL("state-1234567", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", mcpResource))
			b.ReportAllocs()
			b.SetParallelism(8) // 16 concurrent clients on 2 cores, as in the SPEC's target
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rec := serve(h, "GET", authURL, nil, "", "", cookies)
					loc, err := url.Parse(rec.Header().Get("Location"))
					if rec.Code != http.StatusSeeOther || err != nil || loc.Query().Get("code") == "" {
						b.Fatalf("authorize: %d %s", rec.Code, rec.Header().Get("Location"))
					}
					form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
						"code_verifier": {verifier}, "redirect_uri": {demoRedirect}, "client_id": {"demo-cli"}}
					if rec := serve(h, "POST", e.issuer+"/token", form, "", "", nil); rec.Code != 200 {
						b.Fatalf("token: %d %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}

func BenchmarkTokenRefresh(b *testing.B) {
	for _, sk := range storeKinds {
		b.Run(sk.name, func(b *testing.B) {
			e := newEnv(b, sk.open, envOptions{})
			h := e.srv.Handler()
			conf := e.demoConfig()
			v := oauth2.GenerateVerifier()
			code := e.codeFor(conf, v)
			rec := serve(h, "POST", e.issuer+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"code_verifier": {v}, "redirect_uri": {demoRedirect}, "client_id": {"demo-cli"}}, "", "", nil)
			var tok struct {
				RefreshToken string `json:"refresh_token"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &tok)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N { // a refresh chain is sequential by nature
				rec := serve(h, "POST", e.issuer+"/token", url.Values{"grant_type": {"refresh_token"},
					"refresh_token": {tok.RefreshToken}, "client_id": {"demo-cli"}}, "", "", nil)
				if rec.Code != 200 {
					b.Fatalf("refresh: %d %s", rec.Code, rec.Body)
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &tok)
			}
		})
	}
}

// loginCookies logs alice in through the login page and returns the session cookie.
func loginCookies(tb testing.TB, e *env) []*http.Cookie {
	tb.Helper()
	br := e.browser()
	e.authorize(br, e.demoConfig(), oauth2.GenerateVerifier())
	br.login("alice", alicePW)
	return br.c.Jar.Cookies(mustURL(e.issuer))
}

// BenchmarkTokenClientCredentialsDPoP: DPoP-bound client-credentials tokens, with the replay store of the
// deployment (memory, or PostgreSQL shared by replicas). Proofs are made before the timer starts.
func BenchmarkTokenClientCredentialsDPoP(b *testing.B) {
	for _, sk := range storeKinds {
		b.Run(sk.name, func(b *testing.B) {
			e := newEnv(b, sk.open, envOptions{pgReplay: sk.name == "postgres"})
			h := e.srv.Handler()
			k := newKey(b)
			proofs := make(chan string, b.N)
			for range b.N {
				p, err := k.Proof(http.MethodPost, e.issuer+"/token", "", "")
				if err != nil {
					b.Fatal(err)
				}
				proofs <- p
			}
			close(proofs)
			form := url.Values{"grant_type": {"client_credentials"}, "resource": {mcpResource}}.Encode()
			b.ReportAllocs()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(form))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.SetBasicAuth("svc-reporter", svcSecret)
					req.Header.Set("DPoP", <-proofs)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}
