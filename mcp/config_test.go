package mcp_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ddls/mcpauth/mcp"
)

func testEnv(name string) (string, bool) {
	v, ok := map[string]string{"USER_NAME": "alice", "REMOTE_KEY": "k-1", "REMOTE_SECRET": "s-1"}[name]
	return v, ok
}

func TestParseConfigFull(t *testing.T) {
	data, err := os.ReadFile("testdata/mcpd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := mcp.ParseConfig("testdata/mcpd.yaml", data, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.ServerName != "mcpd-demo" || c.SessionTimeout != 20*time.Minute || c.RequireDPoP || c.ResourceName != "Demo MCP server" ||
		!slices.Equal(c.AllowedOrigins, []string{"http://localhost:6274"}) || !slices.Equal(c.AllowedHosts, []string{"mcp.internal:8000"}) {
		t.Fatalf("%+v", c)
	}
	if p := c.Tools["whoami"]; !slices.Equal(p.Scopes, []string{"mcp:tools"}) {
		t.Fatalf("whoami policy %+v", p)
	}
	if len(c.Upstreams) != 2 {
		t.Fatalf("%d upstreams", len(c.Upstreams))
	}
	ev, rm := c.Upstreams[0], c.Upstreams[1]
	if ev.Command != "node_modules/.bin/mcp-server-everything" || ev.Env["GREETING"] != "hello alice" || ev.Timeout != 30*time.Second ||
		!slices.Equal(ev.Policy.Scopes, []string{mcp.DefaultScope}) || !ev.Tools["get-env"].Hidden ||
		ev.Tools["get-sum"].Description != "Adds two numbers (admins only)." || ev.Tools["echo"].Scopes != nil ||
		!slices.Equal(ev.Tools["echo"].Connections, []string{"conn_github"}) {
		t.Fatalf("everything %+v", ev)
	}
	if rm.Prefix != "rm." || rm.URL != "https://mcp.example.com/mcp" || rm.Header.Get("X-Api-Key") != "k-1" || rm.Token == nil ||
		rm.Policy.Scopes == nil || len(rm.Policy.Scopes) != 0 || !slices.Equal(rm.Policy.Connections, []string{"conn_github"}) {
		t.Fatalf("remote %+v", rm)
	}
	o := c.Options()
	if o.Name != "mcpd-demo" || o.SessionTimeout != 20*time.Minute {
		t.Fatalf("options %+v", o)
	}
}

func TestParseConfigEmpty(t *testing.T) {
	for _, data := range []string{"", "# nothing\n", "{}"} {
		c, err := mcp.ParseConfig("empty.yaml", []byte(data), nil)
		if err != nil || len(c.Upstreams) != 0 {
			t.Fatalf("%q: %v %+v", data, err, c)
		}
	}
}

// TestParseConfigProblems: every mistake is reported as file:line: path: problem, all at once.
func TestParseConfigProblems(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings of the error, in order
	}{
		{"yaml_syntax", "upstreams: [\n", []string{"c.yaml:1: invalid YAML"}},
		{"unknown_top_key", "name: x\nupstream: []\n", []string{"c.yaml:2: upstream: unknown key"}},
		{"duplicate_key", "name: x\nname: y\n", []string{"c.yaml:2: name: duplicate key"}},
		{"two_documents", "name: x\n---\nname: y\n", []string{"only one YAML document"}},
		{"alias", "a: &x [mcp:tools]\n", []string{"unknown key (known keys: allowed_hosts"}},
		{"alias_value", "scopes_supported: &s [mcp:tools]\ntools:\n  whoami: {scopes: *s}\n", []string{"c.yaml:3: tools.whoami.scopes: YAML aliases are not supported"}},
		{"bad_scope", "tools:\n  whoami: {scopes: [\"mcp tools\"]}\n", []string{"c.yaml:2: tools.whoami.scopes[0]", "scope-token"}},
		{"bad_tool_name", "tools:\n  \"who ami\": {}\n", []string{"c.yaml:2: tools.who ami"}},
		{"bad_origin", "allowed_origins: [\"http://x.example/path\"]\n", []string{"c.yaml:1: allowed_origins[0]", "not an origin"}},
		{"bad_host", "allowed_hosts: [\"http://x\"]\n", []string{"allowed_hosts[0]: must be a host"}},
		{"bad_duration", "session_timeout: 10\n", []string{"c.yaml:1: session_timeout: must be a duration"}},
		{"negative_duration", "session_timeout: -1s\n", []string{"session_timeout: must be a duration"}},
		{"bool_as_string", "require_dpop: \"yes\"\n", []string{"require_dpop: must be true or false"}},
		{"list_as_string", "scopes_supported: mcp:tools\n", []string{"scopes_supported: must be a list"}},
		{"upstream_without_transport", "upstreams:\n  - name: a\n", []string{"c.yaml:2: upstreams[0]", "command (stdio) or a url"}},
		{"upstream_both_transports", "upstreams:\n  - {name: a, command: x, url: \"http://x\"}\n", []string{"not both"}},
		{"upstream_bad_name", "upstreams:\n  - {name: \"A B\", command: x}\n", []string{"upstream name"}},
		{"upstream_duplicate_name", "upstreams:\n  - {name: a, command: x}\n  - {name: a, command: y}\n", []string{"c.yaml:3: upstreams[1].name: duplicate upstream name"}},
		{"upstream_url_scheme", "upstreams:\n  - {name: a, url: \"ftp://x\"}\n", []string{"upstreams[0].url: must be an absolute http(s) URL"}},
		{"upstream_url_userinfo", "upstreams:\n  - {name: a, url: \"https://u:p@x\"}\n", []string{"must not contain user info"}},
		{"upstream_headers_on_stdio", "upstreams:\n  - {name: a, command: x, headers: {X-A: b}}\n", []string{"header and token are for HTTP upstreams"}},
		{"upstream_bad_header_name", "upstreams:\n  - {name: a, url: \"https://x\", headers: {\"X A\": b}}\n", []string{"not a header name"}},
		{"upstream_unset_variable", "upstreams:\n  - {name: a, url: \"https://x\", headers: {X-A: \"${NOPE}\"}}\n", []string{"environment variable NOPE is not set"}},
		{"upstream_bad_variable", "upstreams:\n  - {name: a, command: x, env: {A: \"${1X}\"}}\n", []string{"not an environment variable name"}},
		{"upstream_unterminated_variable", "upstreams:\n  - {name: a, command: x, env: {A: \"${X\"}}\n", []string{"unterminated"}},
		{"upstream_bad_env_name", "upstreams:\n  - {name: a, command: x, env: {\"A-B\": c}}\n", []string{"not an environment variable name"}},
		{"upstream_cc_without_url", "upstreams:\n  - {name: a, command: x, client_credentials: {token_url: \"https://t\", client_id: c}}\n", []string{"client credentials are for HTTP upstreams"}},
		{"upstream_cc_missing_fields", "upstreams:\n  - {name: a, url: \"https://x\", client_credentials: {client_id: c}}\n", []string{"token_url and client_id are required"}},
		{"upstream_prefix_and_no_prefix", "upstreams:\n  - {name: a, command: x, prefix: p_, no_prefix: true}\n", []string{"contradict"}},
		{"upstream_bad_prefix", "upstreams:\n  - {name: a, command: x, prefix: \"p/\"}\n", []string{"prefix"}},
		{"upstream_tool_unknown_key", "upstreams:\n  - name: a\n    command: x\n    tools:\n      echo: {scope: [mcp:tools]}\n", []string{"c.yaml:5: upstreams[0].tools.echo.scope: unknown key"}},
		{"upstream_bad_connection", "upstreams:\n  - {name: a, command: x, connections: [\"\"]}\n", []string{"must be a connection id"}},
		{"several_problems", "name: [x]\nsession_timeout: soon\nbogus: 1\n", []string{"c.yaml:1: name: must be a string", "c.yaml:2: session_timeout", "c.yaml:3: bogus: unknown key"}},
		{"not_a_mapping", "- a\n- b\n", []string{"must be a mapping"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := mcp.ParseConfig("c.yaml", []byte(c.yaml), testEnv)
			var ce *mcp.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want a *ConfigError, got %v", err)
			}
			msg := err.Error()
			at := 0
			for _, w := range c.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("%q not found (in order) in:\n%s", w, msg)
				}
				at += i + len(w)
			}
			if strings.Contains(msg, "k-1") || strings.Contains(msg, "s-1") {
				t.Fatal("a secret in an error")
			}
		})
	}
}

func TestParseConfigTooLarge(t *testing.T) {
	_, err := mcp.ParseConfig("big.yaml", make([]byte, mcp.MaxConfigSize+1), nil)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatal(err)
	}
}

func TestConfigApply(t *testing.T) {
	c, err := mcp.ParseConfig("c.yaml", []byte("tools:\n  whoami: {scopes: [mcp:admin]}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{beforeServe: func(s *mcp.Server) {
		if err := c.Apply(s); err != nil {
			t.Fatal(err)
		}
	}})
	r := e.raw(rawReq{method: http.MethodGet, path: "/.well-known/oauth-protected-resource"})
	var md struct {
		Scopes []string `json:"scopes_supported"`
	}
	if json.Unmarshal([]byte(r.body), &md) != nil || !slices.Equal(md.Scopes, []string{"mcp:admin"}) {
		t.Fatalf("metadata %s", r.body)
	}
	tok := e.ccToken("svc-reporter", svcSecret, nil, "mcp:tools")
	if r := e.raw(rawReq{body: callBody("whoami"), token: tok, version: "2026-07-28"}); r.status != 403 {
		t.Fatalf("whoami without mcp:admin: %d", r.status)
	}
}

func FuzzParseConfig(f *testing.F) {
	data, _ := os.ReadFile("testdata/mcpd.yaml")
	f.Add(data)
	f.Add([]byte("upstreams:\n  - {name: a, command: x}\n"))
	f.Add([]byte("tools: {whoami: {scopes: [a], connections: [b], hidden: true}}"))
	f.Add([]byte(`{"upstreams":[{"name":"a","url":"https://x","headers":{"X":"${REMOTE_KEY}"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := mcp.ParseConfig("f.yaml", data, testEnv)
		if err != nil {
			var ce *mcp.ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error is not a *ConfigError with problems: %v", err)
			}
			return
		}
		for _, u := range c.Upstreams {
			if u.Name == "" || (u.Command == "") == (u.URL == "") {
				t.Fatalf("invalid upstream accepted: %+v", u)
			}
		}
	})
}
