// https://www.rfc-editor.org/rfc/rfc9068

package rs

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"
)

// DefaultSkew is the clock skew allowed for exp, nbf and iat.
const DefaultSkew = 30 * time.Second

// tokenClaims are the claims of an mcpauth access token (RFC 9068 §2.2 and SPEC "Access tokens"), also the
// members of an RFC 7662 introspection response.
type tokenClaims struct {
	Iss             string       `json:"iss"`
	Sub             string       `json:"sub"`
	Aud             audience     `json:"aud"`
	ClientID        string       `json:"client_id"`
	Scope           string       `json:"scope"`
	Exp             *numericDate `json:"exp"`
	Nbf             *numericDate `json:"nbf"`
	Iat             *numericDate `json:"iat"`
	AuthTime        *numericDate `json:"auth_time"`
	Jti             string       `json:"jti"`
	Cnf             *confirm     `json:"cnf"`
	OrgID           string       `json:"org_id"`
	Connections     []string     `json:"ddls:connections"`
	UserDelegations []string     `json:"ddls:user_delegations"`
}

// confirm is the cnf claim (RFC 7800 §3.1). Members other than jkt are kept to refuse them.
type confirm map[string]json.RawMessage

// audience is aud: a string or an array of strings (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

// numericDate is a JSON number of seconds since the epoch (RFC 7519 §2).
type numericDate float64

func (d numericDate) time() time.Time {
	f := float64(d)
	// Out-of-range values saturate, which fails or passes the comparisons as their sign says.
	if f > 1e15 {
		f = 1e15
	}
	if f < -1e15 {
		f = -1e15
	}
	whole, frac := math.Modf(f)
	return time.Unix(int64(whole), int64(frac*1e9))
}

func timeOf(d *numericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.time()
}

// claimRules says which claims are required: all of them for a JWT (RFC 9068 §2.2); an introspection
// response (RFC 7662 §2.2) need not repeat iss, iat and jti.
type claimRules struct {
	issuer, resource string
	skew             time.Duration
	jwt              bool
}

// check validates the claims (RFC 9068 §4) and returns the principal they describe.
func (c *tokenClaims) check(now time.Time, r *claimRules, raw []byte) (*Principal, *Error) {
	// RFC 9068 §4: "The issuer identifier for the authorization server ... MUST exactly match the value of
	// the iss claim." An introspection response may leave iss out; authd's does not.
	if c.Iss != r.issuer && (r.jwt || c.Iss != "") {
		return nil, errInvalidToken("iss", "The access token was not issued by the expected authorization server.", nil)
	}
	// RFC 9068 §4: the resource server "MUST validate that the aud claim contains a resource indicator value
	// corresponding to an identifier the resource server expects for itself" and reject it otherwise. mcpauth
	// tokens have one audience; a token also valid elsewhere is refused (MCP: no token passthrough).
	if len(c.Aud) != 1 || c.Aud[0] != r.resource {
		return nil, errInvalidToken("aud", "The access token is not intended for this resource.", nil)
	}
	// RFC 9068 §2.2 (exp REQUIRED) and §4: "The current time MUST be before the time represented by the exp
	// claim"; RFC 7519 §4.1.4 allows "some small leeway ... to account for clock skew".
	if c.Exp == nil {
		return nil, errInvalidToken("exp", "The access token has no expiry.", nil)
	}
	exp := c.Exp.time()
	if !now.Before(exp.Add(r.skew)) {
		return nil, errInvalidToken("exp", "The access token has expired.", nil)
	}
	// RFC 7519 §4.1.5: not before nbf, with the same leeway.
	if c.Nbf != nil && now.Add(r.skew).Before(c.Nbf.time()) {
		return nil, errInvalidToken("nbf", "The access token is not valid yet.", nil)
	}
	// RFC 9068 §2.2: iat REQUIRED; a token issued in the future comes from a wrong clock or a forger.
	if c.Iat == nil && r.jwt {
		return nil, errInvalidToken("iat", "The access token has no issue time.", nil)
	}
	if c.Iat != nil && now.Add(r.skew).Before(c.Iat.time()) {
		return nil, errInvalidToken("iat", "The access token was issued in the future.", nil)
	}
	// RFC 9068 §2.2: jti, sub and client_id REQUIRED.
	if c.Jti == "" && r.jwt {
		return nil, errInvalidToken("jti", "The access token has no jti.", nil)
	}
	if c.Sub == "" {
		return nil, errInvalidToken("sub", "The access token has no subject.", nil)
	}
	if c.ClientID == "" {
		return nil, errInvalidToken("client_id", "The access token has no client_id.", nil)
	}
	var jkt string
	if c.Cnf != nil {
		// RFC 9449 §6.1: a DPoP-bound token says cnf {"jkt": thumbprint}. RFC 7800 §3.1 confirmation methods
		// we cannot check (x5t#S256 of RFC 8705, jwk, jku) must not be ignored: the token would become a
		// bearer token.
		for m := range *c.Cnf {
			if m != "jkt" {
				return nil, errInvalidToken("cnf", "The access token uses an unsupported confirmation method.", nil)
			}
		}
		if err := json.Unmarshal((*c.Cnf)["jkt"], &jkt); err != nil || jkt == "" {
			return nil, errInvalidToken("cnf", "The access token's cnf.jkt is not a thumbprint.", nil)
		}
	}
	return &Principal{
		Subject:         c.Sub,
		ClientID:        c.ClientID,
		Scopes:          strings.Fields(c.Scope),
		OrgID:           c.OrgID,
		Connections:     nonNil(c.Connections),
		UserDelegations: c.UserDelegations,
		JKT:             jkt,
		Expiry:          exp,
		IssuedAt:        timeOf(c.Iat),
		AuthTime:        timeOf(c.AuthTime),
		Issuer:          r.issuer,
		Audience:        r.resource,
		TokenID:         c.Jti,
		raw:             raw,
	}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// decodeClaims decodes a JSON object of claims.
func decodeClaims(b []byte, dst any) *Error {
	if err := json.Unmarshal(b, dst); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return errInvalidToken("malformed", "The access token's claims are not a JSON object.", err)
		}
		return errInvalidToken("claims", "The access token has a claim of the wrong type.", err)
	}
	return nil
}
