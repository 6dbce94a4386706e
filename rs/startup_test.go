package rs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// TestNewJWTVerifierWaitsForIssuer: a resource server may start before its authorization server; the
// verifier retries discovery until the issuer answers.
func TestNewJWTVerifierWaitsForIssuer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens yet: connection refused
	issuer := "http://" + addr
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/jwks.json"})
	})
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.Import(priv.Public())
	_ = pub.Set(jwk.KeyIDKey, "k1")
	_ = pub.Set(jwk.AlgorithmKey, "ES256")
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	jwks, _ := json.Marshal(set)
	mux.HandleFunc("/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	go func() {
		time.Sleep(300 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return
		}
		srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: mux}}
		srv.Start()
		t.Cleanup(srv.Close)
	}()
	v, err := NewJWTVerifier(context.Background(), issuer, "http://127.0.0.1:8080/api", &JWTOptions{DiscoveryTimeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("verifier did not wait for the issuer: %v", err)
	}
	if v.Issuer() != issuer {
		t.Fatal(v.Issuer())
	}
}

// TestNewJWTVerifierMisconfiguredFailsFast: a reachable issuer with unusable metadata is not retried.
func TestNewJWTVerifierMisconfiguredFailsFast(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "http://elsewhere.example"})
	}))
	defer srv.Close()
	if _, err := NewJWTVerifier(context.Background(), srv.URL, "http://127.0.0.1:8080/api", &JWTOptions{DiscoveryTimeout: time.Minute}); err == nil {
		t.Fatal("metadata for another issuer accepted")
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("%d metadata requests: a misconfiguration was retried", n)
	}
}
