// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math/big"
)

// RSA modulus bounds. Below 2048 bits is too weak (RFC 7518 §3.3: "A key of size 2048 bits or larger MUST
// be used"); above 8192 bits, verification is a cheap way for a client to burn server CPU.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// jwkFields are the members of the jwk header we read. Values are base64url text, kept as received so the
// RFC 7638 thumbprint is computed over exactly what the client sent (after checking it is canonical).
type jwkFields struct {
	kty, crv, x, y, n, e string
	private              bool // a private or symmetric member (d, p, q, dp, dq, qi, oth, k) is present
}

// readJWK reads the jwk header object. r is positioned at its value.
func readJWK(r *jsonReader, depth int) (jwkFields, error) {
	var f jwkFields
	if err := r.beginObject(); err != nil {
		return f, err
	}
	var seen [6]bool
	first := true
	var scratch [32]byte
	for {
		name, ok, err := r.member(&first, scratch[:0])
		if err != nil {
			return f, err
		}
		if !ok {
			return f, nil
		}
		var dst *string
		idx := -1
		switch string(name) {
		case "kty":
			dst, idx = &f.kty, 0
		case "crv":
			dst, idx = &f.crv, 1
		case "x":
			dst, idx = &f.x, 2
		case "y":
			dst, idx = &f.y, 3
		case "n":
			dst, idx = &f.n, 4
		case "e":
			dst, idx = &f.e, 5
		case "d", "p", "q", "dp", "dq", "qi", "oth", "k":
			// RFC 9449 §4.3: the jwk "MUST NOT contain a private key"; k is a symmetric key (RFC 7518 §6.4).
			f.private = true
		}
		if dst == nil {
			if err := r.skip(depth + 1); err != nil {
				return f, err
			}
			continue
		}
		if seen[idx] {
			return f, errJSON("duplicate jwk member")
		}
		seen[idx] = true
		if idx <= 1 {
			// kty and crv: one of a few names, kept as constants to spare an allocation.
			var buf [16]byte
			b, err := r.strBytes(buf[:0])
			if err != nil {
				return f, err
			}
			*dst = internKeyName(b)
			continue
		}
		if *dst, err = r.str(); err != nil {
			return f, err
		}
	}
}

// internKeyName maps the kty and crv values we support to constants; anything else becomes a value that
// matches no key type or curve.
func internKeyName(b []byte) string {
	switch string(b) {
	case "EC":
		return "EC"
	case "RSA":
		return "RSA"
	case "OKP":
		return "OKP"
	case "P-256":
		return "P-256"
	case "P-384":
		return "P-384"
	case "P-521":
		return "P-521"
	case "Ed25519":
		return "Ed25519"
	}
	return "\x00unsupported"
}

// publicKey is a verified-usable public key taken from a jwk header.
type publicKey struct {
	ec  *ecdsa.PublicKey
	ed  ed25519.PublicKey
	rsa *rsa.PublicKey
}

// isB64URL reports whether s is canonical unpadded base64url (RFC 7515 §2): only the URL-safe alphabet (the
// standard decoder would skip CR and LF), a possible length, and zero bits after the last full byte, so one
// byte string has exactly one encoding and the thumbprint of the text is the thumbprint of the key.
func isB64URL(s string) bool {
	if len(s)%4 == 1 {
		return false
	}
	var last byte
	for i := 0; i < len(s); i++ {
		v := b64val(s[i])
		if v < 0 {
			return false
		}
		last = byte(v)
	}
	switch len(s) % 4 {
	case 2:
		return last&0x0f == 0
	case 3:
		return last&0x03 == 0
	}
	return true
}

func b64val(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}

// decodeB64 decodes canonical base64url into dst and returns the bytes; it fails when s is not canonical or
// does not fit. It works on the string directly, so the hot path makes no copy of it.
func decodeB64(dst []byte, s string) ([]byte, bool) {
	if !isB64URL(s) || len(s)*6/8 > len(dst) {
		return nil, false
	}
	n := 0
	var acc uint32
	bits := 0
	for i := 0; i < len(s); i++ {
		acc = acc<<6 | uint32(b64val(s[i]))
		bits += 6
		if bits >= 8 {
			bits -= 8
			dst[n] = byte(acc >> bits)
			n++
		}
	}
	return dst[:n], true
}

// key checks the jwk against alg and builds the public key (RFC 9449 §4.3: the signature must verify "with
// the public key contained in the jwk JOSE Header Parameter"; RFC 7518 §6 for the members).
func (f *jwkFields) key(alg algInfo) (publicKey, error) {
	if f.private {
		return publicKey{}, errors.New("jwk holds private or symmetric key material")
	}
	switch alg.kty {
	case ktyEC:
		if f.kty != "EC" {
			return publicKey{}, errors.New("jwk kty does not match alg")
		}
		if f.crv != alg.crv {
			// RFC 7518 §3.4: ES256 is ECDSA using P-256, and so on; a P-384 key cannot sign ES256.
			return publicKey{}, errors.New("jwk crv does not match alg")
		}
		var buf [1 + 2*66]byte
		buf[0] = 4
		// RFC 7518 §6.2.1.2/§6.2.1.3: x and y "MUST be the full size of a coordinate".
		x, ok1 := decodeB64(buf[1:1+alg.coord], f.x)
		y, ok2 := decodeB64(buf[1+alg.coord:1+2*alg.coord], f.y)
		if !ok1 || !ok2 || len(x) != alg.coord || len(y) != alg.coord {
			return publicKey{}, errors.New("jwk EC coordinates are not canonical")
		}
		// ParseUncompressedPublicKey refuses points that are not on the curve and the point at infinity;
		// the NIST curves have cofactor 1, so there are no other small-order points.
		pub, err := ecdsa.ParseUncompressedPublicKey(alg.curve(), buf[:1+2*alg.coord])
		if err != nil {
			return publicKey{}, errors.New("jwk EC point is not on the curve")
		}
		return publicKey{ec: pub}, nil
	case ktyOKP:
		if f.kty != "OKP" || f.crv != "Ed25519" {
			return publicKey{}, errors.New("jwk is not an Ed25519 key")
		}
		var buf [ed25519.PublicKeySize]byte
		x, ok := decodeB64(buf[:], f.x)
		if !ok || len(x) != ed25519.PublicKeySize {
			return publicKey{}, errors.New("jwk Ed25519 key is not 32 bytes")
		}
		if ed25519SmallOrder(x) {
			return publicKey{}, errors.New("jwk Ed25519 key is a small-order point")
		}
		return publicKey{ed: ed25519.PublicKey(append([]byte(nil), x...))}, nil
	case ktyRSA:
		if f.kty != "RSA" {
			return publicKey{}, errors.New("jwk kty does not match alg")
		}
		var nb [maxRSABits / 8]byte
		n, ok := decodeB64(nb[:], f.n)
		// RFC 7518 §6.3.1.1: n "MUST utilize the minimum number of octets".
		if !ok || len(n) == 0 || n[0] == 0 {
			return publicKey{}, errors.New("jwk RSA modulus is not canonical")
		}
		var eb [4]byte
		e, ok := decodeB64(eb[:], f.e)
		if !ok || len(e) == 0 || e[0] == 0 {
			return publicKey{}, errors.New("jwk RSA exponent is not canonical")
		}
		exp := 0
		for _, c := range e {
			exp = exp<<8 | int(c)
		}
		if exp < 3 || exp&1 == 0 || exp > 1<<31-1 {
			return publicKey{}, errors.New("jwk RSA exponent is not acceptable")
		}
		mod := new(big.Int).SetBytes(n)
		if bits := mod.BitLen(); bits < minRSABits || bits > maxRSABits {
			return publicKey{}, errors.New("jwk RSA modulus must be 2048 to 8192 bits")
		}
		if mod.Bit(0) == 0 {
			return publicKey{}, errors.New("jwk RSA modulus is even")
		}
		return publicKey{rsa: &rsa.PublicKey{N: mod, E: exp}}, nil
	}
	return publicKey{}, errors.New("unsupported key type")
}

// thumbprint returns the RFC 7638 SHA-256 thumbprint: the required members in lexicographic order, no
// whitespace. The values were checked to be canonical base64url, so they need no JSON escaping.
func (f *jwkFields) thumbprint() string {
	var buf [96 + maxRSABits/6]byte
	b := buf[:0]
	switch f.kty {
	case "EC":
		b = append(b, `{"crv":"`...)
		b = append(b, f.crv...)
		b = append(b, `","kty":"EC","x":"`...)
		b = append(b, f.x...)
		b = append(b, `","y":"`...)
		b = append(b, f.y...)
		b = append(b, `"}`...)
	case "RSA":
		b = append(b, `{"e":"`...)
		b = append(b, f.e...)
		b = append(b, `","kty":"RSA","n":"`...)
		b = append(b, f.n...)
		b = append(b, `"}`...)
	case "OKP":
		b = append(b, `{"crv":"`...)
		b = append(b, f.crv...)
		b = append(b, `","kty":"OKP","x":"`...)
		b = append(b, f.x...)
		b = append(b, `"}`...)
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Small-order Ed25519 points, as canonical little-endian y with the sign bit clear: y = 1 (identity),
// y = p-1 (order 2), y = 0 (order 4), and ±y of the order-8 points. A key of small order lets one
// signature verify for many messages, so no proof made with it shows possession of anything.
const (
	edY1   = "\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	edYm1  = "\xec\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"
	edY0   = "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	edY8a  = "\x26\xe8\x95\x8f\xc2\xb2\x27\xb0\x45\xc3\xf4\x89\xf2\xef\x98\xf0\xd5\xdf\xac\x05\xd3\xc6\x33\x39\xb1\x38\x02\x88\x6d\x53\xfc\x05"
	edY8b  = "\xc7\x17\x6a\x70\x3d\x4d\xd8\x4f\xba\x3c\x0b\x76\x0d\x10\x67\x0f\x2a\x20\x53\xfa\x2c\x39\xcc\xc6\x4e\xc7\xfd\x77\x92\xac\x03\x7a"
	edP    = "\xed\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"
	edPlus = "\xee\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"
)

// ed25519SmallOrder reports whether the encoded point has small order. The sign bit is ignored, and the
// non-canonical encodings p (≡ 0) and p+1 (≡ 1) that crypto/ed25519 accepts are included.
func ed25519SmallOrder(k []byte) bool {
	var y [32]byte
	copy(y[:], k)
	y[31] &= 0x7f
	switch string(y[:]) {
	case edY1, edYm1, edY0, edY8a, edY8b, edP, edPlus:
		return true
	}
	return false
}
