// https://www.rfc-editor.org/rfc/rfc6750

package rs

import (
	"errors"
	"net/http"
	"strings"

	"github.com/ddls/mcpauth/dpop"
)

// Error codes a resource server sends (RFC 6750 §3.1, RFC 9449 §7.1 and §9).
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
	CodeInvalidDPoPProof  = dpop.CodeInvalidProof
	CodeUseDPoPNonce      = dpop.CodeUseNonce
	// CodeTemporarilyUnavailable is sent with 503 when the token cannot be checked right now (the
	// introspection endpoint or the DPoP replay store is unreachable); the client should retry.
	CodeTemporarilyUnavailable = "temporarily_unavailable"
)

// Error is a refused request. Status, Code, Description and Scope are sent to the client (in the
// WWW-Authenticate challenge and the JSON body); they never contain token contents. The wrapped cause, if any,
// is logged only.
type Error struct {
	// Status is the HTTP status: 400, 401, 403 or 503.
	Status int
	// Code is the OAuth error code; empty when the request carried no token (RFC 6750 §3.1: "the resource
	// server SHOULD NOT include an error code or other error information").
	Code string
	// Description is a short human-readable sentence (RFC 6750 §3: printable ASCII, no quote or backslash;
	// other characters are replaced when written).
	Description string
	// Scope, for insufficient_scope, is the space-separated list of scopes the operation needs (RFC 6750 §3).
	Scope string

	reason string // a short stable name of the failed check, for logs and tests
	cause  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("rs: ")
	if e.Code != "" {
		b.WriteString(e.Code)
		b.WriteString(": ")
	}
	b.WriteString(e.Description)
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause (a network, JSON or crypto error), if any.
func (e *Error) Unwrap() error { return e.cause }

// InsufficientScope returns the 403 error of an operation that needs scopes the token does not have
// (RFC 6750 §3.1), for handlers that check scopes themselves; write it with Middleware.WriteError. The
// client can ask for a token with these scopes (step-up authorization).
func InsufficientScope(scopes ...string) *Error {
	return &Error{
		Status:      http.StatusForbidden,
		Code:        CodeInsufficientScope,
		Description: "The access token does not grant the scope this operation requires.",
		Scope:       strings.Join(scopes, " "),
		reason:      "scope",
	}
}

func errMissingToken() *Error {
	return &Error{Status: http.StatusUnauthorized, Description: "An access token is required.", reason: "no_token"}
}

func errInvalidRequest(reason, desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: desc, reason: reason}
}

func errInvalidToken(reason, desc string, cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: desc, reason: reason, cause: cause}
}

func errUnavailable(reason, desc string, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeTemporarilyUnavailable, Description: desc, reason: reason, cause: cause}
}

// asError turns any error from a Verifier or the DPoP verifier into an *Error. An error that is not ours is
// an invalid token: refusing is the safe answer.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var de *dpop.Error
	if errors.As(err, &de) {
		if de.Check == dpop.CheckReplayStore {
			// dpop: "A server may answer it with 503 instead of 401": the proof may well be good.
			return errUnavailable("dpop_replay_store", "The DPoP proof could not be checked; retry with a new proof.", err)
		}
		return &Error{Status: http.StatusUnauthorized, Code: de.Code, Description: de.Description, reason: "dpop_" + de.Check.String(), cause: err}
	}
	return errInvalidToken("verifier", "The access token is not valid.", err)
}
