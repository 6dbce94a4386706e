package as

import (
	"encoding/json"
	"net/http"
	"slices"
)

// https://www.rfc-editor.org/rfc/rfc8414 (OAuth 2.0 Authorization Server Metadata)

// Metadata is the RFC 8414 §2 document. Only registered fields are emitted: no invented ones.
type Metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	// RFC 9449 §5.1: the algorithms accepted in DPoP proofs.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported"`
	// RFC 9207 §3: every authorization response carries iss.
	AuthorizationResponseISSParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
}

func (s *Server) metadata(r *http.Request) (*Metadata, error) {
	resources, err := s.st.ListResources(r.Context())
	if err != nil {
		return nil, err
	}
	scopes := []string{}
	for _, res := range resources {
		for _, sc := range res.Scopes {
			if !slices.Contains(scopes, sc.Name) {
				scopes = append(scopes, sc.Name)
			}
		}
	}
	scopes = append(scopes, scopeOfflineAccess)
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	return &Metadata{
		Issuer:                            s.issuer,
		AuthorizationEndpoint:             s.issuer + "/authorize",
		TokenEndpoint:                     s.issuer + "/token",
		JWKSURI:                           s.issuer + "/jwks.json",
		IntrospectionEndpoint:             s.issuer + "/introspect",
		RevocationEndpoint:                s.issuer + "/revoke",
		ScopesSupported:                   scopes,
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token", "client_credentials"},
		TokenEndpointAuthMethodsSupported: []string{"none", "client_secret_basic", "client_secret_post", "private_key_jwt"},
		// fosite verifies client assertions with these (RFC 7523 §3; no HMAC: client_secret_jwt is not offered).
		TokenEndpointAuthSigningAlgValuesSupported: []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"},
		IntrospectionEndpointAuthMethodsSupported:  []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		RevocationEndpointAuthMethodsSupported:     []string{"none", "client_secret_basic", "client_secret_post", "private_key_jwt"},
		CodeChallengeMethodsSupported:              []string{"S256"}, // OAuth 2.1 §4.1.1: plain is not offered
		AuthorizationResponseISSParameterSupported: true,
		DPoPSigningAlgValuesSupported:              s.dpopVerifier.AllowedAlgs(),
	}, nil
}

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	md, err := s.metadata(r)
	if err != nil {
		s.log.ErrorContext(r.Context(), "metadata: list resources", "err", err)
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*") // public document; browser-based MCP clients fetch it
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, md)
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	// Short cache: resource servers also refetch on an unknown kid, and new keys are published before use.
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.keys.jwksDocument(r.Context()))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
