// https://www.rfc-editor.org/rfc/rfc7515
// https://www.rfc-editor.org/rfc/rfc9068

package rs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/ddls/mcpauth/dpop"
)

// Compact JWS parsing and signature verification with the standard library's primitives. jwx parses the
// key set (jwks.go); the per-request path is ours so that it does no more than RFC 7515 §5.2 requires and
// accepts nothing else (no JSON serialization, no unencoded payload, no keys from the token itself).

// algorithm describes a JWS signature algorithm (RFC 7518 §3.1, RFC 8037 §3.1, RFC 9864).
type algorithm struct {
	name  string
	kty   string         // "EC", "RSA" or "OKP"
	curve elliptic.Curve // for EC
	hash  crypto.Hash    // for EC and RSA
	pss   bool           // RSASSA-PSS rather than PKCS #1 v1.5
}

var algorithms = map[string]algorithm{
	dpop.ES256:   {name: dpop.ES256, kty: "EC", curve: elliptic.P256(), hash: crypto.SHA256},
	dpop.ES384:   {name: dpop.ES384, kty: "EC", curve: elliptic.P384(), hash: crypto.SHA384},
	dpop.ES512:   {name: dpop.ES512, kty: "EC", curve: elliptic.P521(), hash: crypto.SHA512},
	dpop.RS256:   {name: dpop.RS256, kty: "RSA", hash: crypto.SHA256},
	dpop.RS384:   {name: dpop.RS384, kty: "RSA", hash: crypto.SHA384},
	dpop.RS512:   {name: dpop.RS512, kty: "RSA", hash: crypto.SHA512},
	dpop.PS256:   {name: dpop.PS256, kty: "RSA", hash: crypto.SHA256, pss: true},
	dpop.PS384:   {name: dpop.PS384, kty: "RSA", hash: crypto.SHA384, pss: true},
	dpop.PS512:   {name: dpop.PS512, kty: "RSA", hash: crypto.SHA512, pss: true},
	dpop.EdDSA:   {name: dpop.EdDSA, kty: "OKP"},
	dpop.Ed25519: {name: dpop.Ed25519, kty: "OKP"},
}

// defaultTokenAlgs are the access-token algorithms accepted by default: those authd can sign with (ES256
// by default, EdDSA and RS256 selectable) and PS256.
func defaultTokenAlgs() []string { return []string{dpop.ES256, dpop.EdDSA, dpop.RS256, dpop.PS256} }

// algSet is an allow-list of algorithms.
type algSet map[string]algorithm

func newAlgSet(names []string) (algSet, error) {
	if len(names) == 0 {
		names = defaultTokenAlgs()
	}
	s := algSet{}
	for _, n := range names {
		a, ok := algorithms[n]
		if !ok {
			// none and the HMAC algorithms are not in the table: a resource server holds no shared secret, and
			// HS256 "signed" with a public key is the classic algorithm-confusion forgery.
			return nil, fmt.Errorf("rs: algorithm %q is not an asymmetric signature algorithm this package supports", n)
		}
		s[n] = a
	}
	return s, nil
}

// jwsHeader holds the JOSE header members we read (RFC 7515 §4.1).
type jwsHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// compactJWS is a parsed, not yet verified, JWS in compact serialization.
type compactJWS struct {
	header       jwsHeader
	signingInput string // BASE64URL(header) || '.' || BASE64URL(payload)
	payload      []byte
	signature    []byte
}

var b64 = base64.RawURLEncoding.Strict()

// parseCompactJWS splits and decodes a compact JWS (RFC 7515 §7.1, §5.2 steps 1–6).
func parseCompactJWS(token string) (*compactJWS, *Error) {
	d1 := strings.IndexByte(token, '.')
	if d1 <= 0 {
		return nil, errMalformed(nil)
	}
	rest := token[d1+1:]
	d2 := strings.IndexByte(rest, '.')
	// Exactly three parts: a JWE has five, and RFC 9068 access tokens are signed, not encrypted.
	if d2 < 0 || strings.IndexByte(rest[d2+1:], '.') >= 0 {
		return nil, errMalformed(nil)
	}
	d2 += d1 + 1
	hdr, err := b64.DecodeString(token[:d1])
	if err != nil {
		return nil, errMalformed(err)
	}
	payload, err := b64.DecodeString(token[d1+1 : d2])
	if err != nil {
		return nil, errMalformed(err)
	}
	sig, err := b64.DecodeString(token[d2+1:])
	if err != nil {
		return nil, errMalformed(err)
	}
	j := &compactJWS{signingInput: token[:d2], payload: payload, signature: sig}
	if err := json.Unmarshal(hdr, &j.header); err != nil {
		return nil, errMalformed(err)
	}
	// RFC 7515 §4.1.11: a recipient that does not understand a critical extension MUST reject the JWS.
	if j.header.Crit != nil {
		return nil, errInvalidToken("crit", "The access token uses an unsupported critical header parameter.", nil)
	}
	return j, nil
}

func errMalformed(cause error) *Error {
	return errInvalidToken("malformed", "The access token is not a well-formed JWT.", cause)
}

// verificationKey is a public key from the issuer's JWKS.
type verificationKey struct {
	kid string
	alg string // the JWK's alg member, if any (RFC 7517 §4.4)
	ec  *ecdsa.PublicKey
	rsa *rsa.PublicKey
	ed  ed25519.PublicKey
}

// fits reports whether the key may verify signatures of algorithm a: the key type and curve the algorithm
// needs, and the key's own alg member when it has one.
func (k *verificationKey) fits(a algorithm) bool {
	if k.alg != "" && k.alg != a.name && !(isEdDSA(k.alg) && isEdDSA(a.name)) {
		return false
	}
	switch a.kty {
	case "EC":
		return k.ec != nil && k.ec.Curve == a.curve
	case "RSA":
		return k.rsa != nil
	case "OKP":
		return k.ed != nil
	}
	return false
}

func isEdDSA(alg string) bool { return alg == dpop.EdDSA || alg == dpop.Ed25519 }

// verify checks the signature over signingInput (RFC 7515 §5.2 step 8) with a key that fits a.
func (k *verificationKey) verify(a algorithm, signingInput string, sig []byte) bool {
	switch a.kty {
	case "EC":
		// RFC 7518 §3.4: R || S, each exactly the size of the curve's order.
		size := (a.curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k.ec, digest(a.hash, signingInput), r, s)
	case "OKP":
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, []byte(signingInput), sig)
	case "RSA":
		if len(sig) != k.rsa.Size() {
			return false
		}
		h := digest(a.hash, signingInput)
		if a.pss {
			// RFC 7518 §3.5: "The size of the salt value is the same size as the hash function output."
			return rsa.VerifyPSS(k.rsa, a.hash, h, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(k.rsa, a.hash, h, sig) == nil
	}
	return false
}

func digest(h crypto.Hash, s string) []byte {
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256([]byte(s))
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384([]byte(s))
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512([]byte(s))
		return d[:]
	}
	return nil
}
