// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import "strconv"

// OAuth error codes a server sends for a refused proof (RFC 9449 §5, §7.1, §8, §12.2).
const (
	// CodeInvalidProof is the error code for every proof failure except a missing or stale nonce.
	CodeInvalidProof = "invalid_dpop_proof"
	// CodeUseNonce tells the client to retry with the nonce in the DPoP-Nonce response header.
	CodeUseNonce = "use_dpop_nonce"
)

// Check names the RFC 9449 §4.3 step a proof failed. It is an error itself, so
// errors.Is(err, dpop.CheckReplay) tells a caller which step refused the proof, like syscall.Errno.
type Check int

// The checks, in the order Verifier applies them.
const (
	_ Check = iota
	// CheckMissing: no DPoP header was sent.
	CheckMissing
	// CheckMultipleHeaders: more than one DPoP header (or one header holding a list).
	CheckMultipleHeaders
	// CheckSize: the proof is larger than the configured maximum.
	CheckSize
	// CheckMalformed: not a single well-formed compact JWS with JSON header and claims.
	CheckMalformed
	// CheckTyp: the typ header is not dpop+jwt.
	CheckTyp
	// CheckAlg: alg is missing, symmetric, none, unknown or not allowed.
	CheckAlg
	// CheckJWK: the jwk header is missing, not a valid public key, holds private members, or does not fit alg.
	CheckJWK
	// CheckSignature: the signature does not verify with the jwk.
	CheckSignature
	// CheckHTM: htm is missing or differs from the request method.
	CheckHTM
	// CheckHTU: htu is missing or differs from the request URI.
	CheckHTU
	// CheckIAT: iat is missing or outside the acceptance window.
	CheckIAT
	// CheckJTI: jti is missing or empty.
	CheckJTI
	// CheckNonce: a nonce is required and is missing, stale or forged (code use_dpop_nonce).
	CheckNonce
	// CheckATH: an access token was presented and ath is missing or is not its hash.
	CheckATH
	// CheckJKT: the proof's key is not the one the token (or code) is bound to.
	CheckJKT
	// CheckReplay: the jti was already used with this key within the proof's lifetime. A ReplayStore returns
	// an error matching CheckReplay (errors.Is) for a key it has already recorded.
	CheckReplay
	// CheckReplayStore: the replay store could not record the jti (full, or unreachable), so the proof is
	// refused rather than accepted unchecked. A server may answer it with 503 instead of 401.
	CheckReplayStore
)

var _ error = CheckReplay

// String returns a short stable name, e.g. "htu".
func (c Check) String() string {
	switch c {
	case CheckMissing:
		return "missing"
	case CheckMultipleHeaders:
		return "multiple_headers"
	case CheckSize:
		return "size"
	case CheckMalformed:
		return "malformed"
	case CheckTyp:
		return "typ"
	case CheckAlg:
		return "alg"
	case CheckJWK:
		return "jwk"
	case CheckSignature:
		return "signature"
	case CheckHTM:
		return "htm"
	case CheckHTU:
		return "htu"
	case CheckIAT:
		return "iat"
	case CheckJTI:
		return "jti"
	case CheckNonce:
		return "nonce"
	case CheckATH:
		return "ath"
	case CheckJKT:
		return "jkt"
	case CheckReplay:
		return "replay"
	case CheckReplayStore:
		return "replay_store"
	}
	return "check(" + strconv.Itoa(int(c)) + ")"
}

// Error makes a Check usable as an errors.Is target and as a plain error (ReplayStore returns CheckReplay).
func (c Check) Error() string { return "dpop: " + c.String() }

// Error is a refused proof. Code and Description are safe to send to the client (they never contain token
// or proof contents); the wrapped cause, if any, is for logs only.
type Error struct {
	// Code is the OAuth error code to send: CodeInvalidProof or CodeUseNonce.
	Code string
	// Check is the RFC 9449 §4.3 step that failed.
	Check Check
	// Description is a fixed, human-readable sentence.
	Description string

	cause error
}

func (e *Error) Error() string {
	s := "dpop: " + e.Check.String() + ": " + e.Description
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the underlying cause (a JSON, crypto or storage error), if any.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is e's Check, or an *Error whose non-zero Code and Check equal e's.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case Check:
		return t == e.Check
	case *Error:
		return (t.Check == 0 || t.Check == e.Check) && (t.Code == "" || t.Code == e.Code)
	}
	return false
}

func newError(c Check, desc string, cause error) *Error {
	code := CodeInvalidProof
	if c == CheckNonce {
		code = CodeUseNonce
	}
	return &Error{Code: code, Check: c, Description: desc, cause: cause}
}
