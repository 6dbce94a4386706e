// Package rs turns any net/http handler into an OAuth 2.0 protected resource for mcpauth's tokens: it
// verifies the access token and, for DPoP-bound tokens, the DPoP proof of every request, checks the scopes
// a route needs, puts the caller (a Principal) in the request context, and answers refusals with the
// challenges MCP clients need to find the authorization server.
//
// Specifications (each check cites its clause where it is made):
//   - RFC 6750 §2.1 and §3 (https://www.rfc-editor.org/rfc/rfc6750): Authorization: Bearer, and the
//     WWW-Authenticate challenges with error, error_description and scope: 401 invalid_token, 400
//     invalid_request, 403 insufficient_scope naming the scopes the route needs, no error code when the
//     request carries no token (§3.1).
//   - RFC 9068 §4 (https://www.rfc-editor.org/rfc/rfc9068): JWT access tokens: typ at+jwt, an allow-list of
//     asymmetric algorithms (never none, never HMAC), signature by a key of the issuer's JWKS, iss, aud equal
//     to this resource, exp and nbf with a small clock skew, iat, jti, sub and client_id present.
//   - RFC 8414 §3 (https://www.rfc-editor.org/rfc/rfc8414): jwks_uri and introspection_endpoint are
//     discovered from the issuer's metadata, whose issuer must be identical to the configured one (§3.3).
//   - RFC 9449 §7 (https://www.rfc-editor.org/rfc/rfc9449): Authorization: DPoP with a DPoP proof whose htm
//     and htu are the request's, whose ath is the token's hash and whose key is the token's cnf.jkt (§7.1,
//     through package dpop); a DPoP-bound token sent as Bearer is refused (§7.2); a resource may require
//     DPoP; DPoP challenges carry algs (§7.1); server nonces with DPoP-Nonce and use_dpop_nonce (§9).
//   - RFC 9728 §5.1 (https://www.rfc-editor.org/rfc/rfc9728): every challenge carries resource_metadata,
//     the URL of the resource's metadata (package prm).
//   - RFC 7662 (https://www.rfc-editor.org/rfc/rfc7662): IntrospectionVerifier asks authd instead of
//     verifying a JWT, for opaque tokens or resources that must see revocation at once.
//
// Performance: a JWTVerifier keeps verified tokens in a bounded cache keyed by the token's SHA-256 until the
// token's exp, so a request presenting a known token costs a hash and a map lookup, plus the one signature
// it must always check when it is DPoP-bound (its proof). Key sets are cached by kid; an unknown kid
// refetches the JWKS at most once per interval, concurrent misses sharing one fetch.
//
// Not supported:
//   - Tokens in the request body or query (RFC 6750 §2.2, §2.3): bearer_methods_supported is ["header"].
//   - Encrypted (JWE) access tokens; JWS JSON serialization; JWS critical header parameters (crit);
//     verification keys given in the token (jwk, jku, x5u, x5c headers are ignored, never fetched).
//   - mTLS-bound tokens (RFC 8705) and any cnf confirmation method other than jkt: such tokens are refused.
//   - Tokens with more than one audience: aud must be exactly this resource.
//   - OpenID Connect discovery (/.well-known/openid-configuration) as a fallback to RFC 8414.
//   - Proxies that rewrite the path: the DPoP htu is checked against the resource's scheme and authority and
//     the path the request arrived with (RFC 9449 §4.3), so the public and the served path must be the same.
//   - CORS: put a CORS handler in front of the middleware so that preflight requests, which carry no
//     token, are answered before they reach it.
package rs
