package store

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"sync"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
)

// FositeClient adapts a Client record to fosite's client interfaces.
type FositeClient struct {
	Client
	jwksOnce sync.Once
	jwks     *jose.JSONWebKeySet
}

var (
	_ fosite.Client              = (*FositeClient)(nil)
	_ fosite.OpenIDConnectClient = (*FositeClient)(nil)
)

// NewFositeClient wraps c.
func NewFositeClient(c Client) *FositeClient { return &FositeClient{Client: c} }

func (c *FositeClient) GetID() string                   { return c.ID }
func (c *FositeClient) GetHashedSecret() []byte         { return c.SecretHash }
func (c *FositeClient) GetRedirectURIs() []string       { return c.RedirectURIs }
func (c *FositeClient) GetGrantTypes() fosite.Arguments { return c.GrantTypes }
func (c *FositeClient) GetResponseTypes() fosite.Arguments {
	if len(c.ResponseTypes) == 0 {
		return fosite.Arguments{"code"}
	}
	return c.ResponseTypes
}
func (c *FositeClient) GetScopes() fosite.Arguments   { return c.Scopes }
func (c *FositeClient) IsPublic() bool                { return c.Public }
func (c *FositeClient) GetAudience() fosite.Arguments { return c.Resources }
func (c *FositeClient) GetRequestURIs() []string      { return nil }
func (c *FositeClient) GetJSONWebKeysURI() string     { return c.JWKSURI }

// GetRequestObjectSigningAlgorithm: request objects are not supported.
func (c *FositeClient) GetRequestObjectSigningAlgorithm() string { return "" }

// GetTokenEndpointAuthSigningAlgorithm is the one algorithm private_key_jwt assertions must use: the
// configured one, or the natural one for the first registered key.
func (c *FositeClient) GetTokenEndpointAuthSigningAlgorithm() string {
	if c.TokenEndpointAuthSigningAlg != "" {
		return c.TokenEndpointAuthSigningAlg
	}
	if set := c.GetJSONWebKeys(); set != nil && len(set.Keys) > 0 {
		k := set.Keys[0]
		if k.Algorithm != "" {
			return k.Algorithm
		}
		switch k.Key.(type) {
		case *ecdsa.PublicKey:
			return "ES256"
		case *rsa.PublicKey:
			return "RS256"
		}
	}
	return "RS256"
}

func (c *FositeClient) GetTokenEndpointAuthMethod() string {
	if c.TokenEndpointAuthMethod != "" {
		return c.TokenEndpointAuthMethod
	}
	if c.Public {
		return "none"
	}
	return "client_secret_basic"
}

func (c *FositeClient) GetJSONWebKeys() *jose.JSONWebKeySet {
	c.jwksOnce.Do(func() {
		if len(c.JWKS) == 0 {
			return
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(c.JWKS, &set); err == nil {
			// RFC 7517 §4.2: "use" is optional. Keys registered for client authentication are signature
			// keys; fosite only looks at keys marked "sig", so say so for those that do not.
			for i := range set.Keys {
				if set.Keys[i].Use == "" {
					set.Keys[i].Use = "sig"
				}
			}
			c.jwks = &set
		}
	})
	return c.jwks
}
