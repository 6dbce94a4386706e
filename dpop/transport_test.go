// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// dpopServer is a test server that verifies proofs like an AS token endpoint ("as": 400 JSON errors) or a
// resource server ("rs": 401 challenges).
type dpopServer struct {
	t        *testing.T
	mode     string
	v        *Verifier
	nonces   *NonceSource
	token    string // expected access token, if any
	requests atomic.Int32
	// alwaysNonce makes the server demand a fresh nonce on every request, forever.
	alwaysNonce bool

	mu     sync.Mutex
	bodies []string
	nonce  []string // nonce claim of each request
	last   http.Header
	*httptest.Server
}

func newDPoPServer(t *testing.T, mode string, requireNonce bool) *dpopServer {
	s := &dpopServer{t: t, mode: mode}
	var err error
	s.nonces, err = NewNonceSource([][]byte{[]byte(strings.Repeat("n", 32))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := &VerifierOptions{}
	if requireNonce {
		opts.Nonces = s.nonces
	}
	if s.v, err = NewVerifier(opts); err != nil {
		t.Fatal(err)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *dpopServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	token := ""
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, tok, _ := strings.Cut(a, " ")
		if scheme != "DPoP" {
			http.Error(w, "bad scheme", http.StatusBadRequest)
			return
		}
		token = tok
	}
	p, err := s.v.Verify(r.Context(), r.Header.Values("DPoP"), r.Method, "http://"+r.Host+r.URL.Path, token)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(body))
	s.last = r.Header.Clone()
	if p != nil {
		s.nonce = append(s.nonce, p.Nonce)
	}
	s.mu.Unlock()
	if s.alwaysNonce {
		err = newError(CheckNonce, "always", nil)
	}
	if err == nil && token != s.token {
		err = newError(CheckATH, "unexpected token", nil)
	}
	if err != nil {
		var de *Error
		errors.As(err, &de)
		if de.Code == CodeUseNonce {
			w.Header().Set("DPoP-Nonce", fmt.Sprintf("%s-%d", s.nonces.Issue(), s.requests.Load()))
			if !s.alwaysNonce {
				w.Header().Set("DPoP-Nonce", s.nonces.Issue())
			}
		}
		if s.mode == "rs" {
			w.Header().Set("WWW-Authenticate", `DPoP algs="ES256", error="`+de.Code+`", error_description="`+de.Description+`"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, de.Code, de.Description)
		return
	}
	fmt.Fprint(w, "ok:"+string(body))
}

func TestTransportSignsRequests(t *testing.T) {
	srv := newDPoPServer(t, "rs", false)
	k := mustKey(t, ES256, nil)
	c := &http.Client{Transport: &Transport{Key: k}}
	resp, err := c.Get(srv.URL + "/mcp?x=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok:" {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if srv.last.Get("Authorization") != "" {
		t.Fatal("Authorization sent without a token")
	}
}

func TestTransportSendsBoundToken(t *testing.T) {
	srv := newDPoPServer(t, "rs", false)
	srv.token = tToken
	orig := &Transport{Key: mustKey(t, ES256, nil), Token: StaticToken(tToken)}
	req, _ := http.NewRequest("POST", srv.URL+"/mcp", strings.NewReader("{}"))
	req.Header.Set("X-Caller", "1")
	before := req.Header.Clone()
	resp, err := orig.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if got := srv.last.Get("Authorization"); got != "DPoP "+tToken {
		t.Fatalf("Authorization %q", got)
	}
	// The caller's request is untouched.
	if len(req.Header) != len(before) || req.Header.Get("DPoP") != "" || req.Header.Get("Authorization") != "" {
		t.Fatalf("caller's headers changed: %v", req.Header)
	}

	// Without Token, an Authorization: DPoP header set by the caller gets a matching ath.
	tr := &Transport{Key: mustKey(t, ES256, nil)}
	req, _ = http.NewRequest("GET", srv.URL+"/mcp", nil)
	req.Header.Set("Authorization", "DPoP "+tToken)
	resp, err = tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("caller-set token: status %d", resp.StatusCode)
	}

	// A failing Token function fails the request.
	tr = &Transport{Key: mustKey(t, ES256, nil), Token: func(*http.Request) (string, error) { return "", errors.New("no token") }}
	if _, err := (&http.Client{Transport: tr}).Get(srv.URL); err == nil {
		t.Fatal("Token error ignored")
	}
	if _, err := (&http.Client{Transport: &Transport{}}).Get(srv.URL); err == nil {
		t.Fatal("Transport without Key worked")
	}
}

func TestTransportRetriesOnceWithNonce(t *testing.T) {
	for _, mode := range []string{"as", "rs"} {
		t.Run(mode, func(t *testing.T) {
			srv := newDPoPServer(t, mode, true)
			tr := &Transport{Key: mustKey(t, ES256, nil)}
			c := &http.Client{Transport: tr}
			resp, err := c.Post(srv.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != "ok:grant_type=client_credentials" {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			if n := srv.requests.Load(); n != 2 {
				t.Fatalf("%d requests, want 2", n)
			}
			// The body was replayed on the retry.
			if srv.bodies[0] != srv.bodies[1] {
				t.Fatalf("bodies %q", srv.bodies)
			}
			// The nonce is remembered: the next request goes through at once.
			resp, err = c.Post(srv.URL+"/token", "text/plain", bytes.NewReader([]byte("again")))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || srv.requests.Load() != 3 {
				t.Fatalf("status %d after %d requests", resp.StatusCode, srv.requests.Load())
			}
			if srv.nonce[len(srv.nonce)-1] != srv.nonces.Issue() {
				t.Fatal("remembered nonce not sent")
			}
		})
	}
}

func TestTransportDoesNotRetryForever(t *testing.T) {
	for _, mode := range []string{"as", "rs"} {
		t.Run(mode, func(t *testing.T) {
			srv := newDPoPServer(t, mode, true)
			srv.alwaysNonce = true
			c := &http.Client{Transport: &Transport{Key: mustKey(t, ES256, nil)}}
			resp, err := c.Post(srv.URL+"/token", "text/plain", strings.NewReader("x"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if n := srv.requests.Load(); n != 2 {
				t.Fatalf("%d requests, want 2", n)
			}
			if resp.StatusCode == 200 {
				t.Fatal("success")
			}
			// The caller still gets the full error body of the second answer.
			if mode == "as" && !strings.Contains(string(b), CodeUseNonce) {
				t.Fatalf("body %q", b)
			}
		})
	}
}

func TestTransportNoRetryWithoutRewindableBody(t *testing.T) {
	srv := newDPoPServer(t, "as", true)
	tr := &Transport{Key: mustKey(t, ES256, nil)}
	req, _ := http.NewRequest("POST", srv.URL+"/token", io.NopCloser(strings.NewReader("once")))
	if req.GetBody != nil {
		t.Fatal("test needs a body without GetBody")
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || srv.requests.Load() != 1 || !strings.Contains(string(b), CodeUseNonce) {
		t.Fatalf("status %d, %d requests, body %q", resp.StatusCode, srv.requests.Load(), b)
	}
	// The nonce was still remembered, so the next request succeeds at once.
	req, _ = http.NewRequest("POST", srv.URL+"/token", io.NopCloser(strings.NewReader("twice")))
	resp, err = tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestTransportNoncePerOrigin(t *testing.T) {
	a := newDPoPServer(t, "as", true)
	b := newDPoPServer(t, "as", false)
	tr := &Transport{Key: mustKey(t, ES256, nil)}
	c := &http.Client{Transport: tr}
	for _, u := range []string{a.URL, b.URL, a.URL, b.URL} {
		resp, err := c.Get(u + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", u, resp.StatusCode)
		}
	}
	for _, n := range b.nonce {
		if n != "" {
			t.Fatalf("origin B received origin A's nonce %q", n)
		}
	}
	if a.requests.Load() != 3 {
		t.Fatalf("origin A: %d requests", a.requests.Load())
	}
	if tr.nonce(originOf(mustReq(t, a.URL))) == "" {
		t.Fatal("nonce not stored for A")
	}
}

func mustReq(t *testing.T, u string) *http.Request {
	r, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTransportOtherErrorsPassThrough(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_grant"}`+strings.Repeat(" ", 10000)+"end")
	}))
	defer srv.Close()
	c := &http.Client{Transport: &Transport{Key: mustKey(t, ES256, nil)}}
	resp, err := c.Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.HasPrefix(string(b), `{"error":"invalid_grant"}`) || !strings.HasSuffix(string(b), "end") {
		t.Fatalf("%d %q…", resp.StatusCode, b[:40])
	}
}

func TestTransportConcurrent(t *testing.T) {
	srv := newDPoPServer(t, "rs", true)
	srv.token = tToken
	c := &http.Client{Transport: &Transport{Key: mustKey(t, ES256, nil), Token: StaticToken(tToken)}}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(context.Background(), "POST", srv.URL+"/mcp", strings.NewReader(fmt.Sprint(i)))
			resp, err := c.Do(req)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestOriginOf(t *testing.T) {
	for in, want := range map[string]string{
		"https://A.example/x":      "https://a.example:443",
		"https://a.example:443/":   "https://a.example:443",
		"http://a.example/":        "http://a.example:80",
		"http://[::1]:8080/":       "http://[::1]:8080",
		"HTTP://a.example:8080?x=": "http://a.example:8080",
	} {
		if got := originOf(mustReq(t, in)); got != want {
			t.Errorf("%s: %s", in, got)
		}
	}
}

func TestTokenFromBearerHeader(t *testing.T) {
	f := TokenFromBearerHeader()
	for hdr, want := range map[string]string{
		"Bearer abc":  "abc",
		"bearer  abc": "abc",
		"DPoP abc":    "", // already DPoP: not a Bearer token to upgrade
		"Basic eA==":  "",
		"":            "",
	} {
		r, _ := http.NewRequest(http.MethodGet, "https://rs.example/x", nil)
		if hdr != "" {
			r.Header.Set("Authorization", hdr)
		}
		if got, err := f(r); err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", hdr, got, err, want)
		}
	}
}
