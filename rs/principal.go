package rs

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Principal is the caller of a request, as the access token describes it (RFC 9068 §2.2 claims plus
// mcpauth's org_id, ddls:connections and ddls:user_delegations).
//
// A Principal is shared by every request that presents the same token (it is cached with the token): treat
// it, and its slices, as read-only.
type Principal struct {
	// Subject is sub: the user's id, or the client id for client credentials.
	Subject string
	// ClientID is client_id: the OAuth client the token was issued to.
	ClientID string
	// Scopes are the granted scopes (the scope claim, split at spaces).
	Scopes []string
	// OrgID is org_id: the organization the grant was made in.
	OrgID string
	// Connections is ddls:connections: the connection ids the token may use.
	Connections []string
	// UserDelegations is ddls:user_delegations: the user-delegation ids the token may use.
	UserDelegations []string
	// JKT is cnf.jkt, the RFC 7638 thumbprint of the key the token is bound to (RFC 9449 §6.1), or "" for a
	// bearer token. When it is set, the middleware has checked the request's DPoP proof with that key.
	JKT string
	// Expiry is exp; IssuedAt is iat; AuthTime is auth_time (zero when absent).
	Expiry   time.Time
	IssuedAt time.Time
	AuthTime time.Time
	// Issuer is iss, Audience the resource the token is for (aud), TokenID the jti.
	Issuer   string
	Audience string
	TokenID  string

	raw []byte // the claims as received (JWT payload or introspection response)
}

// HasScope reports whether scope was granted.
func (p *Principal) HasScope(scope string) bool { return slices.Contains(p.Scopes, scope) }

// Claims returns all the claims of the token (for an introspected token, the introspection response) as a
// new map, decoded with encoding/json: numbers are float64. The caller may modify it.
func (p *Principal) Claims() map[string]any {
	m := map[string]any{}
	if len(p.raw) > 0 {
		_ = json.Unmarshal(p.raw, &m)
	}
	return m
}

// RawClaims returns a copy of the claims as received, a JSON object.
func (p *Principal) RawClaims() []byte { return slices.Clone(p.raw) }

type principalKey struct{}

// PrincipalFrom returns the Principal the middleware put in ctx, or nil if there is none.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// ContextWithPrincipal returns a copy of ctx carrying p, as the middleware does after verifying a request.
// It is meant for tests of handlers and for bridges to other frameworks; it verifies nothing.
func ContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}
