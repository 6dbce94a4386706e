// https://www.rfc-editor.org/rfc/rfc9728

package prm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/ddls/mcpauth/internal/oauthuri"
)

// WellKnownPath is the well-known URI suffix registered by RFC 9728 §3.
const WellKnownPath = "/.well-known/oauth-protected-resource"

// MaxDocumentSize is the largest metadata document Parse accepts.
const MaxDocumentSize = 64 << 10

// Metadata is a protected resource metadata document (RFC 9728 §2). The zero value of every optional field
// is left out of the JSON, except dpop_bound_access_tokens_required, which is always written.
type Metadata struct {
	// Resource is the protected resource's identifier (REQUIRED): its canonical URI.
	Resource string `json:"resource"`
	// AuthorizationServers lists the issuer identifiers (RFC 8414 §2) of the authorization servers that
	// issue tokens for this resource.
	AuthorizationServers []string `json:"authorization_servers,omitempty"`
	// ScopesSupported lists the scope values (RFC 6749 §3.3) a client can request for this resource.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported lists how a token can be sent (RFC 6750 §2): "header", "body", "query".
	// NewHandler publishes ["header"] when it is empty.
	BearerMethodsSupported []string `json:"bearer_methods_supported,omitempty"`
	// ResourceName is a human-readable name of the resource, for end users.
	ResourceName string `json:"resource_name,omitempty"`
	// ResourceDocumentation, ResourcePolicyURI and ResourceTOSURI are URLs of pages for developers and users.
	ResourceDocumentation string `json:"resource_documentation,omitempty"`
	ResourcePolicyURI     string `json:"resource_policy_uri,omitempty"`
	ResourceTOSURI        string `json:"resource_tos_uri,omitempty"`
	// DPoPSigningAlgValuesSupported lists the JWS algorithms accepted in DPoP proofs (RFC 9449 §5.1).
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// DPoPBoundAccessTokensRequired says the resource accepts DPoP-bound access tokens only (RFC 9728 §2).
	DPoPBoundAccessTokensRequired bool `json:"dpop_bound_access_tokens_required"`
	// AuthorizationDetailsTypesSupported lists the RFC 9396 authorization_details types the resource
	// understands.
	AuthorizationDetailsTypesSupported []string `json:"authorization_details_types_supported,omitempty"`
}

// MetadataURL returns the URL of the metadata of resource (RFC 9728 §3.1): the well-known path inserted
// between the host and the path of the canonical resource URI, e.g. https://x/api gives
// https://x/.well-known/oauth-protected-resource/api. It is the resource_metadata value of a
// WWW-Authenticate challenge (RFC 9728 §5.1).
func MetadataURL(resource string) (string, error) {
	canon, err := oauthuri.CanonicalResource(resource)
	if err != nil {
		return "", fmt.Errorf("prm: %w", err)
	}
	u, err := url.Parse(canon)
	if err != nil {
		return "", fmt.Errorf("prm: %w", err)
	}
	// RFC 9728 §3.1: "inserting a well-known URI string into the protected resource's resource identifier
	// between the host component and the path and/or query components, if any". The canonical form already
	// has no terminating slash.
	path, _ := metadataPath(u)
	out := u.Scheme + "://" + u.Host + path
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out, nil
}

// metadataPath returns the escaped path-suffixed well-known path of a canonical resource URI, and whether
// the resource has a path at all.
func metadataPath(u *url.URL) (string, bool) {
	p := u.EscapedPath()
	return WellKnownPath + p, p != ""
}

// Parse reads a metadata document fetched from the metadata URL of resource, as a client does, and checks
// it (RFC 9728 §3.3): "the resource value returned MUST be identical to the protected resource's resource
// identifier value into which the well-known URI path suffix was inserted to create the URL used to
// retrieve the metadata". If they differ, the document MUST NOT be used: Parse returns an error.
func Parse(data []byte, resource string) (*Metadata, error) {
	if len(data) > MaxDocumentSize {
		return nil, errors.New("prm: metadata document is too large")
	}
	var md Metadata
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&md); err != nil {
		return nil, fmt.Errorf("prm: metadata is not a valid JSON document: %w", err)
	}
	if dec.More() {
		return nil, errors.New("prm: metadata has trailing data after the JSON object")
	}
	if md.Resource == "" {
		return nil, errors.New("prm: metadata has no resource")
	}
	if md.Resource != resource {
		return nil, fmt.Errorf("prm: metadata is for resource %q, not %q (RFC 9728 §3.3)", md.Resource, resource)
	}
	for _, as := range md.AuthorizationServers {
		if err := checkIssuer(as); err != nil {
			return nil, err
		}
	}
	return &md, nil
}

// validate checks a document before it is published. The resource must already be canonical.
func (m *Metadata) validate() error {
	canon, err := oauthuri.CanonicalResource(m.Resource)
	if err != nil {
		return fmt.Errorf("prm: resource: %w", err)
	}
	if canon != m.Resource {
		return fmt.Errorf("prm: resource %q is not canonical (%q)", m.Resource, canon)
	}
	if len(m.AuthorizationServers) == 0 {
		return errors.New("prm: at least one authorization server is required")
	}
	for _, as := range m.AuthorizationServers {
		if err := checkIssuer(as); err != nil {
			return err
		}
	}
	for _, s := range m.ScopesSupported {
		if !ValidScope(s) {
			return fmt.Errorf("prm: scope %q is not an RFC 6749 §3.3 scope-token", s)
		}
	}
	for _, b := range m.BearerMethodsSupported {
		// RFC 9728 §2: "header", "body" and "query", the methods of RFC 6750 §2.
		if b != "header" && b != "body" && b != "query" {
			return fmt.Errorf("prm: unknown bearer method %q", b)
		}
	}
	for name, v := range map[string]string{
		"resource_documentation": m.ResourceDocumentation,
		"resource_policy_uri":    m.ResourcePolicyURI,
		"resource_tos_uri":       m.ResourceTOSURI,
	} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") {
			return fmt.Errorf("prm: %s %q is not an absolute http(s) URL", name, v)
		}
	}
	for _, a := range m.DPoPSigningAlgValuesSupported {
		// RFC 9449 §5.1: asymmetric algorithms only; "none" and MAC algorithms make no sense for a proof.
		if a == "" || a == "none" || strings.HasPrefix(a, "HS") {
			return fmt.Errorf("prm: %q is not a DPoP signing algorithm", a)
		}
	}
	return nil
}

// checkIssuer checks an issuer identifier (RFC 8414 §2: a URL using https, without query or fragment;
// http is tolerated for development servers).
func checkIssuer(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		(u.Scheme != "https" && u.Scheme != "http") || strings.Contains(s, "#") || strings.Contains(s, "?") {
		return fmt.Errorf("prm: authorization server %q is not an issuer identifier (RFC 8414 §2)", s)
	}
	return nil
}

// ValidScope reports whether s is a scope-token (RFC 6749 §3.3: 1*( %x21 / %x23-5B / %x5D-7E )).
func ValidScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
