// https://modelcontextprotocol.io/specification/2025-11-25/basic/transports
// https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization
// https://fetch.spec.whatwg.org/#http-cors-protocol

package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ddls/mcpauth/internal/oauthuri"
	"github.com/ddls/mcpauth/rs"
	"github.com/ddls/mcpauth/rs/gosdk"
)

const (
	headerSessionID       = "Mcp-Session-Id"
	headerProtocolVersion = "Mcp-Protocol-Version"
	// firstStatelessVersion is the first protocol version without sessions (SEP-2575); the SDK serves it
	// only from a stateless handler.
	firstStatelessVersion = "2026-07-28"
)

// corsAllowHeaders are the request headers browser clients may send (MCP transports: Mcp-Session-Id and
// MCP-Protocol-Version; RFC 9449: DPoP; RFC 6750: Authorization), plus the SEP-2243 mirrors.
const corsAllowHeaders = "Authorization, Content-Type, Accept, DPoP, Mcp-Protocol-Version, Mcp-Session-Id, Last-Event-ID, Mcp-Method, Mcp-Name"

// corsExposeHeaders are the response headers browser clients must be able to read: the challenge (RFC 6750
// §3, RFC 9728 §5.1), the session id, the DPoP nonce (RFC 9449 §8, §9).
const corsExposeHeaders = "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, DPoP-Nonce"

// Handler returns the HTTP handler of the server: the MCP endpoint at the path of the resource URI, the
// protected resource metadata at its root and path-suffixed well-known URLs (RFC 9728 §3.1), 404 elsewhere.
// Every request is checked for DNS rebinding first (Host on a loopback listener, Origin on the endpoint).
func (s *Server) Handler() http.Handler {
	s.handlerOnce.Do(func() {
		s.refreshMetadata()
		s.handler = s.buildHandler()
	})
	return s.handler
}

func (s *Server) buildHandler() http.Handler {
	getServer := func(*http.Request) *sdk.Server { return s.sdk }
	sdkLog := sdkLogger(s.log)
	stateful := sdk.NewStreamableHTTPHandler(getServer, &sdk.StreamableHTTPOptions{
		SessionTimeout: s.opts.SessionTimeout,
		// hostGuard does this, with the resource's own host allowed too (behind a proxy on loopback).
		DisableLocalhostProtection: true,
		MaxRequestBodyBytes:        s.opts.MaxRequestBytes,
		Logger:                     sdkLog,
	})
	stateless := sdk.NewStreamableHTTPHandler(getServer, &sdk.StreamableHTTPOptions{
		Stateless:                    true,
		DisableLocalhostProtection:   true,
		MaxRequestBodyBytes:          s.opts.MaxRequestBytes,
		PropagateRequestCancellation: true,
		Logger:                       sdkLog,
	})
	guarded := s.sessions.guard(stateful)
	var endpoint http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Protocol versions from 2026-07-28 have no sessions (SEP-2575); earlier ones do, bound to the caller.
		if v := r.Header.Get(headerProtocolVersion); v >= firstStatelessVersion {
			stateless.ServeHTTP(w, r)
			return
		}
		guarded.ServeHTTP(w, r)
	})
	endpoint = s.bridge(endpoint)
	endpoint = s.stepUp(endpoint)
	endpoint = s.auth.Handler(endpoint)
	endpoint = s.cors(endpoint)
	endpoint = s.originGuard(endpoint)

	return s.hostGuard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.ctx.Err() != nil {
			writeJSONRPCError(w, http.StatusServiceUnavailable, CodeInternalError, "server is shutting down")
			return
		}
		path := r.URL.EscapedPath()
		if path == s.endpoint {
			endpoint.ServeHTTP(w, r)
			return
		}
		if h := s.prm.Load(); h != nil {
			for _, p := range h.Paths() {
				if path == p {
					h.ServeHTTP(w, r)
					return
				}
			}
		}
		http.NotFound(w, r)
	}))
}

// writeJSONRPCError writes a JSON-RPC error response without id, the form the MCP transports allow for HTTP
// errors ("a JSON-RPC error response that has no id").
func writeJSONRPCError(w http.ResponseWriter, status int, code int64, msg string) {
	body, _ := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		Error   struct {
			Code    int64  `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{JSONRPC: "2.0", Error: struct {
		Code    int64  `json:"code"`
		Message string `json:"message"`
	}{code, msg}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// hostGuard: DNS-rebinding protection (MCP security best practices, "Local MCP Server Compromise"; MCP
// transports: "When running locally, servers SHOULD bind only to localhost"). A request that reached a
// loopback address must name a loopback host, the resource's host or an allowed host: a page on
// attacker.example rebound to 127.0.0.1 sends Host: attacker.example.
func (s *Server) hostGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && la != nil && isLoopbackAddr(la) {
			if !s.hostAllowed(r.Host) {
				writeJSONRPCError(w, http.StatusForbidden, CodeInvalidRequest, "Forbidden: Host not allowed")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// CodeInvalidRequest is JSON-RPC's "Invalid Request", used for refusals at the HTTP layer.
const CodeInvalidRequest = -32600

func isLoopbackAddr(a net.Addr) bool {
	host := a.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) hostAllowed(host string) bool {
	if host == "" {
		return false
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.Trim(name, "[]")
	if oauthuri.IsLoopbackHost(strings.ToLower(name)) {
		return true
	}
	return s.hosts[hostKey(host, "")]
}

// hostKey normalizes host[:port] for comparison: lowercase, without the default port of scheme (or of
// http and https when scheme is unknown).
func hostKey(host, scheme string) string {
	host = strings.ToLower(host)
	if h, port, err := net.SplitHostPort(host); err == nil {
		if (port == "80" && scheme != "https") || (port == "443" && scheme != "http") {
			return strings.Trim(h, "[]")
		}
		return host
	}
	return strings.Trim(host, "[]")
}

// originGuard refuses a browser request from an origin that is not allowed, before anything else, token or
// not. MCP transports (2025-06-18 and 2025-11-25), "Security Warning": servers "MUST validate the Origin
// header on all incoming connections to prevent DNS rebinding attacks"; 2025-11-25: "If the Origin header is
// present and invalid, servers MUST respond with HTTP 403 Forbidden". A request without Origin is not from
// a browser page and passes.
func (s *Server) originGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vals := r.Header.Values("Origin")
		if len(vals) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if len(vals) == 1 {
			if o, err := canonicalOrigin(vals[0]); err == nil && s.origins[o] {
				next.ServeHTTP(w, r)
				return
			}
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "mcp: origin refused", slog.String("origin", truncate(strings.Join(vals, ","), 200)))
		writeJSONRPCError(w, http.StatusForbidden, CodeInvalidRequest, "Forbidden: Origin not allowed")
	})
}

// cors answers preflight requests and lets allowed origins read the responses (Fetch, CORS protocol). It
// runs after originGuard, so any Origin here is allowed. No credentials mode: tokens travel in headers.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		if r.Method == http.MethodOptions {
			h.Set("Allow", "GET, POST, DELETE, OPTIONS")
			if origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Add("Vary", "Origin")
				h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders+paramHeaders(r.Header.Get("Access-Control-Request-Headers")))
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if origin != "" {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		}
		next.ServeHTTP(w, r)
	})
}

// paramHeaders returns the Mcp-Param-* headers (SEP-2243) a preflight asks for, as ", a, b".
func paramHeaders(requested string) string {
	var b strings.Builder
	for _, f := range strings.Split(requested, ",") {
		f = strings.TrimSpace(f)
		if len(f) > len("mcp-param-") && len(f) <= 128 && strings.EqualFold(f[:len("mcp-param-")], "mcp-param-") && isToken(f) {
			b.WriteString(", ")
			b.WriteString(f)
		}
	}
	return b.String()
}

// isToken reports whether s is an RFC 9110 §5.6.2 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// stepUp refuses a tools/call for a tool whose scopes the token lacks, before the call runs, with the
// RFC 6750 §3.1 challenge: 403, error="insufficient_scope", scope= the scopes the tool needs (MCP
// authorization 2025-11-25, "Scope Challenge Handling"; the client may ask for them: step-up). The body is
// read once here (bounded) and handed on.
func (s *Server) stepUp(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxRequestBytes))
		_ = r.Body.Close()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeJSONRPCError(w, http.StatusRequestEntityTooLarge, CodeInvalidRequest, "request body too large")
				return
			}
			writeJSONRPCError(w, http.StatusBadRequest, CodeInvalidRequest, "cannot read request body")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if scopes := s.stepUpScopes(body, rs.PrincipalFrom(r.Context())); scopes != nil {
			s.auth.WriteError(w, r, rs.InsufficientScope(scopes...))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// stepUpScopes returns the scopes to name in a step-up challenge for the tools/call requests in body (one
// message or a batch), or nil when none lacks a scope. Malformed bodies are left to the SDK to refuse.
func (s *Server) stepUpScopes(body []byte, p *rs.Principal) []string {
	body = bytes.TrimLeft(body, " \t\r\n")
	if !bytes.Contains(body, []byte("tools/call")) && !bytes.Contains(body, []byte(`\`)) {
		return nil // fast path: no tools/call, even escaped
	}
	var msgs []json.RawMessage
	if len(body) > 0 && body[0] == '[' {
		if json.Unmarshal(body, &msgs) != nil {
			return nil
		}
	} else {
		msgs = []json.RawMessage{body}
	}
	var need []string
	for _, m := range msgs {
		var msg struct {
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if json.Unmarshal(m, &msg) != nil || msg.Method != MethodToolsCall {
			continue
		}
		var params struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(msg.Params, &params) != nil {
			continue
		}
		pol := s.reg.tool(params.Name)
		if pol.check(p) == needScope {
			need = append(need, pol.Scopes...)
		}
	}
	return dedupe(need)
}

func dedupe(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := in[:0:0]
	for _, s := range in {
		dup := false
		for _, o := range out {
			if o == s {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}

// bridge hands the verified caller to the SDK as an auth.TokenInfo (rs/gosdk), so that the SDK binds
// sessions to it and every request carries it in RequestExtra, and then removes the credentials from the
// request: the access token and the DPoP proof go no further than rs, not even to tool handlers (MCP
// security best practices, "Token Passthrough").
func (s *Server) bridge(next http.Handler) http.Handler {
	return gosdk.WithTokenInfo(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Authorization")
		r.Header.Del("DPoP")
		next.ServeHTTP(w, r)
	}))
}

// ownerKey is what a session is bound to: the token's issuer, subject and client, never the token itself
// (MCP security best practices, "Session Hijacking": bind session ids to user-specific information).
func ownerKey(p *rs.Principal) string {
	if p == nil {
		return ""
	}
	return p.Issuer + "\x00" + p.Subject + "\x00" + p.ClientID
}

// principalOf returns the caller of an SDK request.
func principalOf(req sdk.Request) *rs.Principal {
	if req == nil {
		return nil
	}
	extra := req.GetExtra()
	if extra == nil || extra.TokenInfo == nil {
		return nil
	}
	return gosdk.Principal(extra.TokenInfo)
}
