package as_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzTokenEndpoint: any body and Authorization header get an RFC 6749 error or a token, never a 5xx.
func FuzzTokenEndpoint(f *testing.F) {
	e := newEnv(f, storeKinds[0].open, envOptions{})
	h := e.srv.Handler()
	f.Add("grant_type=client_credentials&resource=http%3A%2F%2Flocalhost%3A8000%2Fmcp", "Basic c3ZjLXJlcG9ydGVyOnMzY3IzdC1naXZlbi1vbmx5LWluLWJvb3RzdHJhcA==", "")
	f.Add("grant_type=authorization_code&code=mcpa_ac_x&code_verifier=y&client_id=demo-cli", "", "")
	f.Add("grant_type=refresh_token&refresh_token=mcpa_rt_x&client_id=demo-cli", "", "eyJ.eyJ.sig")
	f.Add("grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c", "", "")
	f.Add("%zz&&==", "Basic !!!", "a.b")
	f.Fuzz(func(t *testing.T, body, authz, dpopHdr string) {
		req := httptest.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		if dpopHdr != "" {
			req.Header.Set("DPoP", dpopHdr)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body)
		}
	})
}

// FuzzAuthorizeEndpoint: any query gets a redirect to a registered URI or an error page, never a 5xx and
// never a redirect elsewhere (RFC 6749 §4.1.2.1).
func FuzzAuthorizeEndpoint(f *testing.F) {
	e := newEnv(f, storeKinds[0].open, envOptions{})
	h := e.srv.Handler()
	f.Add(authorizeQuery("v-0123456789012345678901234567890123456789").Encode())
	f.Add("client_id=demo-cli&redirect_uri=http%3A%2F%2Fevil.example%2F&response_type=code")
	f.Add("client_id=demo-cli&response_type=code&resource=%zz&prompt=none&max_age=-1&dpop_jkt=x")
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, "/authorize", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, query)
		}
		if loc := rec.Header().Get("Location"); loc != "" {
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatalf("bad Location %q", loc)
			}
			// Our own pages (relative), or demo-cli's registered loopback URI on any port (RFC 8252 §7.3).
			if u.Host != "" && (u.Hostname() != "127.0.0.1" || u.Path != "/callback" || u.Scheme != "http") {
				t.Fatalf("redirected to %q for %q", loc, query)
			}
		}
	})
}
