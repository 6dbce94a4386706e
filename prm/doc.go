// https://www.rfc-editor.org/rfc/rfc9728

// Package prm implements OAuth 2.0 Protected Resource Metadata (RFC 9728): the metadata document a resource
// server publishes so that clients find its authorization servers, and a small http.Handler serving it.
//
// Implemented:
//   - RFC 9728 §2: the metadata parameters resource, authorization_servers, scopes_supported,
//     bearer_methods_supported, resource_name, resource_documentation, resource_policy_uri, resource_tos_uri,
//     dpop_signing_alg_values_supported and dpop_bound_access_tokens_required (RFC 9449 §5.1), and
//     authorization_details_types_supported (RFC 9396 §10).
//   - RFC 9728 §3.1: the well-known URL, with the path of the resource appended
//     (https://x/api → https://x/.well-known/oauth-protected-resource/api): MetadataURL, the value of the
//     resource_metadata challenge parameter (§5.1).
//   - RFC 9728 §3.2: Handler answers GET (and HEAD) with the JSON document, at the path-suffixed URL and at
//     /.well-known/oauth-protected-resource itself (the root form MCP clients fall back to), with CORS
//     (Access-Control-Allow-Origin: *) so browser-based clients can read it.
//   - RFC 9728 §3.3: Parse checks, on the client side, that resource is identical to the resource identifier
//     the metadata URL was formed from.
//   - resource is always the canonical resource URI (see internal/oauthuri): the same string authd puts in
//     the aud claim and the URL clients must connect to.
//
// Not supported:
//   - Signed metadata (signed_metadata, RFC 9728 §2.2), jwks_uri and resource_signing_alg_values_supported.
//   - mTLS-bound tokens (tls_client_certificate_bound_access_tokens): mcpauth binds tokens with DPoP only.
//   - Bearer tokens in the body or the query: bearer_methods_supported is ["header"] unless set otherwise.
//   - Language-tagged human-readable values (resource_name#de, RFC 9728 §2.1).
package prm
