// https://www.rfc-editor.org/rfc/rfc6750

package rs

import "strings"

// Authentication schemes this package accepts, as written in challenges.
const (
	schemeBearer = "Bearer"
	schemeDPoP   = "DPoP"
)

// maxTokenSize bounds the access tokens read: authd's tokens are about 1 KiB, and hashing or decoding an
// arbitrarily large header is work an attacker should not get for free.
const maxTokenSize = 16 << 10

// parseAuthorization reads the Authorization header values of a request (RFC 9110 §11.6.2:
// credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]). It returns the scheme (schemeBearer or
// schemeDPoP) and the token, or scheme "" when the request carries no credentials this package knows
// (no header, or another scheme such as Basic: RFC 6750 §3.1 treats an "unsupported authentication
// method" like no authentication at all). A known scheme with malformed credentials is invalid_request.
func parseAuthorization(values []string) (scheme, token string, e *Error) {
	switch len(values) {
	case 0:
		return "", "", nil
	case 1:
	default:
		// RFC 6750 §3.1 invalid_request: the request "uses more than one method for including an access token".
		return "", "", errInvalidRequest("authorization_multiple", "The request has more than one Authorization header.")
	}
	v := strings.Trim(values[0], " \t")
	name, rest, _ := strings.Cut(v, " ")
	// Auth schemes are case-insensitive (RFC 9110 §11.1).
	switch {
	case strings.EqualFold(name, schemeBearer):
		scheme = schemeBearer
	case strings.EqualFold(name, schemeDPoP):
		scheme = schemeDPoP
	default:
		return "", "", nil
	}
	token = strings.TrimLeft(rest, " ")
	if token == "" {
		return scheme, "", errInvalidRequest("authorization_malformed", "The Authorization header has no access token.")
	}
	if len(token) > maxTokenSize {
		return scheme, "", errInvalidToken("token_size", "The access token is too large.", nil)
	}
	if !isToken68(token) {
		return scheme, "", errInvalidRequest("authorization_malformed", "The Authorization header is malformed.")
	}
	return scheme, token, nil
}

// isToken68 reports whether s is a b64token (RFC 6750 §2.1, the token68 of RFC 9110 §11.2, which RFC 9449
// §7.1 uses for the DPoP scheme too): 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
