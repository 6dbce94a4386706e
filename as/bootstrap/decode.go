package bootstrap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ddls/mcpauth/internal/yamlconf"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds the bootstrap file. Real files are a few kilobytes.
const MaxFileSize = 4 << 20

// Load reads and parses the bootstrap file at path; see Parse.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a bootstrap file (YAML or JSON). name is used in problem reports. On failure
// the error is an *Error listing every problem found.
func Parse(name string, data []byte) (*File, error) {
	f := &File{Name: name, lines: map[string]int{}}
	ps := &problems{file: name, lines: f.lines, bad: map[string]bool{}}
	if len(data) > MaxFileSize {
		ps.addLine(0, "", "file is larger than %d bytes", MaxFileSize)
		return nil, ps.err()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil // an empty file declares nothing
		}
		yamlProblem(ps, err)
		return nil, ps.err()
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		yamlProblem(ps, err)
	default:
		ps.addLine(next.Line, "", "only one YAML document is allowed")
	}
	if len(doc.Content) > 0 {
		d := decoder{ps: ps}
		d.file(doc.Content[0], f)
	}
	f.validate(ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// yamlProblem turns a yaml.v3 syntax error ("yaml: line 3: did not find expected key") into a Problem.
func yamlProblem(ps *problems, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, tail
			}
		}
	}
	ps.addLine(line, "", "invalid YAML: %s", msg)
}

// decoder walks the yaml.Node tree by hand: it reports every unknown key, wrong type and duplicate key with
// its line, instead of stopping at the first as yaml's KnownFields does.
type decoder struct {
	ps *problems
}

type fields map[string]func(v *yaml.Node, path string)

func join(path, key string) string {
	if key == "" {
		return path
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// fail records a decoding problem at n and marks path, so validation does not report it a second time.
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.ps.bad[path] = true
	d.ps.addLine(n.Line, path, format, args...)
}

// usable reports whether n is something other than an alias; aliases are refused so that no amount of
// expansion work can hide in a small file.
func (d *decoder) usable(n *yaml.Node, path string) bool {
	if n.Kind == yaml.AliasNode {
		d.fail(n, path, "YAML aliases are not supported")
		return false
	}
	return true
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func (d *decoder) mapping(n *yaml.Node, path, what string, fs fields) {
	if !d.usable(n, path) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping (%s)", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "keys must be plain strings")
			continue
		}
		p := join(path, k.Value)
		d.ps.lines[p] = k.Line
		if seen[k.Value] {
			d.fail(k, p, "duplicate key")
			continue
		}
		seen[k.Value] = true
		set, ok := fs[k.Value]
		if !ok {
			d.fail(k, p, "unknown key%s", suggest(k.Value, fs))
			continue
		}
		set(v, p)
	}
}

// suggest names the closest known key when the unknown one looks like a typo.
func suggest(key string, fs fields) string {
	names := make([]string, 0, len(fs))
	for name := range fs {
		names = append(names, name)
	}
	return yamlconf.SuggestKey(key, names)
}

// list calls item for every element of a sequence; null is an empty list.
func (d *decoder) list(n *yaml.Node, path string, item func(n *yaml.Node, path string)) {
	if !d.usable(n, path) || isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "must be a list")
		return
	}
	for i, it := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.ps.lines[p] = it.Line
		item(it, p)
	}
}

// str reads a scalar as written (so `0x1F` stays "0x1F"); null is "".
func (d *decoder) str(n *yaml.Node, path string) string {
	if !d.usable(n, path) || isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "must be a string")
		return ""
	}
	if !strings.HasPrefix(n.ShortTag(), "!!") || n.ShortTag() == "!!binary" {
		d.fail(n, path, "must be a plain string, not a %s value", n.ShortTag())
		return ""
	}
	return n.Value
}

func (d *decoder) strs(n *yaml.Node, path string) []string {
	var out []string
	d.list(n, path, func(n *yaml.Node, p string) { out = append(out, d.str(n, p)) })
	return out
}

func (d *decoder) boolean(n *yaml.Node, path string) bool {
	if !d.usable(n, path) || isNull(n) {
		return false
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		d.fail(n, path, "must be true or false")
		return false
	}
	return b
}

func (d *decoder) duration(n *yaml.Node, path string) time.Duration {
	if !d.usable(n, path) || isNull(n) {
		return 0
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.fail(n, path, "must be a duration with a unit, like 10m or 1h30m")
		return 0
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		d.fail(n, path, "must be a duration with a unit, like 10m or 1h30m")
		return 0
	}
	return v
}

// jwks reads an inline JWK Set and returns it as JSON.
func (d *decoder) jwks(n *yaml.Node, path string) []byte {
	if !d.usable(n, path) || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a JWK Set object (a mapping with a keys list)")
		return nil
	}
	ok := true
	var walk func(*yaml.Node)
	walk = func(m *yaml.Node) {
		if m.Kind == yaml.AliasNode {
			ok = false
			return
		}
		for _, c := range m.Content {
			walk(c)
		}
	}
	walk(n)
	if !ok {
		d.fail(n, path, "YAML aliases are not supported")
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "keys" && n.Content[i+1].Kind == yaml.SequenceNode {
			for j, k := range n.Content[i+1].Content {
				d.ps.lines[fmt.Sprintf("%s.keys[%d]", path, j)] = k.Line
			}
		}
	}
	var v any
	if err := n.Decode(&v); err != nil {
		d.fail(n, path, "must be a JWK Set object: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		d.fail(n, path, "must be a JSON-compatible JWK Set object (string keys, no special values)")
		return nil
	}
	return b
}

func (d *decoder) file(n *yaml.Node, f *File) {
	if isNull(n) {
		return
	}
	d.mapping(n, "", "the bootstrap file", fields{
		"resources": func(v *yaml.Node, p string) {
			d.list(v, p, func(n *yaml.Node, p string) { f.Resources = append(f.Resources, d.resource(n, p)) })
		},
		"organizations": func(v *yaml.Node, p string) {
			d.list(v, p, func(n *yaml.Node, p string) { f.Organizations = append(f.Organizations, d.organization(n, p)) })
		},
		"users": func(v *yaml.Node, p string) {
			d.list(v, p, func(n *yaml.Node, p string) { f.Users = append(f.Users, d.user(n, p)) })
		},
		"clients": func(v *yaml.Node, p string) {
			d.list(v, p, func(n *yaml.Node, p string) { f.Clients = append(f.Clients, d.client(n, p)) })
		},
	})
}

func (d *decoder) resource(n *yaml.Node, path string) Resource {
	var r Resource
	d.mapping(n, path, "a resource", fields{
		"uri":  func(v *yaml.Node, p string) { r.URI = d.str(v, p) },
		"name": func(v *yaml.Node, p string) { r.Name = d.str(v, p) },
		"scopes": func(v *yaml.Node, p string) {
			d.list(v, p, func(n *yaml.Node, p string) {
				var s Scope
				d.mapping(n, p, "a scope: {name: …, default: true|false}", fields{
					"name":    func(v *yaml.Node, p string) { s.Name = d.str(v, p) },
					"default": func(v *yaml.Node, p string) { s.Default = d.boolean(v, p) },
				})
				r.Scopes = append(r.Scopes, s)
			})
		},
		"require_dpop":     func(v *yaml.Node, p string) { r.RequireDPoP = d.boolean(v, p) },
		"access_token_ttl": func(v *yaml.Node, p string) { r.AccessTokenTTL = d.duration(v, p) },
	})
	return r
}

func (d *decoder) organization(n *yaml.Node, path string) Organization {
	var o Organization
	d.mapping(n, path, "an organization", fields{
		"id":   func(v *yaml.Node, p string) { o.ID = d.str(v, p) },
		"name": func(v *yaml.Node, p string) { o.Name = d.str(v, p) },
		"connections": func(v *yaml.Node, p string) {
			d.list(v, p, func(n *yaml.Node, p string) {
				var c Connection
				d.mapping(n, p, "a connection", fields{
					"id":        func(v *yaml.Node, p string) { c.ID = d.str(v, p) },
					"name":      func(v *yaml.Node, p string) { c.Name = d.str(v, p) },
					"kind":      func(v *yaml.Node, p string) { c.Kind = d.str(v, p) },
					"resources": func(v *yaml.Node, p string) { c.Resources = d.strs(v, p) },
					"contract":  func(v *yaml.Node, p string) { c.Contract = d.strs(v, p) },
				})
				o.Connections = append(o.Connections, c)
			})
		},
	})
	return o
}

func (d *decoder) user(n *yaml.Node, path string) User {
	var u User
	d.mapping(n, path, "a user", fields{
		"username":      func(v *yaml.Node, p string) { u.Username = d.str(v, p) },
		"password":      func(v *yaml.Node, p string) { u.Password = Secret(d.str(v, p)) },
		"password_hash": func(v *yaml.Node, p string) { u.PasswordHash = d.str(v, p) },
		"organizations": func(v *yaml.Node, p string) {
			d.list(v, p, func(n *yaml.Node, p string) {
				var m Membership
				d.mapping(n, p, "a membership: {id: org_…, role: admin|member}", fields{
					"id":   func(v *yaml.Node, p string) { m.ID = d.str(v, p) },
					"role": func(v *yaml.Node, p string) { m.Role = d.str(v, p) },
				})
				u.Organizations = append(u.Organizations, m)
			})
		},
	})
	return u
}

func (d *decoder) client(n *yaml.Node, path string) Client {
	var c Client
	d.mapping(n, path, "a client", fields{
		"client_id":                  func(v *yaml.Node, p string) { c.ClientID = d.str(v, p) },
		"client_name":                func(v *yaml.Node, p string) { c.ClientName = d.str(v, p) },
		"public":                     func(v *yaml.Node, p string) { c.Public = d.boolean(v, p) },
		"client_secret":              func(v *yaml.Node, p string) { c.ClientSecret = Secret(d.str(v, p)) },
		"client_secret_hash":         func(v *yaml.Node, p string) { c.ClientSecretHash = d.str(v, p) },
		"token_endpoint_auth_method": func(v *yaml.Node, p string) { c.TokenEndpointAuthMethod = d.str(v, p) },
		"redirect_uris":              func(v *yaml.Node, p string) { c.RedirectURIs = d.strs(v, p) },
		"grant_types":                func(v *yaml.Node, p string) { c.GrantTypes = d.strs(v, p) },
		"resources":                  func(v *yaml.Node, p string) { c.Resources = d.strs(v, p) },
		"scopes":                     func(v *yaml.Node, p string) { c.Scopes = d.strs(v, p) },
		"organization":               func(v *yaml.Node, p string) { c.Organization = d.str(v, p) },
		"connections":                func(v *yaml.Node, p string) { c.Connections = d.strs(v, p) },
		"jwks":                       func(v *yaml.Node, p string) { c.JWKS = d.jwks(v, p) },
		"jwks_uri":                   func(v *yaml.Node, p string) { c.JWKSURI = d.str(v, p) },
		"dpop_bound_access_tokens":   func(v *yaml.Node, p string) { c.DPoPBoundAccessTokens = d.boolean(v, p) },
	})
	return c
}
