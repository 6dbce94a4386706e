package bootstrap

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	jose "github.com/go-jose/go-jose/v3"

	"github.com/ddls/mcpauth/internal/oauthuri"
)

type jwksProblem struct {
	path string // relative to the jwks key, e.g. keys[0]
	msg  string
}

// checkJWKS validates an inline JWK Set for private_key_jwt (RFC 7517 §5): a non-empty keys array of
// asymmetric public signing keys, unique kids, RSA at least 2048 bits.
func checkJWKS(raw []byte) []jwksProblem {
	var set map[string]json.RawMessage
	if err := json.Unmarshal(raw, &set); err != nil {
		return []jwksProblem{{"", "must be a JWK Set object"}}
	}
	keysRaw, ok := set["keys"]
	if !ok {
		return []jwksProblem{{"", "a JWK Set needs a keys list (RFC 7517 §5)"}}
	}
	var keys []json.RawMessage
	if err := json.Unmarshal(keysRaw, &keys); err != nil {
		return []jwksProblem{{"keys", "must be a list of JWKs"}}
	}
	if len(keys) == 0 {
		return []jwksProblem{{"keys", "must hold at least one key"}}
	}
	var out []jwksProblem
	kids := map[string]bool{}
	for i, kr := range keys {
		p := fmt.Sprintf("keys[%d]", i)
		if msg := checkJWK(kr, kids); msg != "" {
			out = append(out, jwksProblem{p, msg})
		}
	}
	return out
}

func checkJWK(raw json.RawMessage, kids map[string]bool) string {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return "must be a JWK object"
	}
	// The JWK members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4;
	// RFC 8037 §2). A client registers public keys only; the AS must never hold its private key.
	var priv []string
	for _, name := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := members[name]; ok {
			priv = append(priv, name)
		}
	}
	if len(priv) > 0 {
		return fmt.Sprintf("holds private or symmetric key material (%s); register the public key only", strings.Join(priv, ", "))
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		// go-jose's messages name the defect (unknown kty, bad curve), not the key.
		return "not a valid public JWK: " + strings.TrimPrefix(err.Error(), "go-jose/go-jose: ")
	}
	if !k.Valid() || !k.IsPublic() {
		return "not a valid asymmetric public key"
	}
	if rk, ok := k.Key.(*rsa.PublicKey); ok && rk.N.BitLen() < 2048 {
		return "RSA keys must be at least 2048 bits"
	}
	if k.Use != "" && k.Use != "sig" {
		return `use must be "sig": these keys verify client assertions`
	}
	if k.KeyID != "" {
		if kids[k.KeyID] {
			return fmt.Sprintf("duplicate kid %q", k.KeyID)
		}
		kids[k.KeyID] = true
	}
	return ""
}

// checkJWKSURI accepts an absolute https URL, or http on a loopback host (local development and tests).
func checkJWKSURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return errors.New("jwks_uri must be an absolute https URL")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("jwks_uri must not contain a fragment")
	}
	if u.User != nil {
		return errors.New("jwks_uri must not contain user information")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !oauthuri.IsLoopbackHost(u.Hostname()) {
			return errors.New("jwks_uri uses http on a non-loopback host; use https")
		}
	default:
		return errors.New("jwks_uri must be an https URL")
	}
	return nil
}
