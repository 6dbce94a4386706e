// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"math"
	"strings"
	"time"
)

// Proof is a verified DPoP proof.
type Proof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof's public key, base64url without padding: the value
	// to put in, or compare with, a token's cnf.jkt (RFC 9449 §6.1).
	JKT string
	// HTM and HTU are the method and URI claims; IAT is the issue time.
	HTM string
	HTU string
	IAT time.Time
	// JTI is the proof's unique identifier.
	JTI string
	// ATH is the access-token hash claim, if sent.
	ATH string
	// Nonce is the nonce claim, if sent.
	Nonce string
	// Alg is the JWS algorithm of the proof.
	Alg string
}

// DefaultMaxProofSize is the largest proof a Verifier reads unless configured otherwise: an 8192-bit RSA
// proof is about 3.5 KiB.
const DefaultMaxProofSize = 8 << 10

// DefaultIATWindow is how far a proof's iat may be from the server's clock, either way.
const DefaultIATWindow = 60 * time.Second

// VerifierOptions configures a Verifier. The zero value is strict and safe: ES256, EdDSA, RS256 and PS256;
// iat within ±60 s; an in-memory replay store; no nonces; proofs up to 8 KiB.
type VerifierOptions struct {
	// AllowedAlgs restricts the JWS algorithms accepted; empty means DefaultAllowedAlgs(). none and HMAC
	// algorithms are refused by NewVerifier even if listed.
	AllowedAlgs []string
	// IATWindow is the accepted distance between iat and now, in both directions (RFC 9449 §11.1). 0 means
	// DefaultIATWindow. It also sets how long jti values are remembered.
	IATWindow time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Replay records jti values. nil means a MemoryReplayStore with default bounds on the same clock, which
	// only protects one process: a deployment with several replicas MUST use a shared store such as
	// pgreplay.Store (package dpop/pgreplay).
	Replay ReplayStore
	// Nonces, when set, makes a valid server nonce mandatory (RFC 9449 §8, §9): a proof without one, or with
	// a stale one, fails with CodeUseNonce, and the caller sends Nonces.Issue() in a DPoP-Nonce header.
	Nonces *NonceSource
	// MaxProofSize is the largest proof accepted, in bytes; 0 means DefaultMaxProofSize.
	MaxProofSize int
}

// Verifier checks DPoP proofs (RFC 9449 §4.3). It is safe for concurrent use.
type Verifier struct {
	algs    algSet
	window  time.Duration
	now     func() time.Time
	replay  ReplayStore
	nonces  *NonceSource
	maxSize int
}

// NewVerifier returns a Verifier, or an error if the options are invalid.
func NewVerifier(opts *VerifierOptions) (*Verifier, error) {
	var o VerifierOptions
	if opts != nil {
		o = *opts
	}
	algs, err := newAlgSet(o.AllowedAlgs)
	if err != nil {
		return nil, err
	}
	if o.IATWindow < 0 {
		return nil, errors.New("dpop: IATWindow must not be negative")
	}
	if o.IATWindow == 0 {
		o.IATWindow = DefaultIATWindow
	}
	if o.MaxProofSize < 0 {
		return nil, errors.New("dpop: MaxProofSize must not be negative")
	}
	if o.MaxProofSize == 0 {
		o.MaxProofSize = DefaultMaxProofSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Replay == nil {
		m, err := NewMemoryReplayStore(&MemoryReplayOptions{Now: o.Now})
		if err != nil {
			return nil, err
		}
		o.Replay = m
	}
	return &Verifier{algs: algs, window: o.IATWindow, now: o.Now, replay: o.Replay, nonces: o.Nonces, maxSize: o.MaxProofSize}, nil
}

// AllowedAlgs returns the accepted algorithms, for dpop_signing_alg_values_supported (RFC 9449 §5.1) and
// the algs challenge parameter (§7.1).
func (v *Verifier) AllowedAlgs() []string { return v.algs.list() }

// Verify checks the DPoP header values of a request (from r.Header.Values("DPoP")) against its method and
// absolute URI (scheme, host and path as the client addressed them; query and fragment are ignored).
// accessToken is the token presented with the proof (Authorization: DPoP …), or "" at a token endpoint.
// Every failure is an *Error naming the failed check. No header at all fails with CheckMissing: where DPoP
// is optional, check len(headers) == 0 before calling.
func (v *Verifier) Verify(ctx context.Context, headers []string, method, requestURL, accessToken string) (*Proof, error) {
	return v.verify(ctx, headers, method, requestURL, accessToken, "")
}

// VerifyBound is Verify plus RFC 9449 §4.3's last step: the proof's key must be the one whose thumbprint is
// jkt (the access token's cnf.jkt, or the dpop_jkt an authorization code or refresh token is bound to).
// A mismatch is CheckJKT. jkt must not be empty.
func (v *Verifier) VerifyBound(ctx context.Context, headers []string, method, requestURL, accessToken, jkt string) (*Proof, error) {
	if jkt == "" {
		return nil, newError(CheckJKT, "no key binding to check against", nil)
	}
	return v.verify(ctx, headers, method, requestURL, accessToken, jkt)
}

// claims are the proof claims we read (RFC 9449 §4.2).
type claims struct {
	jti, htm, htu, ath, nonce string
	iat                       float64
	hasIAT                    bool
}

func (v *Verifier) verify(ctx context.Context, headers []string, method, requestURL, accessToken, wantJKT string) (*Proof, error) {
	// RFC 9449 §4.3: "that there is not more than one DPoP HTTP request header field".
	switch len(headers) {
	case 0:
		return nil, newError(CheckMissing, "no DPoP proof", nil)
	case 1:
	default:
		return nil, newError(CheckMultipleHeaders, "more than one DPoP header", nil)
	}
	raw := strings.Trim(headers[0], " \t")
	if raw == "" {
		return nil, newError(CheckMissing, "no DPoP proof", nil)
	}
	if len(raw) > v.maxSize {
		return nil, newError(CheckSize, "DPoP proof is too large", nil)
	}
	// A comma cannot occur in a compact JWS: it is several header lines folded into one.
	if strings.IndexByte(raw, ',') >= 0 {
		return nil, newError(CheckMultipleHeaders, "more than one DPoP header", nil)
	}

	// RFC 9449 §4.3: "that the DPoP HTTP request header field value is a single and well-formed JWT".
	d1 := strings.IndexByte(raw, '.')
	d2 := -1
	if d1 >= 0 {
		if k := strings.IndexByte(raw[d1+1:], '.'); k >= 0 {
			d2 = d1 + 1 + k
		}
	}
	if d1 <= 0 || d2 < 0 || strings.IndexByte(raw[d2+1:], '.') >= 0 {
		return nil, newError(CheckMalformed, "DPoP proof is not a compact JWS", nil)
	}
	hdrB64, payB64, sigB64 := raw[:d1], raw[d1+1:d2], raw[d2+1:]
	// One buffer for the three decoded parts.
	buf := make([]byte, len(raw)*3/4+3)
	hdr, ok1 := decodeB64(buf, hdrB64)
	pay, ok2 := decodeB64(buf[len(hdr):], payB64)
	sig, ok3 := decodeB64(buf[len(hdr)+len(pay):], sigB64)
	// An empty signature (an unsecured JWS, alg none) is well-formed; the alg check refuses it.
	if !ok1 || !ok2 || !ok3 {
		return nil, newError(CheckMalformed, "DPoP proof is not a compact JWS", nil)
	}

	typOK, algName, jwk, err := readHeader(hdr)
	if err != nil {
		return nil, newError(CheckMalformed, "DPoP proof header is not a valid JOSE header", err)
	}
	// RFC 9449 §4.3: "that the typ JOSE Header Parameter has the value dpop+jwt". Media types are
	// case-insensitive (RFC 7515 §4.1.9); an "application/" prefix is not what §4.2 specifies.
	if !typOK {
		return nil, newError(CheckTyp, "DPoP proof typ is not dpop+jwt", nil)
	}
	// RFC 9449 §4.3: alg must be "a registered asymmetric digital signature algorithm", "not none",
	// "supported by the application, and acceptable per local policy".
	alg, ok := lookupAlg(algName)
	if !ok || !v.algs.has(alg.name) {
		return nil, newError(CheckAlg, "DPoP proof alg is not allowed", nil)
	}
	// RFC 9449 §4.3: the jwk "MUST NOT contain a private key"; it must be a valid key for alg.
	if jwk == nil {
		return nil, newError(CheckJWK, "DPoP proof has no jwk header", nil)
	}
	pub, err := jwk.key(alg)
	if err != nil {
		return nil, newError(CheckJWK, "DPoP proof jwk is not an acceptable public key for its alg", err)
	}
	// RFC 9449 §4.3: "that the JWT signature verifies with the public key contained in the jwk JOSE Header
	// Parameter".
	if !verifySignature(alg, pub, []byte(raw[:d2]), sig) {
		return nil, newError(CheckSignature, "DPoP proof signature does not verify", nil)
	}

	c, err := readClaims(pay)
	if err != nil {
		var ce *claimError
		if errors.As(err, &ce) {
			return nil, newError(ce.check, ce.desc, nil)
		}
		return nil, newError(CheckMalformed, "DPoP proof claims are not a valid JSON object", err)
	}
	// RFC 9449 §4.3: "that the htm claim matches the HTTP method of the current request". Methods are
	// case-sensitive (RFC 9110 §9.1).
	if c.htm == "" || c.htm != method {
		return nil, newError(CheckHTM, "DPoP proof htm does not match the request method", nil)
	}
	// RFC 9449 §4.3: "that the htu claim matches the HTTP URI value for the HTTP request in which the JWT
	// was received, ignoring any query and fragment parts".
	if c.htu == "" || !htuMatches(c.htu, requestURL) {
		return nil, newError(CheckHTU, "DPoP proof htu does not match the request URI", nil)
	}
	// RFC 9449 §4.3: "that the creation time of the JWT ... is within an acceptable window"; §11.1.
	now := v.now()
	if !c.hasIAT {
		return nil, newError(CheckIAT, "DPoP proof has no iat", nil)
	}
	nowSec := float64(now.UnixNano()) / 1e9
	win := v.window.Seconds()
	if math.IsNaN(c.iat) || c.iat < nowSec-win || c.iat > nowSec+win {
		return nil, newError(CheckIAT, "DPoP proof iat is outside the acceptable window", nil)
	}
	// RFC 9449 §4.2: jti is required; §11.1 relies on it for replay detection.
	if c.jti == "" {
		return nil, newError(CheckJTI, "DPoP proof has no jti", nil)
	}
	// RFC 9449 §4.3: "if the server provided a nonce value to the client, that the nonce claim matches the
	// server-provided nonce value"; §8: otherwise the server answers use_dpop_nonce with a fresh one.
	if v.nonces != nil {
		if c.nonce == "" {
			return nil, newError(CheckNonce, "DPoP proof has no nonce; use the DPoP-Nonce value", nil)
		}
		if !v.nonces.Valid(c.nonce) {
			return nil, newError(CheckNonce, "DPoP proof nonce is not current; use the DPoP-Nonce value", nil)
		}
	}
	// RFC 9449 §4.3: "ensure that the value of the ath claim equals the hash of that access token"; §4.2:
	// base64url of the SHA-256 of the ASCII access token.
	if accessToken != "" {
		if c.ath == "" {
			return nil, newError(CheckATH, "DPoP proof has no ath for the access token", nil)
		}
		want := sha256.Sum256([]byte(accessToken))
		var got [sha256.Size]byte
		b, ok := decodeB64(got[:], c.ath)
		if !ok || len(b) != sha256.Size || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return nil, newError(CheckATH, "DPoP proof ath does not match the access token", nil)
		}
	}
	jkt := jwk.thumbprint()
	// RFC 9449 §4.3: "confirm that the public key to which the access token is bound matches the public key
	// from the DPoP proof"; §6.1: by comparing the JWK SHA-256 thumbprint with cnf.jkt.
	if wantJKT != "" && subtle.ConstantTimeCompare([]byte(jkt), []byte(wantJKT)) != 1 {
		return nil, newError(CheckJKT, "DPoP proof key does not match the key the token is bound to", nil)
	}
	// RFC 9449 §11.1: the same proof must not be accepted twice within its window. Last, so that only an
	// otherwise valid proof costs a store write and a refused proof does not burn its jti.
	// The proof passes the iat check until iat+window inclusive; a second more keeps the record through that
	// instant whatever the rounding of a fractional iat.
	until := iatTime(c.iat).Add(v.window + time.Second)
	if err := v.replay.Use(ctx, replayKey(jkt, c.jti), until); err != nil {
		if errors.Is(err, CheckReplay) {
			return nil, newError(CheckReplay, "DPoP proof jti has already been used", nil)
		}
		return nil, newError(CheckReplayStore, "DPoP proof could not be checked for replay; retry with a new proof", err)
	}
	return &Proof{
		JKT:   jkt,
		HTM:   method,
		HTU:   c.htu,
		IAT:   iatTime(c.iat),
		JTI:   c.jti,
		ATH:   c.ath,
		Nonce: c.nonce,
		Alg:   alg.name,
	}, nil
}

func iatTime(sec float64) time.Time {
	whole, frac := math.Modf(sec)
	return time.Unix(int64(whole), int64(frac*1e9))
}

// htuMatches compares the htu claim with the request URI, ignoring query and fragment, after RFC 3986
// normalization. An exact match needs no normalization.
func htuMatches(htu, requestURL string) bool {
	a, b := stripQueryFragment(htu), stripQueryFragment(requestURL)
	if a == b {
		return true
	}
	var ba, bb [256]byte
	na, ok1 := appendNormalizedHTU(ba[:0], a)
	nb, ok2 := appendNormalizedHTU(bb[:0], b)
	return ok1 && ok2 && string(na) == string(nb)
}
