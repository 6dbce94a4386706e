// https://www.rfc-editor.org/rfc/rfc9449

package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/ddls/mcpauth/dpop"
)

// A resource server verifies the proof sent with a DPoP-bound access token.
func ExampleNewVerifier() {
	v, err := dpop.NewVerifier(nil) // ES256, EdDSA, RS256, PS256; iat ±60 s; in-memory replay store
	if err != nil {
		log.Fatal(err)
	}

	// Client side, for the example.
	key, _ := dpop.GenerateKey(dpop.ES256)
	const token = "an-access-token"
	proof, _ := key.Proof("GET", "https://rs.example.com/mcp", token, "")

	// Server side: headers from r.Header.Values("DPoP"), the URL the client addressed, the token, and the
	// token's cnf.jkt.
	p, err := v.VerifyBound(context.Background(), []string{proof}, "GET", "https://rs.example.com/mcp?x=1", token, key.Thumbprint())
	fmt.Println(err == nil, p.JKT == key.Thumbprint())

	// The same proof a second time is a replay.
	_, err = v.VerifyBound(context.Background(), []string{proof}, "GET", "https://rs.example.com/mcp", token, key.Thumbprint())
	var de *dpop.Error
	if errors.As(err, &de) {
		fmt.Println(de.Code, de.Check.String())
	}
	// Output:
	// true true
	// invalid_dpop_proof replay
}

// Errors name the RFC 9449 §4.3 step that failed.
func ExampleError() {
	v, _ := dpop.NewVerifier(nil)
	key, _ := dpop.GenerateKey("")
	proof, _ := key.Proof("POST", "https://as.example.com/token", "", "")
	_, err := v.Verify(context.Background(), []string{proof}, "POST", "https://as.example.com/other", "")
	fmt.Println(errors.Is(err, dpop.CheckHTU))
	// Output: true
}

func ExampleGenerateKey() {
	key, err := dpop.GenerateKey(dpop.ES256)
	if err != nil {
		log.Fatal(err)
	}
	proof, err := key.Proof("POST", "https://as.example.com/token", "", "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key.Alg(), len(key.Thumbprint()), len(proof) > 0)
	// Output: ES256 43 true
}

// Wrap a key you already hold (or one in an HSM or KMS behind crypto.Signer).
func ExampleNewKey() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, err := dpop.NewKey(priv, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key.Alg())
	// Output: ES256
}

// Every replica shares the secrets; the first one issues, all verify.
func ExampleNewNonceSource() {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	nonces, err := dpop.NewNonceSource([][]byte{secret}, &dpop.NonceOptions{Window: 5 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	v, _ := dpop.NewVerifier(&dpop.VerifierOptions{Nonces: nonces})

	key, _ := dpop.GenerateKey("")
	proof, _ := key.Proof("POST", "https://as.example.com/token", "", "")
	_, err = v.Verify(context.Background(), []string{proof}, "POST", "https://as.example.com/token", "")
	var de *dpop.Error
	if errors.As(err, &de) && de.Code == dpop.CodeUseNonce {
		// Answer 400 {"error":"use_dpop_nonce"} with a DPoP-Nonce header; the client retries.
		proof, _ = key.Proof("POST", "https://as.example.com/token", "", nonces.Issue())
		_, err = v.Verify(context.Background(), []string{proof}, "POST", "https://as.example.com/token", "")
	}
	fmt.Println(err)
	// Output: <nil>
}

// An http.Client whose requests carry DPoP proofs and a DPoP-bound token.
func ExampleTransport() {
	v, _ := dpop.NewVerifier(nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := v.Verify(r.Context(), r.Header.Values("DPoP"), r.Method, "http://"+r.Host+r.URL.Path, "the-token")
		fmt.Fprintln(w, r.Header.Get("Authorization"), err == nil)
	}))
	defer srv.Close()

	key, _ := dpop.GenerateKey("")
	client := &http.Client{Transport: &dpop.Transport{Key: key, Token: dpop.StaticToken("the-token")}}
	resp, err := client.Get(srv.URL + "/mcp")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var auth string
	var ok bool
	fmt.Fscan(resp.Body, &auth, new(string), &ok)
	fmt.Println(auth, ok)
	// Output: DPoP true
}

func ExampleNewMemoryReplayStore() {
	store, err := dpop.NewMemoryReplayStore(&dpop.MemoryReplayOptions{MaxEntries: 100_000})
	if err != nil {
		log.Fatal(err)
	}
	until := time.Now().Add(time.Minute)
	fmt.Println(store.Use(context.Background(), "key", until))
	fmt.Println(errors.Is(store.Use(context.Background(), "key", until), dpop.CheckReplay))
	// Output:
	// <nil>
	// true
}

func ExampleParseChallenges() {
	cs, _ := dpop.ParseChallenges(`Bearer realm="mcp", DPoP algs="ES256", error="use_dpop_nonce"`)
	for _, c := range cs {
		fmt.Printf("%s %q\n", c.Scheme, c.Params["error"])
	}
	// Output:
	// Bearer ""
	// DPoP "use_dpop_nonce"
}
