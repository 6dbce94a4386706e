package rs

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/ddls/mcpauth/dpop"
)

const testResource = "https://rs.example.com/api"

var testNow = time.Unix(1_800_000_000, 0)

// clock is a settable test clock.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time          { return testNow.Add(time.Duration(c.off.Load())) }
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// testKey is a signing key of the test authorization server.
type testKey struct {
	kid, alg string
	signer   crypto.Signer
}

func newTestKey(tb testing.TB, kid, alg string) *testKey {
	tb.Helper()
	var s crypto.Signer
	var err error
	switch alg {
	case "ES256":
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		s, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "RS256", "PS256":
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA":
		_, s, err = ed25519.GenerateKey(rand.Reader)
	default:
		tb.Fatalf("no test key for %s", alg)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return &testKey{kid: kid, alg: alg, signer: s}
}

// jwk returns the public JWK with kid, alg and use.
func (k *testKey) jwk(tb testing.TB) map[string]any {
	tb.Helper()
	key, err := jwk.Import(k.signer.Public())
	if err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(key)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if k.kid != "" {
		m["kid"] = k.kid
	}
	m["alg"] = k.alg
	m["use"] = "sig"
	return m
}

// signJWS signs header and claims (any JSON-marshalable values) with alg, which may differ from the key's.
func signJWS(tb testing.TB, signer crypto.Signer, alg string, header, claims any) string {
	tb.Helper()
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	input := enc(hb) + "." + enc(cb)
	return input + "." + enc(rawSign(tb, signer, alg, input))
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rawSign(tb testing.TB, signer crypto.Signer, alg, input string) []byte {
	tb.Helper()
	switch alg {
	case "none":
		return nil
	case "ES256", "ES384":
		k := signer.(*ecdsa.PrivateKey)
		var h []byte
		if alg == "ES256" {
			d := sha256.Sum256([]byte(input))
			h = d[:]
		} else {
			d := sha512.Sum384([]byte(input))
			h = d[:]
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, h)
		if err != nil {
			tb.Fatal(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	case "RS256", "PS256":
		d := sha256.Sum256([]byte(input))
		var opts crypto.SignerOpts = crypto.SHA256
		if alg == "PS256" {
			opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		}
		sig, err := signer.Sign(rand.Reader, d[:], opts)
		if err != nil {
			tb.Fatal(err)
		}
		return sig
	case "EdDSA":
		sig, err := signer.Sign(rand.Reader, []byte(input), crypto.Hash(0))
		if err != nil {
			tb.Fatal(err)
		}
		return sig
	}
	tb.Fatalf("cannot sign %s", alg)
	return nil
}

// testAS is a minimal authorization server: RFC 8414 metadata, a JWKS, and an introspection endpoint.
type testAS struct {
	tb     testing.TB
	srv    *httptest.Server
	issuer string
	clock  *clock

	mu         sync.Mutex
	published  []*testKey
	introspect http.HandlerFunc

	jwksFetches atomic.Int32
	introspects atomic.Int32
}

func newTestAS(tb testing.TB) *testAS {
	tb.Helper()
	a := &testAS{tb: tb, clock: &clock{}}
	a.published = []*testKey{newTestKey(tb, "k1", "ES256")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": a.issuer, "jwks_uri": a.issuer + "/jwks.json", "introspection_endpoint": a.issuer + "/introspect",
		})
	})
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, r *http.Request) {
		a.jwksFetches.Add(1)
		a.mu.Lock()
		keys := []any{}
		for _, k := range a.published {
			keys = append(keys, k.jwk(tb))
		}
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	mux.HandleFunc("POST /introspect", func(w http.ResponseWriter, r *http.Request) {
		a.introspects.Add(1)
		a.mu.Lock()
		h := a.introspect
		a.mu.Unlock()
		if h == nil {
			http.Error(w, "no introspection", http.StatusNotFound)
			return
		}
		h(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	a.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	a.srv.Start()
	a.issuer = a.srv.URL
	tb.Cleanup(a.srv.Close)
	return a
}

func (a *testAS) key() *testKey {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.published[0]
}

func (a *testAS) publish(keys ...*testKey) {
	a.mu.Lock()
	a.published = keys
	a.mu.Unlock()
}

// claims returns valid claims of an unbound token for testResource.
func (a *testAS) claims() map[string]any {
	now := a.clock.Now().Unix()
	return map[string]any{
		"iss": a.issuer, "sub": "usr_alice", "aud": testResource, "client_id": "demo-cli",
		"scope": "mcp:tools offline_access", "iat": now, "exp": now + 600, "jti": "jti-" + rand.Text(),
		"auth_time": now - 10, "org_id": "org_acme", "ddls:connections": []string{"conn_github"},
	}
}

func (a *testAS) header(k *testKey) map[string]any {
	return map[string]any{"alg": k.alg, "kid": k.kid, "typ": "at+jwt"}
}

// token returns a valid token signed by the first published key, after mut changes header and claims.
func (a *testAS) token(mut func(h, c map[string]any)) string {
	k := a.key()
	h, c := a.header(k), a.claims()
	if mut != nil {
		mut(h, c)
	}
	alg, _ := h["alg"].(string)
	if alg == "" {
		alg = k.alg
	}
	return signJWS(a.tb, k.signer, alg, h, c)
}

// boundToken returns a valid token bound to key.
func (a *testAS) boundToken(key *dpop.Key) string {
	return a.token(func(_, c map[string]any) { c["cnf"] = map[string]string{"jkt": key.Thumbprint()} })
}

func (a *testAS) verifier(tb testing.TB, opts *JWTOptions) *JWTVerifier {
	tb.Helper()
	var o JWTOptions
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = a.clock.Now
	}
	if o.Logger == nil {
		o.Logger = discardLogger()
	}
	v, err := NewJWTVerifier(context.Background(), a.issuer, testResource, &o)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func (a *testAS) dpopKey(tb testing.TB) *dpop.Key {
	tb.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	k, err := dpop.NewKey(priv, &dpop.KeyOptions{Now: a.clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// recordingHandler keeps the check attribute of every logged refusal.
type recordingHandler struct {
	mu     sync.Mutex
	checks []string
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "check" {
			h.mu.Lock()
			h.checks = append(h.checks, a.Value.String())
			h.mu.Unlock()
		}
		return true
	})
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordingHandler) last() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.checks) == 0 {
		return ""
	}
	return h.checks[len(h.checks)-1]
}

// okHandler answers 200 with the principal's subject.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	if p == nil {
		http.Error(w, "no principal", 500)
		return
	}
	_, _ = w.Write([]byte(p.Subject + " " + p.JKT + " " + strings.Join(p.Scopes, ",")))
})

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
