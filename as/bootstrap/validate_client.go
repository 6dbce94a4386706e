package bootstrap

import (
	"encoding/hex"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/ddls/mcpauth/internal/oauthuri"
)

// Client rules: OAuth 2.1 (https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1) §2.1 client types,
// §2.3.1 redirect URIs, §4.2 client credentials; RFC 7591 §2 client metadata.

func (v *validator) client(path string, c *Client, ids map[string]string) {
	if v.id(path+".client_id", "client_id", c.ClientID, maxClientIDLen) {
		dup(v, ids, c.ClientID, path+".client_id", "client_id")
	}
	v.text(path+".client_name", c.ClientName)
	v.clientAuth(path, c)
	v.clientGrants(path, c)

	if len(c.Resources) == 0 {
		v.add(path+".resources", "at least one resource is required (RFC 8707: the audiences this client may ask tokens for)")
	}
	v.resourceRefs(path+".resources", c.Resources)
	v.clientScopes(path, c)

	if c.Organization != "" {
		if _, ok := v.orgs[c.Organization]; !ok {
			v.add(path+".organization", "organization %q is not declared under organizations", c.Organization)
		}
	}
	if len(c.Connections) > 0 && c.Organization == "" {
		v.add(path+".connections", "connections need an organization: set organization")
	}
	seen := map[string]string{}
	for i, id := range c.Connections {
		p := fmt.Sprintf("%s.connections[%d]", path, i)
		conn, ok := v.conns[id]
		switch {
		case id == "":
			v.add(p, "connection id must not be empty")
		case !ok:
			v.add(p, "connection %q is not declared under any organization", id)
		case c.Organization != "" && v.connOrg[id] != c.Organization:
			v.add(p, "connection %q belongs to organization %q, not to the client's organization %q", id, v.connOrg[id], c.Organization)
		case !slices.ContainsFunc(c.Resources, func(r string) bool { return slices.Contains(conn.Resources, r) }):
			v.add(p, "connection %q is not allowed for any of the client's resources", id)
		default:
			dup(v, seen, id, p, "connection")
		}
	}
}

func (v *validator) clientAuth(path string, c *Client) {
	hasSecret := c.ClientSecret != "" || c.ClientSecretHash != ""
	hasKeys := len(c.JWKS) > 0 || c.JWKSURI != ""
	switch c.TokenEndpointAuthMethod {
	case "", authNone, authClientSecretBasic, authClientSecretPost, authPrivateKeyJWT:
	default:
		v.add(path+".token_endpoint_auth_method", "unsupported method %q (none, client_secret_basic, client_secret_post or private_key_jwt)", c.TokenEndpointAuthMethod)
		return
	}
	if c.Public {
		// OAuth 2.1 §2.1: a public client has no credentials; it proves itself with PKCE.
		if c.ClientSecret != "" {
			v.add(path+".client_secret", "a public client has no secret; remove client_secret or set public: false")
		}
		if c.ClientSecretHash != "" {
			v.add(path+".client_secret_hash", "a public client has no secret; remove client_secret_hash or set public: false")
		}
		if len(c.JWKS) > 0 {
			v.add(path+".jwks", "a public client has no keys; private_key_jwt is for confidential clients")
		}
		if c.JWKSURI != "" {
			v.add(path+".jwks_uri", "a public client has no keys; private_key_jwt is for confidential clients")
		}
		if c.TokenEndpointAuthMethod != "" && c.TokenEndpointAuthMethod != authNone {
			v.add(path+".token_endpoint_auth_method", "a public client authenticates with none (it uses PKCE)")
		}
		c.TokenEndpointAuthMethod = authNone
		return
	}

	if c.ClientSecret != "" {
		if c.ClientSecretHash != "" {
			v.add(path+".client_secret_hash", "set client_secret or client_secret_hash, not both")
		}
		if utf8.RuneCountInString(string(c.ClientSecret)) < minSecretLen {
			v.add(path+".client_secret", "client_secret must be at least %d characters: it is stored as an unsalted SHA-256, which protects only a high-entropy value (generate one, e.g. openssl rand -base64 32)", minSecretLen)
		}
	} else if c.ClientSecretHash != "" {
		b, err := hex.DecodeString(c.ClientSecretHash)
		if err != nil || len(b) != 32 {
			v.add(path+".client_secret_hash", "client_secret_hash must be the SHA-256 of the secret as 64 hex digits")
		} else {
			c.ClientSecretHash = hex.EncodeToString(b)
		}
	}
	if len(c.JWKS) > 0 && c.JWKSURI != "" {
		// RFC 7591 §2: "The jwks_uri and jwks parameters MUST NOT both be present in the same request".
		v.add(path+".jwks", "set jwks or jwks_uri, not both (RFC 7591 §2)")
	}
	if len(c.JWKS) > 0 {
		for _, p := range checkJWKS(c.JWKS) {
			v.add(join(path+".jwks", p.path), "%s", p.msg)
		}
	}
	if c.JWKSURI != "" {
		if err := checkJWKSURI(c.JWKSURI); err != nil {
			v.add(path+".jwks_uri", "%s", err)
		}
	}

	switch c.TokenEndpointAuthMethod {
	case "":
		switch {
		case hasSecret && hasKeys:
			v.add(path+".token_endpoint_auth_method", "the client has both a secret and keys: set token_endpoint_auth_method")
		case hasSecret:
			c.TokenEndpointAuthMethod = authClientSecretBasic
		case hasKeys:
			c.TokenEndpointAuthMethod = authPrivateKeyJWT
		case v.anyBad(path, "public", "client_secret", "client_secret_hash", "jwks", "jwks_uri"):
			// Already reported: the client's kind or credentials did not decode.
		default:
			v.add(path, "a confidential client needs client_secret, client_secret_hash, or jwks/jwks_uri (private_key_jwt); set public: true for a client without credentials")
		}
	case authNone:
		v.add(path+".token_endpoint_auth_method", "none is for public clients: set public: true, or give the client credentials")
	case authClientSecretBasic, authClientSecretPost:
		if !hasSecret {
			v.add(path+".token_endpoint_auth_method", "%s needs client_secret or client_secret_hash", c.TokenEndpointAuthMethod)
		}
		if hasKeys {
			v.add(path+".token_endpoint_auth_method", "jwks and jwks_uri are only used with private_key_jwt")
		}
	case authPrivateKeyJWT:
		if !hasKeys {
			v.add(path+".token_endpoint_auth_method", "private_key_jwt needs jwks or jwks_uri (RFC 7523)")
		}
		if hasSecret {
			v.add(path+".token_endpoint_auth_method", "a private_key_jwt client has no secret; remove client_secret")
		}
	}
}

func (v *validator) anyBad(path string, keys ...string) bool {
	return slices.ContainsFunc(keys, func(k string) bool { return v.ps.bad[join(path, k)] })
}

func (v *validator) clientGrants(path string, c *Client) {
	p := path + ".grant_types"
	if len(c.GrantTypes) == 0 {
		switch {
		case c.Public:
			c.GrantTypes = []string{grantAuthorizationCode, grantRefreshToken}
		case c.Organization != "" && len(c.RedirectURIs) == 0:
			c.GrantTypes = []string{grantClientCredentials}
		default:
			c.GrantTypes = []string{grantAuthorizationCode, grantRefreshToken}
		}
	} else {
		seen := map[string]string{}
		for i, g := range c.GrantTypes {
			q := fmt.Sprintf("%s[%d]", p, i)
			switch g {
			case grantAuthorizationCode, grantRefreshToken:
			case grantClientCredentials:
				if c.Public {
					// OAuth 2.1 §4.2: "The client credentials grant type MUST only be used by confidential clients."
					v.add(q, "client_credentials needs a confidential client (OAuth 2.1 §4.2)")
				}
			default:
				v.add(q, "unsupported grant type %q (authorization_code, refresh_token or client_credentials)", g)
				continue
			}
			dup(v, seen, g, q, "grant type")
		}
		if slices.Contains(c.GrantTypes, grantRefreshToken) && !slices.Contains(c.GrantTypes, grantAuthorizationCode) {
			// Refresh tokens come only from the authorization code grant here (OAuth 2.1 §4.2.3: client
			// credentials responses carry none).
			v.add(p, "refresh_token needs authorization_code: only that grant issues refresh tokens")
		}
	}

	hasCode := slices.Contains(c.GrantTypes, grantAuthorizationCode)
	seen := map[string]string{}
	for i, u := range c.RedirectURIs {
		q := fmt.Sprintf("%s.redirect_uris[%d]", path, i)
		if err := oauthuri.ValidateRedirectURI(u); err != nil {
			v.add(q, "%s", err)
			continue
		}
		// OAuth 2.1 §4.1.1: redirect URIs are compared exactly, so a duplicate is always a mistake.
		dup(v, seen, u, q, "redirect URI")
	}
	switch {
	case hasCode && len(c.RedirectURIs) == 0:
		// OAuth 2.1 §2.3.1: clients using the authorization code grant register their redirect URIs.
		v.add(path+".redirect_uris", "authorization_code needs at least one redirect URI%s", defaultGrantHint(c))
	case !hasCode && len(c.RedirectURIs) > 0:
		v.add(path+".redirect_uris", "redirect_uris are only used by the authorization_code grant, which this client does not have")
	}
}

func defaultGrantHint(c *Client) string {
	if !c.Public && c.Organization == "" {
		return " (it is the default grant of a confidential client without an organization; for a machine client set organization, or grant_types: [client_credentials])"
	}
	return ""
}

func (v *validator) clientScopes(path string, c *Client) {
	p := path + ".scopes"
	if len(c.Scopes) == 0 {
		// Default: the default scopes of the client's resources. Never offline_access and never a
		// non-default scope: anything broader must be asked for in the file.
		for _, uri := range c.Resources {
			if r, ok := v.resources[uri]; ok {
				for _, s := range r.Scopes {
					if s.Default && isScopeToken(s.Name) && !slices.Contains(c.Scopes, s.Name) {
						c.Scopes = append(c.Scopes, s.Name)
					}
				}
			}
		}
		allDeclared := !slices.ContainsFunc(c.Resources, func(uri string) bool { return v.resources[uri] == nil })
		if len(c.Scopes) == 0 && len(c.Resources) > 0 && allDeclared && !v.ps.bad[p] {
			v.add(p, "no scopes given and the client's resources declare no default scope; list the scopes it may ask for")
		}
		return
	}
	seen := map[string]string{}
	for i, s := range c.Scopes {
		q := fmt.Sprintf("%s[%d]", p, i)
		switch {
		case !isScopeToken(s):
			v.add(q, "%q is not an RFC 6749 §3.3 scope-token", s)
			continue
		case s == scopeOfflineAccess:
			if !slices.Contains(c.GrantTypes, grantRefreshToken) {
				v.add(q, "offline_access needs the refresh_token grant")
			}
		case !slices.ContainsFunc(c.Resources, func(uri string) bool {
			r, ok := v.resources[uri]
			return ok && slices.ContainsFunc(r.Scopes, func(d Scope) bool { return d.Name == s })
		}):
			v.add(q, "scope %q is not declared by any of the client's resources", s)
		}
		dup(v, seen, s, q, "scope")
	}
}
