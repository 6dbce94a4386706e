package store

import (
	"encoding/json"
	"time"
)

// Scope is one scope a resource understands.
type Scope struct {
	Name    string `json:"name"`
	Default bool   `json:"default,omitempty"`
}

// Resource is a protected resource: an RFC 8707 target and the audience of the tokens issued for it.
type Resource struct {
	URI            string        `json:"uri"` // canonical form, see as.CanonicalResource
	Name           string        `json:"name"`
	Scopes         []Scope       `json:"scopes"`
	RequireDPoP    bool          `json:"require_dpop"`
	AccessTokenTTL time.Duration `json:"access_token_ttl"` // zero: the server default
}

// HasScope reports whether the resource declares scope.
func (r Resource) HasScope(scope string) bool {
	for _, s := range r.Scopes {
		if s.Name == scope {
			return true
		}
	}
	return false
}

// DefaultScopes are the scopes granted when an authorization request names none.
func (r Resource) DefaultScopes() []string {
	var out []string
	for _, s := range r.Scopes {
		if s.Default {
			out = append(out, s.Name)
		}
	}
	return out
}

// Organization groups users, confidential clients and connections.
type Organization struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Connection is an org-owned handle to a downstream credential. The authorization server keeps no secret:
// the credential lives behind dispatch.
type Connection struct {
	ID        string   `json:"id"`
	OrgID     string   `json:"org_id"`
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	Resources []string `json:"resources"` // resources it may be used from
	Contract  []string `json:"contract"`  // intents it allows
}

// AllowedFor reports whether the connection may be used from resource.
func (c Connection) AllowedFor(resource string) bool {
	for _, r := range c.Resources {
		if r == resource {
			return true
		}
	}
	return false
}

// Membership places a user in an organization with a role.
type Membership struct {
	OrgID string `json:"org_id"`
	Role  string `json:"role"`
}

// User is a local user.
type User struct {
	ID            string       `json:"id"`
	Username      string       `json:"username"`
	PasswordHash  string       `json:"-"` // argon2id PHC string
	Organizations []Membership `json:"organizations"`
	CreatedAt     time.Time    `json:"created_at"`
}

// Client is a registered OAuth client.
type Client struct {
	ID   string `json:"client_id"`
	Name string `json:"client_name,omitempty"`
	// SecretHash is the SHA-256 of the client secret; empty for public clients and private_key_jwt clients.
	// Secrets are high-entropy server-generated values, not passwords, so a fast hash is the right one.
	SecretHash              []byte          `json:"-"`
	Public                  bool            `json:"public"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	RedirectURIs            []string        `json:"redirect_uris"`
	GrantTypes              []string        `json:"grant_types"`
	ResponseTypes           []string        `json:"response_types"`
	Scopes                  []string        `json:"scopes"`
	Resources               []string        `json:"resources"`
	OrgID                   string          `json:"organization,omitempty"`
	Connections             []string        `json:"connections,omitempty"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"` // for private_key_jwt
	JWKSURI                 string          `json:"jwks_uri,omitempty"`
	// TokenEndpointAuthSigningAlg is the JWS algorithm of private_key_jwt assertions; empty: inferred from
	// the first registered key (ES256 for P-256, RS256 for RSA).
	TokenEndpointAuthSigningAlg string    `json:"token_endpoint_auth_signing_alg,omitempty"`
	DPoPBoundAccessTokens       bool      `json:"dpop_bound_access_tokens"`
	CreatedAt                   time.Time `json:"created_at"`
}

// SigningKey is one access-token signing key. The private key is sealed under the key-encryption key.
type SigningKey struct {
	KID           string    `json:"kid"`
	Alg           string    `json:"alg"`
	PublicJWK     []byte    `json:"public_jwk"`
	PrivateSealed []byte    `json:"-"`
	CreatedAt     time.Time `json:"created_at"`
	// ActiveAt is when the key starts signing; it is published from CreatedAt on, so resource servers have
	// it cached before the first token signed with it reaches them.
	ActiveAt time.Time `json:"active_at"`
}

// BrowserSession is a logged-in browser. The cookie holds a random value; the store keeps only its hash.
type BrowserSession struct {
	IDHash    string    `json:"-"`
	UserID    string    `json:"user_id"`
	AuthTime  time.Time `json:"auth_time"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Consent is a remembered consent decision for (user, client, resource).
type Consent struct {
	UserID      string    `json:"user_id"`
	ClientID    string    `json:"client_id"`
	Resource    string    `json:"resource"`
	Scopes      []string  `json:"scopes"`
	OrgID       string    `json:"org_id"`
	Connections []string  `json:"connections"` // the connections left ticked
	GrantedAt   time.Time `json:"granted_at"`
}
