package mcp

import (
	"context"
	"fmt"
	"github.com/ddls/mcpauth/internal/yamlconf"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ddls/mcpauth/prm"
)

// cdecoder walks the yaml.Node tree by hand, so that every unknown key, wrong type and duplicate key is
// reported with its line (yaml's KnownFields stops at the first).
type cdecoder struct {
	file  string
	env   func(string) (string, bool)
	probs []ConfigProblem
}

func (d *cdecoder) problem(line int, path, format string, args ...any) {
	d.probs = append(d.probs, ConfigProblem{File: d.file, Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (d *cdecoder) err() error {
	if len(d.probs) == 0 {
		return nil
	}
	sort.SliceStable(d.probs, func(i, j int) bool { return d.probs[i].Line < d.probs[j].Line })
	return &ConfigError{Problems: d.probs}
}

func (d *cdecoder) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, tail
			}
		}
	}
	d.problem(line, "", "invalid YAML: %s", msg)
}

type cfields map[string]func(v *yaml.Node, path string)

func cjoin(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isNullNode(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func (d *cdecoder) usable(n *yaml.Node, path string) bool {
	if n.Kind == yaml.AliasNode {
		d.problem(n.Line, path, "YAML aliases are not supported")
		return false
	}
	return true
}

func (d *cdecoder) mapping(n *yaml.Node, path, what string, fs cfields) {
	if !d.usable(n, path) || isNullNode(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.problem(n.Line, path, "must be a mapping (%s)", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			d.problem(k.Line, path, "keys must be plain strings")
			continue
		}
		p := cjoin(path, k.Value)
		if seen[k.Value] {
			d.problem(k.Line, p, "duplicate key")
			continue
		}
		seen[k.Value] = true
		set, ok := fs[k.Value]
		if !ok {
			d.problem(k.Line, p, "unknown key%s", suggestKey(k.Value, fs))
			continue
		}
		set(v, p)
	}
}

// entries calls f for every key of a mapping whose keys are names (tools, env, headers).
func (d *cdecoder) entries(n *yaml.Node, path, what string, f func(key string, line int, v *yaml.Node, path string)) {
	if !d.usable(n, path) || isNullNode(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.problem(n.Line, path, "must be a mapping (%s)", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			d.problem(k.Line, path, "keys must be plain strings")
			continue
		}
		p := cjoin(path, k.Value)
		if seen[k.Value] {
			d.problem(k.Line, p, "duplicate key")
			continue
		}
		seen[k.Value] = true
		f(k.Value, k.Line, v, p)
	}
}

// suggestKey names the closest known key when the unknown one looks like a typo, else lists them all.
func suggestKey(key string, fs cfields) string {
	known := make([]string, 0, len(fs))
	for name := range fs {
		known = append(known, name)
	}
	return yamlconf.SuggestKey(key, known)
}

func (d *cdecoder) list(n *yaml.Node, path string, item func(n *yaml.Node, path string)) {
	if !d.usable(n, path) || isNullNode(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.problem(n.Line, path, "must be a list")
		return
	}
	for i, it := range n.Content {
		item(it, fmt.Sprintf("%s[%d]", path, i))
	}
}

func (d *cdecoder) str(n *yaml.Node, path string) string {
	if !d.usable(n, path) || isNullNode(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode || !strings.HasPrefix(n.ShortTag(), "!!") || n.ShortTag() == "!!binary" {
		d.problem(n.Line, path, "must be a string")
		return ""
	}
	return n.Value
}

// strs reads a list of strings; a present key always gives a non-nil slice (an empty list means none).
func (d *cdecoder) strs(n *yaml.Node, path string) []string {
	out := []string{}
	d.list(n, path, func(n *yaml.Node, p string) { out = append(out, d.str(n, p)) })
	return out
}

func (d *cdecoder) boolean(n *yaml.Node, path string) bool {
	if !d.usable(n, path) || isNullNode(n) {
		return false
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		d.problem(n.Line, path, "must be true or false")
		return false
	}
	return b
}

func (d *cdecoder) duration(n *yaml.Node, path string) time.Duration {
	if !d.usable(n, path) || isNullNode(n) {
		return 0
	}
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" || err != nil || v <= 0 || v > 24*time.Hour {
		d.problem(n.Line, path, "must be a duration with a unit between 1ms and 24h, like 30s or 10m")
		return 0
	}
	return v
}

// expand replaces ${NAME} with the variable's value. A value that is not found is a problem; the message
// names the variable, never a value.
func (d *cdecoder) expand(n *yaml.Node, path, s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			d.problem(n.Line, path, "unterminated ${ (write ${NAME})")
			return ""
		}
		name := s[i+2 : i+j]
		if !isEnvName(name) {
			d.problem(n.Line, path, "%q is not an environment variable name", truncate(name, 64))
			return ""
		}
		v, ok := d.env(name)
		if !ok {
			d.problem(n.Line, path, "environment variable %s is not set", name)
			return ""
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+1:]
	}
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func (d *cdecoder) config(n *yaml.Node, c *Config) {
	d.mapping(n, "", "the mcpd configuration", cfields{
		"name":                   func(v *yaml.Node, p string) { c.ServerName = d.str(v, p) },
		"instructions":           func(v *yaml.Node, p string) { c.Instructions = d.str(v, p) },
		"resource_name":          func(v *yaml.Node, p string) { c.ResourceName = d.str(v, p) },
		"resource_documentation": func(v *yaml.Node, p string) { c.ResourceDocumentation = d.url(v, p, false) },
		"allowed_origins": func(v *yaml.Node, p string) {
			d.list(v, p, func(n *yaml.Node, p string) {
				o := d.str(n, p)
				if _, err := canonicalOrigin(o); err != nil {
					d.problem(n.Line, p, "%v", err)
					return
				}
				c.AllowedOrigins = append(c.AllowedOrigins, o)
			})
		},
		"allowed_hosts": func(v *yaml.Node, p string) {
			d.list(v, p, func(n *yaml.Node, p string) {
				h := d.str(n, p)
				if h == "" || strings.ContainsAny(h, "/ @?#") {
					d.problem(n.Line, p, "must be a host or host:port")
					return
				}
				c.AllowedHosts = append(c.AllowedHosts, h)
			})
		},
		"scopes_supported": func(v *yaml.Node, p string) { c.ScopesSupported = d.scopes(v, p) },
		"session_timeout":  func(v *yaml.Node, p string) { c.SessionTimeout = d.duration(v, p) },
		"require_dpop":     func(v *yaml.Node, p string) { c.RequireDPoP = d.boolean(v, p) },
		"tools": func(v *yaml.Node, p string) {
			d.entries(v, p, "tool name: {scopes, connections, hidden}", func(name string, line int, v *yaml.Node, p string) {
				if err := validToolName(name); err != nil {
					d.problem(line, p, "%v", err)
				}
				var pol Policy
				d.mapping(v, p, "a tool policy: {scopes, connections, hidden}", cfields{
					"scopes":      func(v *yaml.Node, p string) { pol.Scopes = d.scopes(v, p) },
					"connections": func(v *yaml.Node, p string) { pol.Connections = d.connections(v, p) },
					"hidden":      func(v *yaml.Node, p string) { pol.Hidden = d.boolean(v, p) },
				})
				c.Tools[name] = pol
			})
		},
		"upstreams": func(v *yaml.Node, p string) {
			seen := map[string]bool{}
			d.list(v, p, func(n *yaml.Node, p string) {
				u, ok := d.upstream(n, p)
				if !ok {
					return
				}
				if seen[u.Name] {
					d.problem(n.Line, p+".name", "duplicate upstream name %q", u.Name)
					return
				}
				seen[u.Name] = true
				c.Upstreams = append(c.Upstreams, u)
			})
		},
	})
}

func (d *cdecoder) scopes(n *yaml.Node, path string) []string {
	out := []string{}
	d.list(n, path, func(n *yaml.Node, p string) {
		s := d.str(n, p)
		if !prm.ValidScope(s) {
			d.problem(n.Line, p, "%q is not a scope-token (RFC 6749 §3.3)", truncate(s, 64))
			return
		}
		out = append(out, s)
	})
	return out
}

func (d *cdecoder) connections(n *yaml.Node, path string) []string {
	out := []string{}
	d.list(n, path, func(n *yaml.Node, p string) {
		s := d.str(n, p)
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			d.problem(n.Line, p, "must be a connection id")
			return
		}
		out = append(out, s)
	})
	return out
}

func (d *cdecoder) url(n *yaml.Node, path string, httpOnly bool) string {
	s := d.str(n, path)
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || (httpOnly && u.Scheme != "http" && u.Scheme != "https") {
		d.problem(n.Line, path, "must be an absolute http(s) URL")
		return ""
	}
	if u.User != nil {
		d.problem(n.Line, path, "must not contain user info (put credentials in headers)")
		return ""
	}
	return s
}

type clientCreds struct {
	tokenURL, clientID, clientSecret, resource string
	scopes                                     []string
}

func (d *cdecoder) upstream(n *yaml.Node, path string) (Upstream, bool) {
	var u Upstream
	var cc *clientCreds
	scopesSet := false
	before := len(d.probs)
	d.mapping(n, path, "an upstream", cfields{
		"name":      func(v *yaml.Node, p string) { u.Name = d.str(v, p) },
		"prefix":    func(v *yaml.Node, p string) { u.Prefix = d.str(v, p) },
		"no_prefix": func(v *yaml.Node, p string) { u.NoPrefix = d.boolean(v, p) },
		"command":   func(v *yaml.Node, p string) { u.Command = d.str(v, p) },
		"args":      func(v *yaml.Node, p string) { u.Args = d.strs(v, p) },
		"dir":       func(v *yaml.Node, p string) { u.Dir = d.str(v, p) },
		"env": func(v *yaml.Node, p string) {
			u.Env = map[string]string{}
			d.entries(v, p, "NAME: value", func(k string, line int, v *yaml.Node, p string) {
				if !isEnvName(k) {
					d.problem(line, p, "%q is not an environment variable name", truncate(k, 64))
					return
				}
				u.Env[k] = d.expand(v, p, d.str(v, p))
			})
		},
		"url": func(v *yaml.Node, p string) { u.URL = d.url(v, p, true) },
		"headers": func(v *yaml.Node, p string) {
			u.Header = http.Header{}
			d.entries(v, p, "Header-Name: value", func(k string, line int, v *yaml.Node, p string) {
				if !isToken(k) {
					d.problem(line, p, "%q is not a header name", truncate(k, 64))
					return
				}
				val := d.expand(v, p, d.str(v, p))
				if strings.ContainsAny(val, "\r\n\x00") {
					d.problem(v.Line, p, "header values cannot contain line breaks")
					return
				}
				u.Header.Set(k, val)
			})
		},
		"client_credentials": func(v *yaml.Node, p string) {
			cc = &clientCreds{}
			d.mapping(v, p, "client credentials: {token_url, client_id, client_secret, scopes, resource}", cfields{
				"token_url":     func(v *yaml.Node, p string) { cc.tokenURL = d.url(v, p, true) },
				"client_id":     func(v *yaml.Node, p string) { cc.clientID = d.expand(v, p, d.str(v, p)) },
				"client_secret": func(v *yaml.Node, p string) { cc.clientSecret = d.expand(v, p, d.str(v, p)) },
				"scopes":        func(v *yaml.Node, p string) { cc.scopes = d.scopes(v, p) },
				"resource":      func(v *yaml.Node, p string) { cc.resource = d.url(v, p, true) },
			})
			if cc.tokenURL == "" || cc.clientID == "" {
				d.problem(v.Line, p, "token_url and client_id are required")
			}
		},
		"scopes": func(v *yaml.Node, p string) {
			u.Policy.Scopes = d.scopes(v, p)
			scopesSet = true
		},
		"connections": func(v *yaml.Node, p string) { u.Policy.Connections = d.connections(v, p) },
		"hidden":      func(v *yaml.Node, p string) { u.Policy.Hidden = d.boolean(v, p) },
		"timeout":     func(v *yaml.Node, p string) { u.Timeout = d.duration(v, p) },
		"tools": func(v *yaml.Node, p string) {
			u.Tools = map[string]ToolOverride{}
			d.entries(v, p, "upstream tool name: {scopes, connections, hidden, description}", func(name string, _ int, v *yaml.Node, p string) {
				var o ToolOverride
				d.mapping(v, p, "a tool override: {scopes, connections, hidden, description}", cfields{
					"scopes":      func(v *yaml.Node, p string) { o.Scopes = d.scopes(v, p) },
					"connections": func(v *yaml.Node, p string) { o.Connections = d.connections(v, p) },
					"hidden":      func(v *yaml.Node, p string) { o.Hidden = d.boolean(v, p) },
					"description": func(v *yaml.Node, p string) { o.Description = d.str(v, p) },
				})
				u.Tools[name] = o
			})
		},
	})
	if !scopesSet {
		// An upstream's tools need the default scope unless the file says otherwise (scopes: [] for none).
		u.Policy.Scopes = []string{DefaultScope}
	}
	if cc != nil {
		if u.URL == "" {
			d.problem(n.Line, path+".client_credentials", "client credentials are for HTTP upstreams (url)")
		} else if cc.tokenURL != "" && cc.clientID != "" {
			u.Token = clientCredentialsToken(cc)
		}
	}
	if len(d.probs) > before {
		return u, false
	}
	if err := u.validate(); err != nil {
		d.problem(n.Line, path, "%s", strings.TrimPrefix(err.Error(), "mcp: "))
		return u, false
	}
	return u, true
}

// clientCredentialsToken gets (and renews) the gateway's own token for an upstream with the client
// credentials grant (RFC 6749 §4.4), with an RFC 8707 resource when configured.
func clientCredentialsToken(cc *clientCreds) func(context.Context) (string, error) {
	conf := &clientcredentials.Config{ClientID: cc.clientID, ClientSecret: cc.clientSecret, TokenURL: cc.tokenURL, Scopes: cc.scopes}
	if cc.resource != "" {
		conf.EndpointParams = url.Values{"resource": {cc.resource}}
	}
	ts := conf.TokenSource(context.Background())
	return func(context.Context) (string, error) {
		t, err := ts.Token()
		if err != nil {
			return "", err
		}
		return t.AccessToken, nil
	}
}
