// Package as is the mcpauth authorization server: fosite wiring, the endpoints, login and consent.
//
// Implemented (each check cites its clause where it is enforced):
//   - OAuth 2.1 (draft-ietf-oauth-v2-1) authorization code grant with PKCE S256 required of every client
//     (RFC 7636; plain and missing challenges refused), refresh tokens rotated on every use with a grace
//     window and family revocation on reuse (OAuth 2.1 §4.3.1, RFC 6819 §5.2.2.3), client credentials.
//   - Client authentication none, client_secret_basic, client_secret_post, private_key_jwt (RFC 7523).
//   - RFC 8707 resource indicators: one resource per token, invalid_target otherwise.
//   - RFC 9068 JWT access tokens (typ at+jwt, ES256 by default) with mcpauth's org_id, ddls:connections and
//     ddls:user_delegations claims.
//   - RFC 8414 metadata, RFC 9207 iss on every authorization response, RFC 7662 introspection, RFC 7009
//     revocation, a JWKS with keys published before they sign.
//   - Login and consent pages (html/template, no JavaScript) with CSRF protection, CSP and __Host- cookies.
//
// Not (yet) supported: implicit and password grants (removed by OAuth 2.1), response modes other than
// query, request objects (JAR), OpenID Connect ID tokens and userinfo, several resources in one token,
// client_secret_jwt (HMAC assertions). DPoP, dynamic registration, PAR and CIMD come in later changes.
package as
