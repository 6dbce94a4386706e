// https://modelcontextprotocol.io/specification/2025-11-25/basic/transports
// https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization
// https://modelcontextprotocol.io/specification/2025-11-25/basic/security_best_practices

// Package mcp is mcpd's MCP server on the official Go SDK (github.com/modelcontextprotocol/go-sdk):
// Streamable HTTP protected by an rs.Middleware, tools, prompts and resources that follow the caller's token,
// and a gateway that fronts other MCP servers (stdio commands or Streamable HTTP endpoints) with
// authorization, policy, logging and a middleware chain, without ever passing the caller's token on.
//
// Implemented, with the clause each check cites where it is made:
//   - MCP transports (2025-06-18, 2025-11-25, 2026-07-28): Streamable HTTP for every protocol version the
//     SDK speaks; versions before 2026-07-28 have sessions (Mcp-Session-Id), 2026-07-28 requests are served
//     statelessly (SEP-2575). "Security Warning": the Origin header is validated on every request to the
//     endpoint and a disallowed one gets 403 before anything else, token or not; on a loopback listener the
//     Host must be loopback, the resource's host or an allowed host (DNS rebinding).
//   - MCP authorization (2025-06-18, 2025-11-25): every request to the endpoint carries an access token
//     for this resource, verified by rs (RFC 6750 Bearer, RFC 9449 DPoP, RFC 9068 JWT); refusals are rs's
//     challenges with resource_metadata (RFC 9728 §5.1); the metadata is served at the root and
//     path-suffixed well-known URLs (RFC 9728 §3.1) with scopes_supported drawn from the policies. Scope
//     challenges: a tools/call for a tool whose scopes the token lacks is answered, before the tool runs, with
//     403 and error="insufficient_scope", scope="…" naming the tool's scopes (RFC 6750 §3.1), so that the
//     client can step up.
//   - MCP security best practices: sessions are bound to the token's issuer, subject and client (never to the
//     token), and another caller presenting a session id gets 404; "Token Passthrough" is forbidden: the
//     access token and DPoP proof stop at rs, upstreams get the gateway's own credentials, and no value of
//     the caller's context reaches them.
//   - Tools follow the caller: a Policy per tool (scopes, connections from ddls:connections, hidden);
//     tools/list (and prompts/list, resources/list, resources/templates/list) shows only what the caller may
//     use, calls are enforced. The built-in whoami tool (scope mcp:tools) describes the caller.
//   - Gateway: Upstream servers over stdio (restarted with exponential backoff when they exit, with a minimal
//     environment) or Streamable HTTP (with a static header or a bearer token of the gateway's own, e.g.
//     client credentials), mirrored under a name prefix with per-tool policy and description overrides;
//     upstream failures become JSON-RPC errors (CodeUpstreamUnavailable), upstream JSON-RPC errors pass
//     through.
//   - A middleware chain over MCP requests (Middleware, func(Handler) Handler, like rs middleware): the
//     built-in logging (subject, method, name, latency, outcome; never a token or arguments) outermost, the
//     caller's middleware, the built-in policy innermost; Describe, TransformArguments and TransformResult
//     are ready-made; users add their own in Go.
//   - The configuration file (LoadConfig): YAML or JSON, strict, every problem reported as
//     file:line: path: problem; CONFIG.md documents every key.
//
// Not supported:
//   - The deprecated HTTP+SSE transport (2024-11-05) and stdio towards clients: mcpd is an HTTP server.
//   - Server-to-client requests (sampling, elicitation, roots) relayed from upstreams: the gateway connects
//     to upstreams without those capabilities.
//   - Resource subscriptions through the gateway, progress notifications and cancellation relayed from
//     upstreams (a cancelled client call does cancel the upstream call).
//   - Per-request credentials for upstreams from delegation dispatch (the gateway's own credentials only).
//   - Origin wildcards: allowed origins are listed one by one.
package mcp
