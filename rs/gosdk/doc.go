// Package gosdk connects package rs to the MCP Go SDK (github.com/modelcontextprotocol/go-sdk): it serves
// the SDK's handlers (mcp.StreamableHTTPHandler) behind rs, so that they get DPoP as well as Bearer tokens
// (the SDK's own auth.RequireBearerToken knows Bearer only), and it turns an rs.Principal into the SDK's
// auth.TokenInfo, which the SDK reads to bind sessions to a user and hands to tool handlers
// (req.Extra.TokenInfo).
//
// It is a separate package so that rs itself depends on net/http, dpop and jwx only.
//
// Mapping: TokenInfo.UserID is the token's subject (the SDK binds sessions to it, never to the raw token);
// Scopes and Expiration are the token's; Extra holds every claim of the token (Principal.Claims) plus the
// *rs.Principal itself under PrincipalKey, which Principal returns.
//
// Not supported: the SDK's client-side auth; rs does not consult the SDK's RequireBearerTokenOptions.
package gosdk
