package mcp_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/ddls/mcpauth/dpop"
	"github.com/ddls/mcpauth/mcp"
)

const (
	initBody   = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	initedBody = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
	listBody   = `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
)

func callBody(tool string) string {
	return `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"` + tool + `","arguments":{}}}`
}

// rawReq is one HTTP request to mcpd, answered in full.
type rawReq struct {
	method  string
	path    string // default: the endpoint
	body    string
	token   string
	key     *dpop.Key
	header  map[string]string
	session string
	version string
}

type rawResp struct {
	status int
	header http.Header
	body   string
}

func (e *env) raw(r rawReq) rawResp {
	e.t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	u := e.resource
	if r.path != "" {
		u = e.base + r.path
	}
	req, _ := http.NewRequest(r.method, u, strings.NewReader(r.body))
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, text/event-stream")
	if r.session != "" {
		req.Header.Set("Mcp-Session-Id", r.session)
	}
	if r.version != "" {
		req.Header.Set("Mcp-Protocol-Version", r.version)
	}
	for k, v := range r.header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	hc := http.DefaultClient
	if r.token != "" {
		hc = httpClient(r.token, r.key)
	}
	resp, err := hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResp{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// session opens a 2025-11-25 session over raw HTTP and returns its id.
func (e *env) session(token string, key *dpop.Key) string {
	e.t.Helper()
	r := e.raw(rawReq{body: initBody, token: token, key: key})
	id := r.header.Get("Mcp-Session-Id")
	if r.status != http.StatusOK || id == "" {
		e.t.Fatalf("initialize: %d %q %.200s", r.status, id, r.body)
	}
	if r := e.raw(rawReq{body: initedBody, token: token, key: key, session: id, version: "2025-11-25"}); r.status != http.StatusAccepted {
		e.t.Fatalf("initialized: %d %.200s", r.status, r.body)
	}
	return id
}

// TestOriginAndHost: DNS-rebinding protection comes before anything else, token or not.
func TestOriginAndHost(t *testing.T) {
	e := newEnv(t, envOptions{mcpd: &mcp.Options{AllowedOrigins: []string{"http://localhost:6274"}, AllowedHosts: []string{"mcp.example.test"}}})
	tok := e.ccToken("svc-reporter", svcSecret, nil)
	port := e.base[strings.LastIndex(e.base, ":")+1:]
	cases := []struct {
		name   string
		header map[string]string
		token  string
		want   int
	}{
		{"mcp_transports_origin_foreign_403_without_token", map[string]string{"Origin": "http://evil.example"}, "", 403},
		{"mcp_transports_origin_foreign_403_with_valid_token", map[string]string{"Origin": "http://evil.example"}, tok, 403},
		{"mcp_transports_origin_null_403", map[string]string{"Origin": "null"}, tok, 403},
		{"mcp_transports_origin_other_port_403", map[string]string{"Origin": "http://127.0.0.1:1"}, tok, 403},
		{"mcp_transports_origin_other_scheme_403", map[string]string{"Origin": "https://127.0.0.1:" + port}, tok, 403},
		{"mcp_transports_origin_with_path_403", map[string]string{"Origin": "http://localhost:6274/x"}, tok, 403},
		{"mcp_transports_origin_garbage_403", map[string]string{"Origin": "%%%"}, tok, 403},
		{"mcp_transports_origin_subdomain_403", map[string]string{"Origin": "http://localhost.evil.example:6274"}, tok, 403},
		{"dns_rebinding_host_foreign_403", map[string]string{"Host": "evil.example:" + port}, tok, 403},
		{"dns_rebinding_host_foreign_403_without_token", map[string]string{"Host": "evil.example"}, "", 403},
		{"mcp_transports_origin_absent_ok", nil, tok, 200},
		{"mcp_transports_origin_self_ok", map[string]string{"Origin": e.base}, tok, 200},
		{"mcp_transports_origin_configured_ok", map[string]string{"Origin": "http://LOCALHOST:6274"}, tok, 200},
		{"dns_rebinding_host_configured_ok", map[string]string{"Host": "mcp.example.test"}, tok, 200},
		{"dns_rebinding_host_localhost_ok", map[string]string{"Host": "localhost:" + port}, tok, 200},
		{"rfc6750_3.1_allowed_origin_without_token_401", map[string]string{"Origin": e.base}, "", 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			r := e.raw(rawReq{body: initBody, token: c.token, header: c.header})
			if r.status != c.want {
				t.Fatalf("status %d, want %d: %.200s", r.status, c.want, r.body)
			}
			if c.want == 403 {
				var msg struct {
					JSONRPC string               `json:"jsonrpc"`
					Error   struct{ Code int64 } `json:"error"`
				}
				if json.Unmarshal([]byte(r.body), &msg) != nil || msg.JSONRPC != "2.0" || msg.Error.Code == 0 {
					t.Fatalf("403 body is not a JSON-RPC error: %s", r.body)
				}
				if r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Mcp-Session-Id") != "" {
					t.Fatalf("refused request got CORS or session headers: %v", r.header)
				}
			}
		})
	}
	t.Run("mcp_transports_origin_foreign_preflight_403", func(t *testing.T) {
		e := e.with(t)
		r := e.raw(rawReq{method: http.MethodOptions, header: map[string]string{"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}})
		if r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%d %v", r.status, r.header)
		}
	})
	t.Run("prm_is_public_metadata", func(t *testing.T) {
		e := e.with(t)
		r := e.raw(rawReq{method: http.MethodGet, path: "/.well-known/oauth-protected-resource/mcp", header: map[string]string{"Origin": "http://evil.example"}})
		if r.status != 200 {
			t.Fatalf("%d", r.status)
		}
	})
}

// TestHostGuardOnLoopbackOnly checks the Host rule at the handler: it applies to requests that reached a
// loopback address only, and an empty Host is refused there.
func TestHostGuardOnLoopbackOnly(t *testing.T) {
	e := newEnv(t, envOptions{})
	h := e.mcpd.Handler()
	cases := []struct {
		name  string
		local string
		host  string
		want  int
	}{
		{"loopback_listener_foreign_host_403", "127.0.0.1:8000", "evil.example", 403},
		{"loopback_v6_listener_foreign_host_403", "[::1]:8000", "evil.example:8000", 403},
		{"loopback_listener_empty_host_403", "127.0.0.1:8000", "", 403},
		{"loopback_listener_lookalike_host_403", "127.0.0.1:8000", "127.0.0.1.evil.example", 403},
		{"public_listener_any_host_401", "192.0.2.1:8000", "mcp.example.com", 401},
		{"loopback_listener_resource_host_401", "127.0.0.1:8000", strings.TrimPrefix(e.base, "http://"), 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(initBody))
			req.Host = c.host
			addr, _ := net.ResolveTCPAddr("tcp", c.local)
			req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, addr))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
			}
		})
	}
}

// TestCORS: browser clients can preflight, and read the challenge, the session id and the DPoP nonce.
func TestCORS(t *testing.T) {
	origin := "http://localhost:6274"
	e := newEnv(t, envOptions{mcpd: &mcp.Options{AllowedOrigins: []string{origin}}})
	t.Run("fetch_cors_preflight", func(t *testing.T) {
		e := e.with(t)
		r := e.raw(rawReq{method: http.MethodOptions, header: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "authorization, dpop, mcp-protocol-version, mcp-session-id, content-type, mcp-param-region",
		}})
		if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("%d %v", r.status, r.header)
		}
		allowed := strings.ToLower(r.header.Get("Access-Control-Allow-Headers"))
		for _, h := range []string{"authorization", "dpop", "mcp-protocol-version", "mcp-session-id", "content-type", "mcp-param-region"} {
			if !strings.Contains(allowed, h) {
				t.Errorf("%s not allowed: %s", h, allowed)
			}
		}
		if r.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Error("credentials mode allowed")
		}
	})
	t.Run("fetch_cors_expose_challenge", func(t *testing.T) {
		e := e.with(t)
		r := e.raw(rawReq{body: initBody, header: map[string]string{"Origin": origin}})
		if r.status != 401 || r.header.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("%d %v", r.status, r.header)
		}
		exposed := r.header.Get("Access-Control-Expose-Headers")
		for _, h := range []string{"WWW-Authenticate", "Mcp-Session-Id", "DPoP-Nonce"} {
			if !strings.Contains(exposed, h) {
				t.Errorf("%s not exposed: %s", h, exposed)
			}
		}
	})
	t.Run("fetch_cors_session_readable", func(t *testing.T) {
		e := e.with(t)
		r := e.raw(rawReq{body: initBody, token: e.ccToken("svc-reporter", svcSecret, nil), header: map[string]string{"Origin": origin}})
		if r.status != 200 || r.header.Get("Mcp-Session-Id") == "" || r.header.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("%d %v", r.status, r.header)
		}
	})
}

// TestChallengesAndMetadata: the 401 that starts MCP authorization, and the metadata it points to.
func TestChallengesAndMetadata(t *testing.T) {
	e := newEnv(t, envOptions{beforeServe: addAdminTool, mcpd: &mcp.Options{ResourceName: "Test MCP"}})
	t.Run("rfc6750_3.1_no_token_401_without_error", func(t *testing.T) {
		e := e.with(t)
		r := e.raw(rawReq{body: initBody})
		ch := r.header.Get("WWW-Authenticate")
		if r.status != 401 || !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, "DPoP ") || strings.Contains(ch, "error=") {
			t.Fatalf("%d %q", r.status, ch)
		}
		if !strings.Contains(ch, `resource_metadata="`+e.base+`/.well-known/oauth-protected-resource/mcp"`) { // RFC 9728 §5.1
			t.Fatalf("challenge %q", ch)
		}
	})
	t.Run("rfc6750_3.1_bad_token_401_invalid_token", func(t *testing.T) {
		e := e.with(t)
		r := e.raw(rawReq{body: initBody, token: "not.a.token"})
		if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("%d %q", r.status, r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("rfc9449_7.2_bound_token_as_bearer_401", func(t *testing.T) {
		e := e.with(t)
		key, _ := dpop.GenerateKey(dpop.ES256)
		r := e.raw(rawReq{body: initBody, token: e.ccToken("svc-reporter", svcSecret, key)})
		if r.status != 401 {
			t.Fatalf("%d", r.status)
		}
	})
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		t.Run("rfc9728_3.1_metadata_at_"+path, func(t *testing.T) {
			e := e.with(t)
			r := e.raw(rawReq{method: http.MethodGet, path: path})
			var md struct {
				Resource string   `json:"resource"`
				AS       []string `json:"authorization_servers"`
				Scopes   []string `json:"scopes_supported"`
				Bearer   []string `json:"bearer_methods_supported"`
				DPoPAlgs []string `json:"dpop_signing_alg_values_supported"`
				Name     string   `json:"resource_name"`
			}
			if r.status != 200 || json.Unmarshal([]byte(r.body), &md) != nil {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if md.Resource != e.resource || !slices.Equal(md.AS, []string{e.issuer}) || md.Name != "Test MCP" ||
				!slices.Equal(md.Scopes, []string{"mcp:admin", "mcp:tools"}) || !slices.Contains(md.DPoPAlgs, "ES256") {
				t.Fatalf("%+v", md)
			}
			if r.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatal("metadata without CORS")
			}
		})
	}
	t.Run("not_found_elsewhere", func(t *testing.T) {
		e := e.with(t)
		for _, p := range []string{"/", "/mcp/", "/mcpx", "/.well-known/oauth-protected-resource/other"} {
			if r := e.raw(rawReq{method: http.MethodGet, path: p}); r.status != 404 {
				t.Errorf("%s: %d", p, r.status)
			}
		}
	})
}

// TestStepUpChallenge: a tools/call for a tool whose scope the token lacks is refused before it runs, with
// 403 insufficient_scope naming the tool's scopes; nothing else is.
func TestStepUpChallenge(t *testing.T) {
	var ran int
	e := newEnv(t, envOptions{beforeServe: func(s *mcp.Server) {
		addAdminTool(s)
		_ = s.AddTool(mcp.Tool{Name: "counted_admin", Policy: mcp.Policy{Scopes: []string{"mcp:admin"}},
			Handler: func(context.Context, *mcp.ToolCall) (*mcp.ToolResult, error) {
				ran++
				return mcp.TextResult("ran"), nil
			}})
		_ = s.AddTool(mcp.Tool{Name: "hidden_admin", Policy: mcp.Policy{Scopes: []string{"mcp:admin"}, Hidden: true},
			Handler: func(context.Context, *mcp.ToolCall) (*mcp.ToolResult, error) { return mcp.TextResult("never"), nil }})
		_ = s.AddTool(mcp.Tool{Name: "conn_admin", Policy: mcp.Policy{Scopes: []string{"mcp:admin"}, Connections: []string{"conn_other"}},
			Handler: func(context.Context, *mcp.ToolCall) (*mcp.ToolResult, error) { return mcp.TextResult("never"), nil }})
	}})
	key, _ := dpop.GenerateKey(dpop.ES256)
	plain := e.ccToken("svc-reporter", svcSecret, nil, "mcp:tools")
	bound := e.ccToken("svc-reporter", svcSecret, key, "mcp:tools")
	admin := e.ccToken("svc-reporter", svcSecret, nil, "mcp:tools", "mcp:admin")
	sPlain, sBound, sAdmin := e.session(plain, nil), e.session(bound, key), e.session(admin, nil)

	cases := []struct {
		name    string
		token   string
		key     *dpop.Key
		session string
		body    string
		status  int
		scope   string // expected scope= in the challenge
		scheme  string // challenge carrying the error
	}{
		{"rfc6750_3.1_insufficient_scope_bearer_403", plain, nil, sPlain, callBody("admin_tool"), 403, "mcp:tools mcp:admin", "Bearer"},
		{"rfc6750_3.1_insufficient_scope_dpop_403", bound, key, sBound, callBody("admin_tool"), 403, "mcp:tools mcp:admin", "DPoP"},
		{"rfc6750_3.1_insufficient_scope_before_the_call_403", plain, nil, sPlain, callBody("counted_admin"), 403, "mcp:admin", "Bearer"},
		{"rfc6750_3.1_insufficient_scope_stateless_403", plain, nil, "", `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"admin_tool","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, 403, "mcp:tools mcp:admin", "Bearer"},
		{"rfc6750_3.1_insufficient_scope_escaped_method_403", plain, nil, sPlain, `{"jsonrpc":"2.0","id":3,"method":"tools\/call","params":{"name":"admin_tool"}}`, 403, "mcp:tools mcp:admin", "Bearer"},
		{"hidden_tool_not_revealed_by_403", plain, nil, sPlain, callBody("hidden_admin"), 200, "", ""},
		{"missing_connection_not_revealed_by_403", plain, nil, sPlain, callBody("conn_admin"), 200, "", ""},
		{"unknown_tool_not_403", plain, nil, sPlain, callBody("no_such_tool"), 200, "", ""},
		{"tools_list_not_403", plain, nil, sPlain, listBody, 200, "", ""},
		{"scope_granted_200", admin, nil, sAdmin, callBody("admin_tool"), 200, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			version := "2025-11-25"
			if c.session == "" {
				version = "2026-07-28"
			}
			r := e.raw(rawReq{body: c.body, token: c.token, key: c.key, session: c.session, version: version})
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %.300s", r.status, c.status, r.body)
			}
			if c.status != 403 {
				if strings.Contains(r.body, "never") {
					t.Fatalf("a refused tool ran: %s", r.body)
				}
				return
			}
			ch := r.header.Get("WWW-Authenticate")
			i := strings.Index(ch, c.scheme+" ")
			if i < 0 || !strings.Contains(ch[i:], `error="insufficient_scope"`) || !strings.Contains(ch[i:], `scope="`+c.scope+`"`) ||
				!strings.Contains(ch, "resource_metadata=") {
				t.Fatalf("challenge %q", ch)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Fatal("no Cache-Control: no-store")
			}
		})
	}
	if ran != 0 {
		t.Fatalf("a tool ran %d times despite the missing scope", ran)
	}
	t.Run("batch_2025_03_26_403", func(t *testing.T) {
		e := e.with(t)
		batch := "[" + listBody + "," + callBody("admin_tool") + "]"
		r := e.raw(rawReq{body: batch, token: plain, session: sPlain, version: "2025-03-26"})
		if r.status != 403 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}

// TestSessionBinding: a session belongs to the issuer, subject and client that created it, not to a token.
func TestSessionBinding(t *testing.T) {
	e := newEnv(t, envOptions{})
	aliceTok := e.codeToken(demoClient, "alice", alicePW, nil, "mcp:tools")
	aliceTok2 := e.codeToken(demoClient, "alice", alicePW, nil, "mcp:tools") // another token, same subject and client
	aliceOther := e.codeToken("demo-cli-2", "alice", alicePW, nil, "mcp:tools")
	bobTok := e.codeToken(demoClient, "bob", bobPW, nil, "mcp:tools")
	svcTok := e.ccToken("svc-other", otherSecret, nil)
	key, _ := dpop.GenerateKey(dpop.ES256)
	aliceBound := e.codeToken(demoClient, "alice", alicePW, key, "mcp:tools")
	sid := e.session(aliceTok, nil)

	cases := []struct {
		name    string
		method  string
		token   string
		key     *dpop.Key
		session string
		body    string
		want    int
	}{
		{"hijack_other_subject_404", "POST", bobTok, nil, sid, listBody, 404},
		{"hijack_same_subject_other_client_404", "POST", aliceOther, nil, sid, listBody, 404},
		{"hijack_machine_client_404", "POST", svcTok, nil, sid, listBody, 404},
		{"hijack_get_stream_404", "GET", bobTok, nil, sid, "", 404},
		{"hijack_delete_404", "DELETE", bobTok, nil, sid, "", 404},
		{"hijack_without_token_401", "POST", "", nil, sid, listBody, 401},
		{"unknown_session_404", "POST", aliceTok, nil, "not-a-session", listBody, 404},
		{"same_caller_new_token_200", "POST", aliceTok2, nil, sid, listBody, 200},
		{"same_caller_dpop_token_200", "POST", aliceBound, key, sid, listBody, 200},
		{"owner_200", "POST", aliceTok, nil, sid, listBody, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			r := e.raw(rawReq{method: c.method, token: c.token, key: c.key, session: c.session, body: c.body, version: "2025-11-25"})
			if r.status != c.want {
				t.Fatalf("status %d, want %d: %.200s", r.status, c.want, r.body)
			}
			if c.want == 404 && strings.Contains(r.body, "whoami") {
				t.Fatal("a refused request got the session's data")
			}
		})
	}
	t.Run("deleted_session_404", func(t *testing.T) {
		e := e.with(t)
		if r := e.raw(rawReq{method: "DELETE", token: aliceTok, session: sid, version: "2025-11-25"}); r.status != 204 {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		if r := e.raw(rawReq{token: aliceTok, session: sid, body: listBody, version: "2025-11-25"}); r.status != 404 {
			t.Fatalf("after delete: %d", r.status)
		}
	})
}
