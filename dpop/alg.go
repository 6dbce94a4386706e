// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"crypto"
	"crypto/elliptic"
	"fmt"
	"strings"
)

// Algorithm names (RFC 7518 §3.1, RFC 8037 §3.1, RFC 9864).
const (
	ES256   = "ES256"
	ES384   = "ES384"
	ES512   = "ES512"
	RS256   = "RS256"
	RS384   = "RS384"
	RS512   = "RS512"
	PS256   = "PS256"
	PS384   = "PS384"
	PS512   = "PS512"
	EdDSA   = "EdDSA"
	Ed25519 = "Ed25519"
)

// DefaultAllowedAlgs returns the algorithms a Verifier accepts when VerifierOptions.AllowedAlgs is empty:
// ES256, EdDSA, RS256, PS256. It returns a fresh slice.
func DefaultAllowedAlgs() []string { return []string{ES256, EdDSA, RS256, PS256} }

// SupportedAlgs returns every algorithm this package can verify and sign with. It returns a fresh slice.
func SupportedAlgs() []string {
	return []string{ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA, Ed25519}
}

type keyType uint8

const (
	ktyEC keyType = iota + 1
	ktyRSA
	ktyOKP
)

// algInfo describes one asymmetric JWS algorithm.
type algInfo struct {
	name  string // canonical, a constant: Proof.Alg uses it without allocating
	kty   keyType
	crv   string // EC and OKP: the only curve allowed with this alg
	hash  crypto.Hash
	pss   bool
	coord int // EC: coordinate size in bytes
}

func (a algInfo) curve() elliptic.Curve {
	switch a.crv {
	case "P-256":
		return elliptic.P256()
	case "P-384":
		return elliptic.P384()
	case "P-521":
		return elliptic.P521()
	}
	return nil
}

// lookupAlg maps a JWS alg to its description. Only asymmetric signature algorithms exist here: none and
// HMAC are not in the table, so no configuration can make them acceptable (RFC 9449 §4.3: alg "MUST NOT be
// none or an identifier for a symmetric algorithm (MAC)").
func lookupAlg(name string) (algInfo, bool) {
	switch name {
	case ES256:
		return algInfo{name: ES256, kty: ktyEC, crv: "P-256", hash: crypto.SHA256, coord: 32}, true
	case ES384:
		return algInfo{name: ES384, kty: ktyEC, crv: "P-384", hash: crypto.SHA384, coord: 48}, true
	case ES512:
		return algInfo{name: ES512, kty: ktyEC, crv: "P-521", hash: crypto.SHA512, coord: 66}, true
	case RS256:
		return algInfo{name: RS256, kty: ktyRSA, hash: crypto.SHA256}, true
	case RS384:
		return algInfo{name: RS384, kty: ktyRSA, hash: crypto.SHA384}, true
	case RS512:
		return algInfo{name: RS512, kty: ktyRSA, hash: crypto.SHA512}, true
	case PS256:
		return algInfo{name: PS256, kty: ktyRSA, hash: crypto.SHA256, pss: true}, true
	case PS384:
		return algInfo{name: PS384, kty: ktyRSA, hash: crypto.SHA384, pss: true}, true
	case PS512:
		return algInfo{name: PS512, kty: ktyRSA, hash: crypto.SHA512, pss: true}, true
	case EdDSA:
		return algInfo{name: EdDSA, kty: ktyOKP, crv: "Ed25519"}, true
	case Ed25519:
		return algInfo{name: Ed25519, kty: ktyOKP, crv: "Ed25519"}, true
	}
	return algInfo{}, false
}

// algSet is the configured allow-list, a bit per supported algorithm, so the hot path does not hash strings.
type algSet uint16

func algBit(name string) algSet {
	for i, a := range SupportedAlgs() {
		if a == name {
			return 1 << i
		}
	}
	return 0
}

func (s algSet) has(name string) bool {
	switch name {
	case ES256:
		return s&1 != 0
	case ES384:
		return s&(1<<1) != 0
	case ES512:
		return s&(1<<2) != 0
	case RS256:
		return s&(1<<3) != 0
	case RS384:
		return s&(1<<4) != 0
	case RS512:
		return s&(1<<5) != 0
	case PS256:
		return s&(1<<6) != 0
	case PS384:
		return s&(1<<7) != 0
	case PS512:
		return s&(1<<8) != 0
	case EdDSA:
		return s&(1<<9) != 0
	case Ed25519:
		return s&(1<<10) != 0
	}
	return false
}

// newAlgSet validates a configured allow-list. none and symmetric algorithms are refused even when asked
// for (RFC 9449 §4.3, RFC 8725 §3.1).
func newAlgSet(algs []string) (algSet, error) {
	if len(algs) == 0 {
		algs = DefaultAllowedAlgs()
	}
	var s algSet
	for _, a := range algs {
		if strings.EqualFold(a, "none") || strings.HasPrefix(strings.ToUpper(a), "HS") {
			return 0, fmt.Errorf("dpop: algorithm %q is not an asymmetric signature algorithm and can never be allowed (RFC 9449 §4.3)", a)
		}
		b := algBit(a)
		if b == 0 {
			return 0, fmt.Errorf("dpop: unsupported algorithm %q (supported: %s)", a, strings.Join(SupportedAlgs(), ", "))
		}
		s |= b
	}
	return s, nil
}

func (s algSet) list() []string {
	var out []string
	for _, a := range SupportedAlgs() {
		if s.has(a) {
			out = append(out, a)
		}
	}
	return out
}
