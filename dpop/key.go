// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// KeyOptions configures NewKey. The zero value is usable.
type KeyOptions struct {
	// Alg is the JWS algorithm; empty means ES256/ES384/ES512 by curve for ECDSA keys, EdDSA for Ed25519 and
	// PS256 for RSA.
	Alg string
	// Now is the clock used for iat; nil means time.Now.
	Now func() time.Time
}

// Key is a client's DPoP key: it makes proofs (RFC 9449 §4). It is safe for concurrent use if its signer is.
type Key struct {
	signer crypto.Signer
	alg    algInfo
	now    func() time.Time
	jwk    []byte // public JWK, JSON
	jkt    string
	header string // base64url of the proof JOSE header, the same for every proof
}

// GenerateKey makes a new key for alg: "" or ES256 (P-256, the default), ES384, ES512, EdDSA or Ed25519
// (an Ed25519 key), RS256, RS384, RS512, PS256, PS384 or PS512 (a 2048-bit RSA key).
func GenerateKey(alg string) (*Key, error) {
	if alg == "" {
		alg = ES256
	}
	a, ok := lookupAlg(alg)
	if !ok {
		return nil, fmt.Errorf("dpop: unsupported algorithm %q", alg)
	}
	var signer crypto.Signer
	var err error
	switch a.kty {
	case ktyEC:
		signer, err = ecdsa.GenerateKey(a.curve(), rand.Reader)
	case ktyOKP:
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	case ktyRSA:
		signer, err = rsa.GenerateKey(rand.Reader, minRSABits)
	}
	if err != nil {
		return nil, fmt.Errorf("dpop: generate key: %w", err)
	}
	return NewKey(signer, &KeyOptions{Alg: alg})
}

// NewKey wraps an existing signer (a private key in memory, or a key in an HSM or KMS) whose public key is
// ECDSA on P-256, P-384 or P-521, Ed25519, or RSA of at least 2048 bits.
func NewKey(signer crypto.Signer, opts *KeyOptions) (*Key, error) {
	if signer == nil {
		return nil, errors.New("dpop: NewKey needs a signer")
	}
	var o KeyOptions
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	b64 := base64.RawURLEncoding.EncodeToString
	var f jwkFields
	switch pub := signer.Public().(type) {
	case *ecdsa.PublicKey:
		if o.Alg == "" {
			switch pub.Curve {
			case elliptic.P256():
				o.Alg = ES256
			case elliptic.P384():
				o.Alg = ES384
			case elliptic.P521():
				o.Alg = ES512
			}
		}
		a, _ := lookupAlg(o.Alg)
		if a.kty != ktyEC || pub.Curve != a.curve() {
			return nil, fmt.Errorf("dpop: an ECDSA key on this curve cannot sign %q", o.Alg)
		}
		raw, err := pub.Bytes()
		if err != nil {
			return nil, fmt.Errorf("dpop: %w", err)
		}
		f = jwkFields{kty: "EC", crv: a.crv, x: b64(raw[1 : 1+a.coord]), y: b64(raw[1+a.coord:])}
	case ed25519.PublicKey:
		if o.Alg == "" {
			o.Alg = EdDSA
		}
		if a, _ := lookupAlg(o.Alg); a.kty != ktyOKP {
			return nil, fmt.Errorf("dpop: an Ed25519 key cannot sign %q", o.Alg)
		}
		f = jwkFields{kty: "OKP", crv: "Ed25519", x: b64(pub)}
	case *rsa.PublicKey:
		if o.Alg == "" {
			o.Alg = PS256
		}
		if a, _ := lookupAlg(o.Alg); a.kty != ktyRSA {
			return nil, fmt.Errorf("dpop: an RSA key cannot sign %q", o.Alg)
		}
		if pub.N.BitLen() < minRSABits || pub.N.BitLen() > maxRSABits {
			return nil, errors.New("dpop: RSA keys must be 2048 to 8192 bits")
		}
		f = jwkFields{kty: "RSA", n: b64(pub.N.Bytes()), e: b64(big.NewInt(int64(pub.E)).Bytes())}
	default:
		return nil, fmt.Errorf("dpop: unsupported key type %T", pub)
	}
	a, _ := lookupAlg(o.Alg)
	jwk := publicJWKJSON(&f)
	hdr := `{"typ":"dpop+jwt","alg":"` + a.name + `","jwk":` + string(jwk) + `}`
	return &Key{
		signer: signer,
		alg:    a,
		now:    o.Now,
		jwk:    jwk,
		jkt:    f.thumbprint(),
		header: base64.RawURLEncoding.EncodeToString([]byte(hdr)),
	}, nil
}

func publicJWKJSON(f *jwkFields) []byte {
	switch f.kty {
	case "EC":
		return []byte(`{"kty":"EC","crv":"` + f.crv + `","x":"` + f.x + `","y":"` + f.y + `"}`)
	case "OKP":
		return []byte(`{"kty":"OKP","crv":"Ed25519","x":"` + f.x + `"}`)
	}
	return []byte(`{"kty":"RSA","n":"` + f.n + `","e":"` + f.e + `"}`)
}

// Alg returns the key's JWS algorithm.
func (k *Key) Alg() string { return k.alg.name }

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the public key (the cnf.jkt of tokens bound to it
// and the dpop_jkt authorization request parameter, RFC 9449 §10).
func (k *Key) Thumbprint() string { return k.jkt }

// PublicJWK returns the public key as a JWK (JSON). It never contains private members.
func (k *Key) PublicJWK() []byte { return append([]byte(nil), k.jwk...) }

// Signer returns the underlying signer, e.g. to persist a generated key.
func (k *Key) Signer() crypto.Signer { return k.signer }

// proofClaims are the claims of RFC 9449 §4.2, in its order.
type proofClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

// Proof returns a DPoP proof (RFC 9449 §4.2) for a request: htm is method, htu is url without query and
// fragment, iat is now, jti is 128 random bits. When accessToken is not empty, ath is its SHA-256 hash (for
// requests to a resource server); when nonce is not empty, it is sent as the nonce claim.
func (k *Key) Proof(method, url, accessToken, nonce string) (string, error) {
	if method == "" || url == "" {
		return "", errors.New("dpop: a proof needs a method and a URL")
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	c := proofClaims{
		JTI:   base64.RawURLEncoding.EncodeToString(jti[:]),
		HTM:   method,
		HTU:   stripQueryFragment(url),
		IAT:   k.now().Unix(),
		Nonce: nonce,
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c.ATH = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.Grow(len(k.header) + 2 + base64.RawURLEncoding.EncodedLen(len(payload)) + 700)
	sb.WriteString(k.header)
	sb.WriteByte('.')
	sb.WriteString(base64.RawURLEncoding.EncodeToString(payload))
	sig, err := k.sign([]byte(sb.String()))
	if err != nil {
		return "", err
	}
	sb.WriteByte('.')
	sb.WriteString(base64.RawURLEncoding.EncodeToString(sig))
	return sb.String(), nil
}

// sign makes a JWS signature (RFC 7515 §5.1) in the format RFC 7518 §3 specifies for the algorithm.
func (k *Key) sign(input []byte) ([]byte, error) {
	switch k.alg.kty {
	case ktyOKP:
		return k.signer.Sign(rand.Reader, input, crypto.Hash(0))
	case ktyRSA:
		h := digest(k.alg.hash, input, new([64]byte))
		var opts crypto.SignerOpts = k.alg.hash
		if k.alg.pss {
			opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: k.alg.hash}
		}
		return k.signer.Sign(rand.Reader, h, opts)
	}
	h := digest(k.alg.hash, input, new([64]byte))
	der, err := k.signer.Sign(rand.Reader, h, k.alg.hash)
	if err != nil {
		return nil, err
	}
	// crypto.Signer returns ASN.1; JWS wants R || S, each left-padded to the coordinate size (RFC 7518 §3.4).
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
		return nil, errors.New("dpop: signer returned a malformed ECDSA signature")
	}
	if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 8*k.alg.coord || rs.S.BitLen() > 8*k.alg.coord {
		return nil, errors.New("dpop: signer returned an out-of-range ECDSA signature")
	}
	out := make([]byte, 2*k.alg.coord)
	rs.R.FillBytes(out[:k.alg.coord])
	rs.S.FillBytes(out[k.alg.coord:])
	return out, nil
}
