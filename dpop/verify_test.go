// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	tMethod = "POST"
	tURL    = "https://server.example.com/token"
	tToken  = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
)

func tAth(tok string) string { s := sha256.Sum256([]byte(tok)); return b64(s[:]) }

type verifyCase struct {
	name string
	// proof builds the header values; most cases return one proof.
	headers func(t *testing.T, f *vfix) []string
	method  string // default tMethod
	url     string // default tURL
	token   string
	jkt     string // "" → Verify, otherwise VerifyBound; "self" → the fixture key's thumbprint
	nonces  bool
	store   ReplayStore
	want    Check // 0: must verify
}

type vfix struct {
	key    *Key
	nonces *NonceSource
}

func (f *vfix) one(t *testing.T, mh func(map[string]any), mc func(map[string]any)) []string {
	t.Helper()
	h := stdHeader(t, f.key)
	c := stdClaims(tMethod, tURL, testNow)
	if mh != nil {
		mh(h)
	}
	if mc != nil {
		mc(c)
	}
	return []string{rawJWS(t, h, c, keySigner(t, f.key))}
}

func proofWith(mh func(map[string]any), mc func(map[string]any)) func(*testing.T, *vfix) []string {
	return func(t *testing.T, f *vfix) []string { return f.one(t, mh, mc) }
}

func setClaim(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
func delClaim(k string) func(map[string]any)        { return func(m map[string]any) { delete(m, k) } }

func TestVerifyRFC9449Section4_3(t *testing.T) {
	r2048, r1024 := testRSAKeys(t)
	cases := []verifyCase{
		// Positive cases.
		{name: "rfc9449_4.3_valid_es256", headers: proofWith(nil, nil)},
		{name: "rfc9449_4.3_htu_query_ignored", url: tURL + "?a=b&c=d", headers: proofWith(nil, nil)},
		{name: "rfc9449_4.3_htu_query_in_claim_ignored", headers: proofWith(nil, setClaim("htu", tURL+"?x=1#frag"))},
		{name: "rfc9449_4.3_htu_fragment_ignored", url: tURL + "#frag", headers: proofWith(nil, nil)},
		{name: "rfc9449_4.3_htu_normalized", headers: proofWith(nil, setClaim("htu", "HTTPS://Server.Example.COM:443/%74oken"))},
		{name: "rfc9449_4.3_iat_at_window_edge", headers: proofWith(nil, setClaim("iat", testNow.Add(-60*time.Second).Unix()))},
		{name: "rfc9449_4.3_iat_fractional", headers: proofWith(nil, setClaim("iat", float64(testNow.Unix())+0.25))},
		{name: "rfc9449_4.3_ath_ignored_without_token", headers: proofWith(nil, setClaim("ath", "not-checked"))},
		{name: "rfc9449_4.3_ath_matches", token: tToken, headers: proofWith(nil, setClaim("ath", tAth(tToken)))},
		{name: "rfc9449_4.3_jkt_matches", jkt: "self", headers: proofWith(nil, nil)},
		{name: "rfc9449_4.3_typ_case_insensitive", headers: proofWith(setClaim("typ", "DPoP+JWT"), nil)},
		{name: "rfc9449_4.3_unknown_members_ignored", headers: proofWith(setClaim("kid", []any{1, map[string]any{"a": nil}}), setClaim("x", map[string]any{"y": []any{true, false, 1.5e3}}))},
		{name: "rfc9449_4.3_nonce_current", nonces: true, headers: func(t *testing.T, f *vfix) []string {
			return f.one(t, nil, setClaim("nonce", f.nonces.Issue()))
		}},

		// §4.3 "not more than one DPoP HTTP request header field".
		{name: "rfc9449_4.3_no_header", want: CheckMissing, headers: func(*testing.T, *vfix) []string { return nil }},
		{name: "rfc9449_4.3_empty_header", want: CheckMissing, headers: func(*testing.T, *vfix) []string { return []string{" "} }},
		{name: "rfc9449_4.3_two_headers", want: CheckMultipleHeaders, headers: func(t *testing.T, f *vfix) []string {
			return append(f.one(t, nil, nil), f.one(t, nil, nil)...)
		}},
		{name: "rfc9449_4.3_two_headers_comma_joined", want: CheckMultipleHeaders, headers: func(t *testing.T, f *vfix) []string {
			return []string{f.one(t, nil, nil)[0] + ", " + f.one(t, nil, nil)[0]}
		}},
		{name: "rfc9449_4.3_oversize_proof", want: CheckSize, headers: proofWith(nil, setClaim("pad", strings.Repeat("a", 9000)))},

		// §4.3 "a single and well-formed JWT".
		{name: "rfc9449_4.3_malformed_jws_two_parts", want: CheckMalformed, headers: func(t *testing.T, f *vfix) []string {
			p := f.one(t, nil, nil)[0]
			return []string{p[:strings.LastIndexByte(p, '.')]}
		}},
		{name: "rfc9449_4.3_malformed_jws_four_parts", want: CheckMalformed, headers: func(t *testing.T, f *vfix) []string {
			return []string{f.one(t, nil, nil)[0] + ".AAAA"}
		}},
		{name: "rfc9449_4.3_malformed_jws_padding", want: CheckMalformed, headers: func(t *testing.T, f *vfix) []string {
			p := f.one(t, nil, nil)[0]
			i := strings.IndexByte(p, '.')
			return []string{p[:i] + "=" + p[i:]}
		}},
		{name: "rfc9449_4.3_malformed_jws_std_alphabet", want: CheckMalformed, headers: func(t *testing.T, f *vfix) []string {
			return []string{"eyJ+/" + f.one(t, nil, nil)[0]}
		}},
		{name: "rfc9449_4.3_malformed_jws_json_serialization", want: CheckMalformed, headers: func(*testing.T, *vfix) []string {
			return []string{`{"payload":"e30"}`}
		}},
		{name: "rfc9449_4.3_malformed_header_not_json", want: CheckMalformed, headers: func(t *testing.T, f *vfix) []string {
			return []string{rawJWS(t, "not json", stdClaims(tMethod, tURL, testNow), keySigner(t, f.key))}
		}},
		{name: "rfc9449_4.3_malformed_header_duplicate_alg", want: CheckMalformed, headers: func(t *testing.T, f *vfix) []string {
			h := `{"typ":"dpop+jwt","alg":"ES256","alg":"ES256","jwk":` + string(f.key.PublicJWK()) + `}`
			return []string{rawJWS(t, h, stdClaims(tMethod, tURL, testNow), keySigner(t, f.key))}
		}},
		{name: "rfc9449_4.3_malformed_header_crit", want: CheckMalformed, headers: proofWith(setClaim("crit", []string{"b64"}), nil)},
		{name: "rfc9449_4.3_malformed_claims_not_json", want: CheckMalformed, headers: func(t *testing.T, f *vfix) []string {
			return []string{rawJWS(t, stdHeader(t, f.key), "[1,2]", keySigner(t, f.key))}
		}},
		{name: "rfc9449_4.3_malformed_claims_duplicate_jti", want: CheckMalformed, headers: func(t *testing.T, f *vfix) []string {
			c := `{"jti":"a","jti":"b","htm":"POST","htu":"` + tURL + `","iat":1700000000}`
			return []string{rawJWS(t, stdHeader(t, f.key), c, keySigner(t, f.key))}
		}},

		// §4.3 "the typ JOSE Header Parameter has the value dpop+jwt".
		{name: "rfc9449_4.3_typ_not_dpop_jwt", want: CheckTyp, headers: proofWith(setClaim("typ", "JWT"), nil)},
		{name: "rfc9449_4.3_typ_at_jwt", want: CheckTyp, headers: proofWith(setClaim("typ", "at+jwt"), nil)},
		{name: "rfc9449_4.3_typ_missing", want: CheckTyp, headers: proofWith(delClaim("typ"), nil)},
		{name: "rfc9449_4.3_typ_member_name_case", want: CheckTyp, headers: proofWith(func(h map[string]any) { delete(h, "typ"); h["TYP"] = "dpop+jwt" }, nil)},
		{name: "rfc9449_4.3_typ_not_string", want: CheckMalformed, headers: proofWith(setClaim("typ", 1), nil)},

		// §4.3 alg: asymmetric, "not none", supported and allowed.
		{name: "rfc9449_4.3_alg_none", want: CheckAlg, headers: func(t *testing.T, f *vfix) []string {
			h := stdHeader(t, f.key)
			h["alg"] = "none"
			return []string{rawJWS(t, h, stdClaims(tMethod, tURL, testNow), nil)}
		}},
		{name: "rfc9449_4.3_alg_hs256", want: CheckAlg, headers: func(t *testing.T, f *vfix) []string {
			h := map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}}
			return []string{rawJWS(t, h, stdClaims(tMethod, tURL, testNow), func(in []byte) []byte {
				m := hmac.New(sha256.New, []byte("secret"))
				m.Write(in)
				return m.Sum(nil)
			})}
		}},
		{name: "rfc9449_4.3_alg_not_allowed_es384", want: CheckAlg, headers: func(t *testing.T, f *vfix) []string {
			k := mustKey(t, ES384, fixedClock(testNow))
			return []string{rawJWS(t, stdHeader(t, k), stdClaims(tMethod, tURL, testNow), keySigner(t, k))}
		}},
		{name: "rfc9449_4.3_alg_unknown", want: CheckAlg, headers: proofWith(setClaim("alg", "ES256K"), nil)},
		{name: "rfc9449_4.3_alg_wrong_case", want: CheckAlg, headers: proofWith(setClaim("alg", "es256"), nil)},
		{name: "rfc9449_4.3_alg_missing", want: CheckAlg, headers: proofWith(delClaim("alg"), nil)},

		// §4.3 jwk: a public key (no private members), valid for alg.
		{name: "rfc9449_4.3_jwk_missing", want: CheckJWK, headers: proofWith(delClaim("jwk"), nil)},
		{name: "rfc9449_4.3_jwk_not_object", want: CheckMalformed, headers: proofWith(setClaim("jwk", "key"), nil)},
		{name: "rfc9449_4.3_private_key_in_jwk", want: CheckJWK, headers: proofWith(func(h map[string]any) {
			h["jwk"].(map[string]any)["d"] = "AAAA"
		}, nil)},
		{name: "rfc9449_4.3_private_key_in_jwk_null", want: CheckJWK, headers: proofWith(func(h map[string]any) {
			h["jwk"].(map[string]any)["d"] = nil
		}, nil)},
		{name: "rfc9449_4.3_symmetric_jwk", want: CheckJWK, headers: proofWith(setClaim("jwk", map[string]any{"kty": "oct", "k": "c2VjcmV0"}), nil)},
		{name: "rfc9449_4.3_jwk_wrong_curve_for_alg", want: CheckJWK, headers: func(t *testing.T, f *vfix) []string {
			p384, _ := NewKey(mustP384(t), nil)
			h := stdHeader(t, p384)
			h["alg"] = ES256
			return []string{rawJWS(t, h, stdClaims(tMethod, tURL, testNow), keySigner(t, p384))}
		}},
		{name: "rfc9449_4.3_jwk_kty_mismatch", want: CheckJWK, headers: func(t *testing.T, f *vfix) []string {
			rk, _ := NewKey(r2048, &KeyOptions{Alg: RS256})
			h := stdHeader(t, rk)
			h["alg"] = ES256
			return []string{rawJWS(t, h, stdClaims(tMethod, tURL, testNow), keySigner(t, f.key))}
		}},
		{name: "rfc9449_4.3_jwk_point_not_on_curve", want: CheckJWK, headers: proofWith(func(h map[string]any) {
			j := h["jwk"].(map[string]any)
			j["y"] = j["x"]
		}, nil)},
		{name: "rfc9449_4.3_jwk_short_coordinate", want: CheckJWK, headers: proofWith(func(h map[string]any) {
			h["jwk"].(map[string]any)["x"] = b64(make([]byte, 31))
		}, nil)},
		{name: "rfc9449_4.3_jwk_noncanonical_base64", want: CheckJWK, headers: proofWith(func(h map[string]any) {
			j := h["jwk"].(map[string]any)
			x := j["x"].(string)
			j["x"] = x[:10] + "\r\n" + x[10:]
		}, nil)},
		{name: "rfc9449_4.3_rsa_key_too_small", want: CheckJWK, headers: func(t *testing.T, f *vfix) []string {
			h := map[string]any{"typ": "dpop+jwt", "alg": RS256, "jwk": map[string]any{
				"kty": "RSA", "n": b64(r1024.N.Bytes()), "e": "AQAB"}}
			return []string{rawJWS(t, h, stdClaims(tMethod, tURL, testNow), func(in []byte) []byte {
				d := sha256.Sum256(in)
				s, err := rsa.SignPKCS1v15(rand.Reader, r1024, crypto.SHA256, d[:])
				if err != nil {
					t.Fatal(err)
				}
				return s
			})}
		}},
		{name: "rfc9449_4.3_ed25519_small_order_key", want: CheckJWK, headers: func(t *testing.T, f *vfix) []string {
			h := map[string]any{"typ": "dpop+jwt", "alg": EdDSA, "jwk": map[string]any{
				"kty": "OKP", "crv": "Ed25519", "x": b64([]byte(edY1))}}
			return []string{rawJWS(t, h, stdClaims(tMethod, tURL, testNow), func([]byte) []byte {
				// R = identity, S = 0: "verifies" for every message under a small-order key.
				return append([]byte(edY1), make([]byte, 32)...)
			})}
		}},

		// §4.3 "the JWT signature verifies with the public key contained in the jwk".
		{name: "rfc9449_4.3_signature_by_other_key", want: CheckSignature, headers: func(t *testing.T, f *vfix) []string {
			other := mustKey(t, ES256, fixedClock(testNow))
			return []string{rawJWS(t, stdHeader(t, f.key), stdClaims(tMethod, tURL, testNow), keySigner(t, other))}
		}},
		{name: "rfc9449_4.3_signature_tampered_claims", want: CheckSignature, headers: func(t *testing.T, f *vfix) []string {
			p := f.one(t, nil, nil)[0]
			parts := strings.Split(p, ".")
			c := stdClaims("GET", tURL, testNow)
			forged := rawJWS(t, stdHeader(t, f.key), c, nil)
			return []string{parts[0] + "." + strings.Split(forged, ".")[1] + "." + parts[2]}
		}},
		{name: "rfc9449_4.3_signature_asn1_not_raw", want: CheckSignature, headers: func(t *testing.T, f *vfix) []string {
			priv := f.key.Signer().(*ecdsa.PrivateKey)
			return []string{rawJWS(t, stdHeader(t, f.key), stdClaims(tMethod, tURL, testNow), func(in []byte) []byte {
				d := sha256.Sum256(in)
				s, err := ecdsa.SignASN1(rand.Reader, priv, d[:])
				if err != nil {
					t.Fatal(err)
				}
				return s
			})}
		}},
		{name: "rfc9449_4.3_signature_empty", want: CheckSignature, headers: func(t *testing.T, f *vfix) []string {
			return []string{rawJWS(t, stdHeader(t, f.key), stdClaims(tMethod, tURL, testNow), nil)}
		}},

		// §4.3 "the htm claim matches the HTTP method of the current request".
		{name: "rfc9449_4.3_htm_mismatch", want: CheckHTM, headers: proofWith(nil, setClaim("htm", "GET"))},
		{name: "rfc9449_4.3_htm_case", want: CheckHTM, headers: proofWith(nil, setClaim("htm", "post"))},
		{name: "rfc9449_4.3_htm_missing", want: CheckHTM, headers: proofWith(nil, delClaim("htm"))},
		{name: "rfc9449_4.3_htm_not_string", want: CheckHTM, headers: proofWith(nil, setClaim("htm", 1))},

		// §4.3 "the htu claim matches the HTTP URI ... ignoring any query and fragment parts".
		{name: "rfc9449_4.3_htu_mismatch", want: CheckHTU, headers: proofWith(nil, setClaim("htu", "https://server.example.com/other"))},
		{name: "rfc9449_4.3_htu_other_host", want: CheckHTU, headers: proofWith(nil, setClaim("htu", "https://evil.example.com/token"))},
		{name: "rfc9449_4.3_htu_other_scheme", want: CheckHTU, headers: proofWith(nil, setClaim("htu", "http://server.example.com/token"))},
		{name: "rfc9449_4.3_htu_other_port", want: CheckHTU, headers: proofWith(nil, setClaim("htu", "https://server.example.com:8443/token"))},
		{name: "rfc9449_4.3_htu_path_case", want: CheckHTU, headers: proofWith(nil, setClaim("htu", "https://server.example.com/Token"))},
		{name: "rfc9449_4.3_htu_trailing_slash", want: CheckHTU, headers: proofWith(nil, setClaim("htu", tURL+"/"))},
		{name: "rfc9449_4.3_htu_userinfo", want: CheckHTU, headers: proofWith(nil, setClaim("htu", "https://user@server.example.com/token"))},
		{name: "rfc9449_4.3_htu_relative", want: CheckHTU, headers: proofWith(nil, setClaim("htu", "/token"))},
		{name: "rfc9449_4.3_htu_missing", want: CheckHTU, headers: proofWith(nil, delClaim("htu"))},
		{name: "rfc9449_4.3_htu_not_string", want: CheckHTU, headers: proofWith(nil, setClaim("htu", []string{tURL}))},

		// §4.3 "the creation time of the JWT ... is within an acceptable window".
		{name: "rfc9449_4.3_iat_stale", want: CheckIAT, headers: proofWith(nil, setClaim("iat", testNow.Add(-61*time.Second).Unix()))},
		{name: "rfc9449_4.3_iat_future", want: CheckIAT, headers: proofWith(nil, setClaim("iat", testNow.Add(61*time.Second).Unix()))},
		{name: "rfc9449_4.3_iat_missing", want: CheckIAT, headers: proofWith(nil, delClaim("iat"))},
		{name: "rfc9449_4.3_iat_string", want: CheckIAT, headers: proofWith(nil, setClaim("iat", "1700000000"))},
		{name: "rfc9449_4.3_iat_huge", want: CheckIAT, headers: proofWith(nil, setClaim("iat", 1e300))},

		// §4.2 jti required; §11.1 replay.
		{name: "rfc9449_4.3_jti_missing", want: CheckJTI, headers: proofWith(nil, delClaim("jti"))},
		{name: "rfc9449_4.3_jti_empty", want: CheckJTI, headers: proofWith(nil, setClaim("jti", ""))},
		{name: "rfc9449_4.3_jti_not_string", want: CheckJTI, headers: proofWith(nil, setClaim("jti", 7))},
		{name: "rfc9449_4.3_replay_store_unavailable", want: CheckReplayStore, store: failingStore{}, headers: proofWith(nil, nil)},

		// §4.3 nonce; §8, §9.
		{name: "rfc9449_4.3_nonce_missing", want: CheckNonce, nonces: true, headers: proofWith(nil, nil)},
		{name: "rfc9449_4.3_nonce_stale", want: CheckNonce, nonces: true, headers: func(t *testing.T, f *vfix) []string {
			old, _ := NewNonceSource([][]byte{[]byte(strings.Repeat("k", 32))}, &NonceOptions{Now: fixedClock(testNow.Add(-11 * time.Minute))})
			return f.one(t, nil, setClaim("nonce", old.Issue()))
		}},
		{name: "rfc9449_4.3_nonce_forged", want: CheckNonce, nonces: true, headers: proofWith(nil, setClaim("nonce", "AAAAAAAAAAAAAAAAAAAAAA"))},

		// §4.3 "the value of the ath claim equals the hash of that access token".
		{name: "rfc9449_4.3_ath_mismatch", want: CheckATH, token: tToken, headers: proofWith(nil, setClaim("ath", tAth("another token")))},
		{name: "rfc9449_4.3_ath_missing", want: CheckATH, token: tToken, headers: proofWith(nil, nil)},
		{name: "rfc9449_4.3_ath_padded", want: CheckATH, token: tToken, headers: proofWith(nil, setClaim("ath", tAth(tToken)+"="))},

		// §4.3 "the public key to which the access token is bound matches the public key from the DPoP proof".
		{name: "rfc9449_4.3_jkt_mismatch", want: CheckJKT, jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", headers: proofWith(nil, nil)},
	}

	var pos, neg int
	for _, tc := range cases {
		if tc.want == 0 {
			pos++
		} else {
			neg++
		}
		t.Run(tc.name, func(t *testing.T) {
			ns, err := NewNonceSource([][]byte{[]byte(strings.Repeat("k", 32))}, &NonceOptions{Now: fixedClock(testNow)})
			if err != nil {
				t.Fatal(err)
			}
			f := &vfix{key: mustKey(t, ES256, fixedClock(testNow)), nonces: ns}
			opts := &VerifierOptions{Now: fixedClock(testNow), Replay: tc.store}
			if tc.nonces {
				opts.Nonces = ns
			}
			v, err := NewVerifier(opts)
			if err != nil {
				t.Fatal(err)
			}
			method, url := tc.method, tc.url
			if method == "" {
				method = tMethod
			}
			if url == "" {
				url = tURL
			}
			headers := tc.headers(t, f)
			var p *Proof
			switch tc.jkt {
			case "":
				p, err = v.Verify(context.Background(), headers, method, url, tc.token)
			case "self":
				p, err = v.VerifyBound(context.Background(), headers, method, url, tc.token, f.key.Thumbprint())
			default:
				p, err = v.VerifyBound(context.Background(), headers, method, url, tc.token, tc.jkt)
			}
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if p.JKT != f.key.Thumbprint() || p.HTM != method || p.Alg != ES256 {
					t.Fatalf("proof = %+v", p)
				}
				return
			}
			assertCheck(t, err, tc.want)
			if p != nil {
				t.Fatalf("proof returned with an error")
			}
		})
	}
	if neg <= pos {
		t.Fatalf("negative cases (%d) must outnumber positive ones (%d)", neg, pos)
	}
}

func assertCheck(t *testing.T, err error, want Check) {
	t.Helper()
	if err == nil {
		t.Fatalf("verified, want %v", want)
	}
	var de *Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v is not a *dpop.Error", err)
	}
	if de.Check != want || !errors.Is(err, want) {
		t.Fatalf("check = %v (%v), want %v", de.Check, err, want)
	}
	wantCode := CodeInvalidProof
	if want == CheckNonce {
		wantCode = CodeUseNonce
	}
	if de.Code != wantCode {
		t.Fatalf("code = %q, want %q", de.Code, wantCode)
	}
	if de.Description == "" || strings.Contains(de.Description, tToken) {
		t.Fatalf("bad description %q", de.Description)
	}
}

func TestVerifyJTIReplay(t *testing.T) {
	// rfc9449_4.3_jti_replay
	clock := newTestClock(testNow)
	k := mustKey(t, ES256, clock.Now)
	v, err := NewVerifier(&VerifierOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.Proof(tMethod, tURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, []string{p}, tMethod, tURL, ""); err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(ctx, []string{p}, tMethod, tURL, "")
	assertCheck(t, err, CheckReplay)
	// Still refused at the very end of its lifetime, when iat is at the edge of the window.
	clock.Advance(60 * time.Second)
	_, err = v.Verify(ctx, []string{p}, tMethod, tURL, "")
	assertCheck(t, err, CheckReplay)
	// Past its lifetime the iat check refuses it.
	clock.Advance(time.Millisecond)
	_, err = v.Verify(ctx, []string{p}, tMethod, tURL, "")
	assertCheck(t, err, CheckIAT)

	// The same jti under another key is a different proof.
	clock2 := fixedClock(testNow)
	v2, _ := NewVerifier(&VerifierOptions{Now: clock2})
	f1 := &vfix{key: mustKey(t, ES256, clock2)}
	f2 := &vfix{key: mustKey(t, ES256, clock2)}
	same := setClaim("jti", "same-jti")
	if _, err := v2.Verify(ctx, f1.one(t, nil, same), tMethod, tURL, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Verify(ctx, f2.one(t, nil, same), tMethod, tURL, ""); err != nil {
		t.Fatal(err)
	}
	_, err = v2.Verify(ctx, f1.one(t, nil, same), tMethod, tURL, "")
	assertCheck(t, err, CheckReplay)
}

// A refused proof must not consume its jti: otherwise anyone who sees a jti could lock the client out.
func TestVerifyRefusedProofDoesNotBurnJTI(t *testing.T) {
	v, _ := NewVerifier(&VerifierOptions{Now: fixedClock(testNow)})
	f := &vfix{key: mustKey(t, ES256, fixedClock(testNow))}
	ctx := context.Background()
	_, err := v.Verify(ctx, f.one(t, nil, setClaim("jti", "j1")), tMethod, tURL, tToken)
	assertCheck(t, err, CheckATH)
	if _, err := v.Verify(ctx, f.one(t, nil, setClaim("jti", "j1")), tMethod, tURL, ""); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRFC9449Example(t *testing.T) {
	// RFC 9449 Figure 2 and the thumbprint of its key (Figure 9).
	const proof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
	v, err := NewVerifier(&VerifierOptions{Now: fixedClock(time.Unix(1562262616, 0))})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.VerifyBound(context.Background(), []string{proof}, "POST", "https://server.example.com/token", "", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
	if err != nil {
		t.Fatal(err)
	}
	want := Proof{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", HTM: "POST", HTU: "https://server.example.com/token",
		IAT: time.Unix(1562262616, 0), JTI: "-BwC3ESc6acc2lTc", Alg: ES256}
	if !p.IAT.Equal(want.IAT) {
		t.Fatalf("iat %v", p.IAT)
	}
	p.IAT = want.IAT
	if *p != want {
		t.Fatalf("got %+v\nwant %+v", *p, want)
	}
}

func TestNewVerifierOptions(t *testing.T) {
	for _, algs := range [][]string{{"none"}, {"HS256"}, {"hs512"}, {"ES256", "HS384"}, {"ES256K"}, {""}} {
		if _, err := NewVerifier(&VerifierOptions{AllowedAlgs: algs}); err == nil {
			t.Errorf("AllowedAlgs %q accepted", algs)
		}
	}
	if _, err := NewVerifier(&VerifierOptions{IATWindow: -time.Second}); err == nil {
		t.Error("negative window accepted")
	}
	if _, err := NewVerifier(&VerifierOptions{MaxProofSize: -1}); err == nil {
		t.Error("negative size accepted")
	}
	v, err := NewVerifier(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(v.AllowedAlgs(), ","); got != "ES256,RS256,PS256,EdDSA" {
		t.Errorf("default algs %s", got)
	}
	v, _ = NewVerifier(&VerifierOptions{AllowedAlgs: SupportedAlgs()})
	if got := strings.Join(v.AllowedAlgs(), ","); got != strings.Join(SupportedAlgs(), ",") {
		t.Errorf("all algs %s", got)
	}
	for i, a := range SupportedAlgs() {
		if !algSet(1<<i).has(a) || algBit(a) != 1<<i {
			t.Errorf("alg bit mismatch for %s", a)
		}
	}
	if _, err := v.VerifyBound(context.Background(), []string{"x"}, "GET", tURL, "", ""); !errors.Is(err, CheckJKT) {
		t.Errorf("VerifyBound with empty jkt: %v", err)
	}
}

func TestVerifyIATWindowConfigurable(t *testing.T) {
	v, _ := NewVerifier(&VerifierOptions{Now: fixedClock(testNow), IATWindow: 5 * time.Second})
	f := &vfix{key: mustKey(t, ES256, fixedClock(testNow))}
	_, err := v.Verify(context.Background(), f.one(t, nil, setClaim("iat", testNow.Add(-6*time.Second).Unix())), tMethod, tURL, "")
	assertCheck(t, err, CheckIAT)
	if _, err := v.Verify(context.Background(), f.one(t, nil, setClaim("iat", testNow.Add(-5*time.Second).Unix())), tMethod, tURL, ""); err != nil {
		t.Fatal(err)
	}
}

func TestErrorIs(t *testing.T) {
	err := error(newError(CheckHTU, "d", errors.New("cause")))
	if !errors.Is(err, CheckHTU) || errors.Is(err, CheckHTM) {
		t.Fatal("Is(Check)")
	}
	if !errors.Is(err, &Error{Code: CodeInvalidProof}) || errors.Is(err, &Error{Code: CodeUseNonce}) {
		t.Fatal("Is(*Error)")
	}
	if !strings.Contains(err.Error(), "htu") || errors.Unwrap(err) == nil {
		t.Fatal(err.Error())
	}
	if CheckReplayStore.String() != "replay_store" || Check(99).String() != "check(99)" {
		t.Fatal("String")
	}
}
