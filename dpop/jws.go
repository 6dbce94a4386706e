// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"strconv"
	"strings"
)

// Parsing of the JWS parts of a proof (RFC 7515 §5.2) and signature verification (RFC 7518 §3).

// readHeader reads the JOSE header (RFC 7515 §4). Any crit parameter is refused: we implement no
// extension, and RFC 7515 §4.1.11 requires rejecting a JWS whose critical extensions are not understood.
func readHeader(b []byte) (typOK bool, alg string, jwk *jwkFields, err error) {
	r := jsonReader{b: b}
	if err = r.beginObject(); err != nil {
		return
	}
	var seenTyp, seenAlg bool
	first := true
	var scratch [32]byte
	for {
		name, ok, e := r.member(&first, scratch[:0])
		if e != nil {
			return false, "", nil, e
		}
		if !ok {
			break
		}
		switch string(name) {
		case "typ":
			if seenTyp {
				return false, "", nil, errJSON("duplicate typ")
			}
			seenTyp = true
			var buf [32]byte
			b, e := r.strBytes(buf[:0])
			if e != nil {
				return false, "", nil, e
			}
			// Media types are case-insensitive (RFC 7515 §4.1.9).
			typOK = strings.EqualFold(string(b), "dpop+jwt")
		case "alg":
			if seenAlg {
				return false, "", nil, errJSON("duplicate alg")
			}
			seenAlg = true
			var buf [32]byte
			b, e := r.strBytes(buf[:0])
			if e != nil {
				return false, "", nil, e
			}
			// The canonical constant, or "" for anything we do not support (refused as CheckAlg).
			if a, ok := lookupAlg(string(b)); ok {
				alg = a.name
			}
		case "jwk":
			if jwk != nil {
				return false, "", nil, errJSON("duplicate jwk")
			}
			f, e := readJWK(&r, 1)
			if e != nil {
				return false, "", nil, e
			}
			jwk = &f
		case "crit":
			return false, "", nil, errJSON("crit header is not supported")
		default:
			if err = r.skip(1); err != nil {
				return
			}
		}
	}
	err = r.end()
	return
}

type claimError struct {
	check Check
	desc  string
}

func (e *claimError) Error() string { return e.desc }

// readClaims reads the proof claims (RFC 9449 §4.2). A required claim of the wrong JSON type fails its own
// check; anything that is not a JSON object is malformed.
func readClaims(b []byte) (claims, error) {
	var c claims
	r := jsonReader{b: b}
	if err := r.beginObject(); err != nil {
		return c, err
	}
	var seen [6]bool
	first := true
	var scratch [32]byte
	for {
		name, ok, err := r.member(&first, scratch[:0])
		if err != nil {
			return c, err
		}
		if !ok {
			break
		}
		var dst *string
		idx, check := -1, Check(0)
		switch string(name) {
		case "jti":
			dst, idx, check = &c.jti, 0, CheckJTI
		case "htm":
			dst, idx, check = &c.htm, 1, CheckHTM
		case "htu":
			dst, idx, check = &c.htu, 2, CheckHTU
		case "ath":
			dst, idx, check = &c.ath, 3, CheckATH
		case "nonce":
			dst, idx, check = &c.nonce, 4, CheckNonce
		case "iat":
			idx, check = 5, CheckIAT
		default:
			if err := r.skip(1); err != nil {
				return c, err
			}
			continue
		}
		if seen[idx] {
			return c, errJSON("duplicate claim")
		}
		seen[idx] = true
		r.ws()
		if dst != nil {
			if r.i >= len(r.b) || r.b[r.i] != '"' {
				if err := r.skip(1); err != nil {
					return c, err
				}
				return c, &claimError{check, "DPoP proof claim " + string(name) + " is not a string"}
			}
			if *dst, err = r.str(); err != nil {
				return c, err
			}
			continue
		}
		// iat: a NumericDate, a JSON number (RFC 7519 §2).
		if r.i >= len(r.b) || !(r.b[r.i] == '-' || r.b[r.i] >= '0' && r.b[r.i] <= '9') {
			if err := r.skip(1); err != nil {
				return c, err
			}
			return c, &claimError{CheckIAT, "DPoP proof iat is not a number"}
		}
		num, err := r.number()
		if err != nil {
			return c, err
		}
		c.iat, c.hasIAT = parseNumber(num), true
	}
	if err := r.end(); err != nil {
		return c, err
	}
	return c, nil
}

// parseNumber converts a validated JSON number; integers, the usual case, avoid strconv's allocation.
func parseNumber(b []byte) float64 {
	if len(b) > 0 && len(b) <= 15 {
		var v int64
		intOnly := true
		for _, ch := range b {
			if ch < '0' || ch > '9' {
				intOnly = false
				break
			}
			v = v*10 + int64(ch-'0')
		}
		if intOnly {
			return float64(v)
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		// Out of range: ±Inf, which fails the window check.
		return f
	}
	return f
}

// verifySignature checks a JWS signature (RFC 7515 §5.2) with the algorithm's primitive.
func verifySignature(alg algInfo, pub publicKey, signingInput, sig []byte) bool {
	switch alg.kty {
	case ktyEC:
		// RFC 7518 §3.4: the signature is R || S, each the full coordinate size, not ASN.1.
		if pub.ec == nil || len(sig) != 2*alg.coord {
			return false
		}
		var der [8 + 2*67]byte
		return ecdsa.VerifyASN1(pub.ec, digest(alg.hash, signingInput, new([64]byte)), rawToDER(der[:0], sig))
	case ktyOKP:
		// crypto/ed25519 refuses non-canonical S (RFC 8032 §5.1.7).
		return pub.ed != nil && len(sig) == ed25519.SignatureSize && ed25519.Verify(pub.ed, signingInput, sig)
	case ktyRSA:
		if pub.rsa == nil || len(sig) != pub.rsa.Size() {
			return false
		}
		h := digest(alg.hash, signingInput, new([64]byte))
		if alg.pss {
			// RFC 7518 §3.5: "The size of the salt value is the same size as the hash function output."
			return rsa.VerifyPSS(pub.rsa, alg.hash, h, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(pub.rsa, alg.hash, h, sig) == nil
	}
	return false
}

func digest(h crypto.Hash, msg []byte, out *[64]byte) []byte {
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(msg)
		return append(out[:0], s[:]...)
	case crypto.SHA384:
		s := sha512.Sum384(msg)
		return append(out[:0], s[:]...)
	case crypto.SHA512:
		s := sha512.Sum512(msg)
		return append(out[:0], s[:]...)
	}
	return nil
}

// rawToDER turns a JWS ECDSA signature R || S into the ASN.1 DER SEQUENCE { INTEGER r, INTEGER s } that
// crypto/ecdsa takes.
func rawToDER(dst, sig []byte) []byte {
	half := len(sig) / 2
	r, s := trimZeros(sig[:half]), trimZeros(sig[half:])
	intLen := func(v []byte) int {
		n := len(v)
		if n == 0 || v[0]&0x80 != 0 {
			n++
		}
		return n
	}
	body := 2 + intLen(r) + 2 + intLen(s)
	dst = append(dst, 0x30)
	if body >= 0x80 {
		dst = append(dst, 0x81)
	}
	dst = append(dst, byte(body))
	for _, v := range [2][]byte{r, s} {
		dst = append(dst, 0x02, byte(intLen(v)))
		if len(v) == 0 || v[0]&0x80 != 0 {
			dst = append(dst, 0)
		}
		dst = append(dst, v...)
	}
	return dst
}

func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}
