// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
)

// The small-order blocklist is checked against the curve: each listed y gives a point whose order divides 8,
// and the eight torsion points (generated from one of order 8) are all refused, with either sign bit.
func TestEd25519SmallOrderList(t *testing.T) {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	d := new(big.Int).Mul(big.NewInt(-121665), new(big.Int).ModInverse(big.NewInt(121666), p))
	d.Mod(d, p)
	mod := func(x *big.Int) *big.Int { return x.Mod(x, p) }
	type pt struct{ x, y *big.Int }
	add := func(a, b pt) pt {
		// Twisted Edwards, a = -1: x3 = (x1y2 + y1x2)/(1 + d x1x2y1y2), y3 = (y1y2 + x1x2)/(1 - d x1x2y1y2)
		x1y2 := new(big.Int).Mul(a.x, b.y)
		y1x2 := new(big.Int).Mul(a.y, b.x)
		y1y2 := new(big.Int).Mul(a.y, b.y)
		x1x2 := new(big.Int).Mul(a.x, b.x)
		k := mod(new(big.Int).Mul(d, mod(new(big.Int).Mul(x1x2, y1y2))))
		den1 := mod(new(big.Int).Add(big.NewInt(1), k))
		den2 := mod(new(big.Int).Sub(big.NewInt(1), k))
		x3 := mod(new(big.Int).Mul(mod(new(big.Int).Add(x1y2, y1x2)), new(big.Int).ModInverse(den1, p)))
		y3 := mod(new(big.Int).Mul(mod(new(big.Int).Add(y1y2, x1x2)), new(big.Int).ModInverse(den2, p)))
		return pt{x3, y3}
	}
	decodeY := func(enc string) *big.Int {
		b := []byte(enc)
		b[31] &= 0x7f
		for i, j := 0, 31; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return mod(new(big.Int).SetBytes(b))
	}
	recoverX := func(y *big.Int) (*big.Int, bool) {
		// x² = (y² - 1) / (d y² + 1)
		y2 := mod(new(big.Int).Mul(y, y))
		u := mod(new(big.Int).Sub(y2, big.NewInt(1)))
		v := mod(new(big.Int).Add(mod(new(big.Int).Mul(d, y2)), big.NewInt(1)))
		x2 := mod(new(big.Int).Mul(u, new(big.Int).ModInverse(v, p)))
		x := new(big.Int).ModSqrt(x2, p)
		return x, x != nil
	}
	encode := func(q pt) []byte {
		b := make([]byte, 32)
		q.y.FillBytes(b)
		for i, j := 0, 31; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		if q.x.Bit(0) == 1 {
			b[31] |= 0x80
		}
		return b
	}
	identity := pt{big.NewInt(0), big.NewInt(1)}
	for _, enc := range []string{edY1, edYm1, edY0, edY8a, edY8b} {
		y := decodeY(enc)
		x, ok := recoverX(y)
		if !ok {
			t.Fatalf("%x is not on the curve", enc)
		}
		q := pt{x, y}
		acc := identity
		for range 8 {
			acc = add(acc, q)
		}
		if acc.x.Sign() != 0 || acc.y.Cmp(big.NewInt(1)) != 0 {
			t.Fatalf("%x does not have order dividing 8", enc)
		}
	}
	// All eight torsion points, generated from the order-8 point.
	y8 := decodeY(edY8a)
	x8, _ := recoverX(y8)
	g := pt{x8, y8}
	acc := identity
	for i := range 8 {
		e := encode(acc)
		if !ed25519SmallOrder(e) {
			t.Errorf("torsion point %d (%x) not refused", i, e)
		}
		e[31] ^= 0x80
		if !ed25519SmallOrder(e) {
			t.Errorf("torsion point %d with flipped sign not refused", i)
		}
		acc = add(acc, g)
	}
	// A regular key is fine.
	k := mustKey(t, EdDSA, nil)
	raw, _ := base64.RawURLEncoding.DecodeString(jwkMap(t, k)["x"].(string))
	if ed25519SmallOrder(raw) {
		t.Fatal("regular key refused")
	}
}

func TestBase64URL(t *testing.T) {
	for s, ok := range map[string]bool{
		"":             true,
		"AQAB":         true,
		"AQ":           true,
		"AR":           false, // non-zero trailing bits
		"AQA":          true,
		"AQB":          false,
		"A":            false,
		"AQ==":         false,
		"A+/B":         false,
		"AQ\nAB":       false,
		"_-_-":         true,
		"AQAB AQAB":    false,
		"\x00\x00\x00": false,
	} {
		if got := isB64URL(s); got != ok {
			t.Errorf("isB64URL(%q) = %v", s, got)
		}
	}
	for range 200 {
		n, _ := rand.Int(rand.Reader, big.NewInt(80))
		b := make([]byte, n.Int64())
		_, _ = rand.Read(b)
		s := base64.RawURLEncoding.EncodeToString(b)
		buf := make([]byte, len(b))
		got, ok := decodeB64(buf, s)
		if !ok || !bytes.Equal(got, b) {
			t.Fatalf("decodeB64(%q) = %x, %v; want %x", s, got, ok, b)
		}
		if len(b) > 0 {
			if _, ok := decodeB64(buf[:len(b)-1], s); ok {
				t.Fatal("decoded into a short buffer")
			}
		}
	}
}

func TestRawToDER(t *testing.T) {
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		priv, _ := ecdsa.GenerateKey(c, rand.Reader)
		size := (c.Params().BitSize + 7) / 8
		for range 50 {
			h := sha256.Sum256([]byte{byte(size)})
			der, err := ecdsa.SignASN1(rand.Reader, priv, h[:])
			if err != nil {
				t.Fatal(err)
			}
			// Go from DER to raw via the client path, and back via the verifier path.
			k, _ := NewKey(priv, nil)
			raw, err := k.sign([]byte("m"))
			if err != nil || len(raw) != 2*size {
				t.Fatal(err, len(raw))
			}
			_ = der
			hm := digest(k.alg.hash, []byte("m"), new([64]byte))
			if !ecdsa.VerifyASN1(&priv.PublicKey, hm, rawToDER(nil, raw)) {
				t.Fatalf("%s: rawToDER result does not verify", c.Params().Name)
			}
		}
	}
	// Leading zeros and high bits are encoded as minimal positive INTEGERs.
	sig := make([]byte, 64)
	sig[0], sig[32+1] = 0x80, 0x01
	got := rawToDER(nil, sig)
	if got[0] != 0x30 || got[2] != 0x02 || got[3] != 33 || got[4] != 0 || got[5] != 0x80 {
		t.Fatalf("der %x", got)
	}
}

func TestJWKRSAChecks(t *testing.T) {
	r2048, _ := testRSAKeys(t)
	n := b64(r2048.N.Bytes())
	alg, _ := lookupAlg(RS256)
	for name, f := range map[string]jwkFields{
		"e_even":          {kty: "RSA", n: n, e: b64([]byte{1, 0, 0})},
		"e_one":           {kty: "RSA", n: n, e: b64([]byte{1})},
		"e_leading_zero":  {kty: "RSA", n: n, e: b64([]byte{0, 1, 0, 1})},
		"e_too_long":      {kty: "RSA", n: n, e: b64([]byte{1, 0, 0, 0, 1})},
		"n_leading_zero":  {kty: "RSA", n: b64(append([]byte{0}, r2048.N.Bytes()...)), e: "AQAB"},
		"n_even":          {kty: "RSA", n: b64(append(r2048.N.Bytes()[:255:255], 2)), e: "AQAB"},
		"n_too_big":       {kty: "RSA", n: b64(bytes.Repeat([]byte{0xff}, 1025)), e: "AQAB"},
		"n_missing":       {kty: "RSA", e: "AQAB"},
		"kty_ec":          {kty: "EC", n: n, e: "AQAB"},
		"private_members": {kty: "RSA", n: n, e: "AQAB", private: true},
	} {
		if _, err := f.key(alg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	f := jwkFields{kty: "RSA", n: n, e: "AQAB"}
	if _, err := f.key(alg); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(f.thumbprint(), "=") {
		t.Fatal("padded thumbprint")
	}
}
