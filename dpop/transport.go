// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
)

// maxRememberedNonces bounds the per-origin nonce memory of a Transport.
const maxRememberedNonces = 256

// maxErrorBodyPeek is how much of a 400 response body Transport reads to look for use_dpop_nonce.
const maxErrorBodyPeek = 4 << 10

// StaticToken returns a Transport.Token function that always returns token.
func StaticToken(token string) func(*http.Request) (string, error) {
	return func(*http.Request) (string, error) { return token, nil }
}

// TokenFromBearerHeader returns a Transport.Token function that takes the token from an
// "Authorization: Bearer <token>" header the caller set, so a client library that only knows Bearer (the MCP
// Go SDK's transports, x/oauth2's Transport) sends it as "Authorization: DPoP <token>" with a bound proof
// (RFC 9449 §7.1). Requests without such a header get a proof without ath.
func TokenFromBearerHeader() func(*http.Request) (string, error) {
	return func(r *http.Request) (string, error) {
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", nil
		}
		return strings.TrimSpace(tok), nil
	}
}

// Transport is an http.RoundTripper that adds a DPoP proof to every request (RFC 9449 §4, §7.1).
//
// With Token set, it sends the token as "Authorization: DPoP <token>" and binds the proof to it (ath).
// Without Token, a request that already carries "Authorization: DPoP <token>" gets an ath for that token,
// and any other request gets a proof without ath (as at a token endpoint, RFC 9449 §5).
//
// It remembers the last DPoP-Nonce each origin (scheme://host:port) sent (RFC 9449 §8.2) and puts it in
// later proofs to that origin. When a server answers use_dpop_nonce — a 400 with {"error":"use_dpop_nonce"}
// from an authorization server (§8) or a 401 with a DPoP challenge error="use_dpop_nonce" from a resource
// server (§9) — with a DPoP-Nonce header, it retries the request once with a new proof, provided the body can
// be replayed (no body, or req.GetBody set). The caller's request is never modified. A Transport is safe for
// concurrent use; do not copy one after first use.
type Transport struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Key signs the proofs. Required.
	Key *Key
	// Token returns the access token to send with a request, or "" for none; nil means none.
	Token func(*http.Request) (string, error)

	mu     sync.Mutex
	nonces map[string]string
}

var _ http.RoundTripper = (*Transport)(nil)

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	if t.Key == nil {
		closeBody()
		return nil, errors.New("dpop: Transport has no Key")
	}
	if req.URL == nil {
		closeBody()
		return nil, errors.New("dpop: request has no URL")
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	token := ""
	setAuth := false
	if t.Token != nil {
		tok, err := t.Token(req)
		if err != nil {
			closeBody()
			return nil, err
		}
		token, setAuth = tok, tok != ""
	} else if scheme, tok, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "DPoP") {
		token = strings.TrimSpace(tok)
	}
	origin := originOf(req)
	htu := req.URL.Scheme + "://" + req.URL.Host + req.URL.EscapedPath()

	send := func(body io.ReadCloser, nonce string) (*http.Response, error) {
		proof, err := t.Key.Proof(req.Method, htu, token, nonce)
		if err != nil {
			if body != nil {
				body.Close()
			}
			return nil, err
		}
		r := req.Clone(req.Context())
		r.Body = body
		r.Header.Set("DPoP", proof)
		if setAuth {
			r.Header.Set("Authorization", "DPoP "+token)
		}
		resp, err := base.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			t.setNonce(origin, n)
		}
		return resp, nil
	}

	sentNonce := t.nonce(origin)
	resp, err := send(req.Body, sentNonce)
	if err != nil {
		return nil, err
	}
	retry, resp := needsNonce(resp)
	if !retry {
		return resp, nil
	}
	newNonce := resp.Header.Get("DPoP-Nonce")
	if newNonce == "" || newNonce == sentNonce {
		// Nothing new to retry with: a second attempt would fail the same way.
		return resp, nil
	}
	var body io.ReadCloser
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil
		}
		b, err := req.GetBody()
		if err != nil {
			return resp, nil
		}
		body = b
	} else {
		body = req.Body
	}
	// Drain a little so the connection can be reused, then close.
	_, _ = io.CopyN(io.Discard, resp.Body, maxErrorBodyPeek)
	resp.Body.Close()
	return send(body, newNonce)
}

// needsNonce reports whether resp is a use_dpop_nonce error (RFC 9449 §8 for the authorization server,
// §9 for resource servers). It returns a response whose body can still be read in full.
func needsNonce(resp *http.Response) (bool, *http.Response) {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		for _, h := range resp.Header.Values("WWW-Authenticate") {
			cs, _ := ParseChallenges(h)
			for _, c := range cs {
				if strings.EqualFold(c.Scheme, "DPoP") && c.Params["error"] == CodeUseNonce {
					return true, resp
				}
			}
		}
	case http.StatusBadRequest:
		if resp.Body == nil {
			return false, resp
		}
		peek, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyPeek))
		// Give the caller the whole body back, whatever we found.
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(peek), resp.Body), resp.Body}
		if err != nil {
			return false, resp
		}
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(peek, &e) == nil && e.Error == CodeUseNonce {
			return true, resp
		}
	}
	return false, resp
}

// originOf returns scheme://host:port with the default port made explicit, so that nonces are remembered
// per origin (RFC 6454) whatever spelling the URL used.
func originOf(req *http.Request) string {
	scheme := strings.ToLower(req.URL.Scheme)
	host := strings.ToLower(req.URL.Hostname())
	port := req.URL.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":" + port
}

func (t *Transport) nonce(origin string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nonces[origin]
}

func (t *Transport) setNonce(origin, nonce string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.nonces == nil {
		t.nonces = make(map[string]string)
	}
	if _, ok := t.nonces[origin]; !ok && len(t.nonces) >= maxRememberedNonces {
		for k := range t.nonces { // forget an arbitrary origin
			delete(t.nonces, k)
			break
		}
	}
	t.nonces[origin] = nonce
}
