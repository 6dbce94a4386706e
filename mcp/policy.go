// https://www.rfc-editor.org/rfc/rfc6750#section-3.1

package mcp

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ddls/mcpauth/prm"
	"github.com/ddls/mcpauth/rs"
)

// Policy says who may see and use a tool, a prompt or a resource. The zero value lets any caller with a valid
// token for this resource see and use it.
type Policy struct {
	// Scopes must all be granted by the access token. A caller missing one does not see the item; calling
	// a tool anyway is refused with 403 insufficient_scope naming Scopes (RFC 6750 §3.1, step-up).
	Scopes []string
	// Connections must all be in the token's ddls:connections claim. A caller missing one neither sees nor
	// may use the item.
	Connections []string
	// Hidden items are never listed and cannot be used, whoever asks.
	Hidden bool
}

// validate checks the scope and connection names.
func (p Policy) validate() error {
	for _, s := range p.Scopes {
		if !prm.ValidScope(s) {
			return fmt.Errorf("scope %q is not an RFC 6749 §3.3 scope-token", s)
		}
	}
	for _, c := range p.Connections {
		if c == "" || strings.ContainsAny(c, " \t\r\n") {
			return fmt.Errorf("connection %q is not a connection id", c)
		}
	}
	return nil
}

func (p Policy) clone() Policy {
	return Policy{Scopes: slices.Clone(p.Scopes), Connections: slices.Clone(p.Connections), Hidden: p.Hidden}
}

// decision is the outcome of a policy check for one caller.
type decision int

const (
	allowed   decision = iota
	hidden             // not visible: hidden, or a connection is missing
	needScope          // visible only with more scopes: step-up
)

// check decides for caller p (nil: no token, nothing but unrestricted items).
func (pol *Policy) check(p *rs.Principal) decision {
	if pol.Hidden {
		return hidden
	}
	for _, c := range pol.Connections {
		if p == nil || !slices.Contains(p.Connections, c) {
			return hidden
		}
	}
	for _, s := range pol.Scopes {
		if p == nil || !p.HasScope(s) {
			return needScope
		}
	}
	return allowed
}

// registry holds the policies of everything the server exposes, by the name callers see.
type registry struct {
	mu        sync.RWMutex
	tools     map[string]Policy
	prompts   map[string]Policy
	resources map[string]Policy // by URI
	templates []templatePolicy  // resource templates, matched by their literal prefix
	fallback  Policy            // for names registered with the SDK server but not here
}

type templatePolicy struct {
	template, prefix string
	policy           Policy
}

func newRegistry(fallback Policy) *registry {
	return &registry{tools: map[string]Policy{}, prompts: map[string]Policy{}, resources: map[string]Policy{}, fallback: fallback}
}

func (r *registry) tool(name string) Policy {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if p, ok := r.tools[name]; ok {
		return p
	}
	return r.fallback
}

func (r *registry) prompt(name string) Policy {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if p, ok := r.prompts[name]; ok {
		return p
	}
	return r.fallback
}

// resource returns the policy of a resource URI: its own, or that of the longest matching template.
func (r *registry) resource(uri string) Policy {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if p, ok := r.resources[uri]; ok {
		return p
	}
	best := -1
	for i, t := range r.templates {
		if strings.HasPrefix(uri, t.prefix) && (best < 0 || len(t.prefix) > len(r.templates[best].prefix)) {
			best = i
		}
	}
	if best >= 0 {
		return r.templates[best].policy
	}
	return r.fallback
}

func (r *registry) template(tmpl string) Policy {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, t := range r.templates {
		if t.template == tmpl {
			return t.policy
		}
	}
	return r.fallback
}

func (r *registry) setTool(name string, p Policy) {
	r.mu.Lock()
	r.tools[name] = p
	r.mu.Unlock()
}

func (r *registry) setPrompt(name string, p Policy) {
	r.mu.Lock()
	r.prompts[name] = p
	r.mu.Unlock()
}

func (r *registry) setResource(uri string, p Policy) {
	r.mu.Lock()
	r.resources[uri] = p
	r.mu.Unlock()
}

func (r *registry) setTemplate(tmpl string, p Policy) {
	prefix, _, _ := strings.Cut(tmpl, "{")
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.templates {
		if r.templates[i].template == tmpl {
			r.templates[i].policy = p
			return
		}
	}
	r.templates = append(r.templates, templatePolicy{template: tmpl, prefix: prefix, policy: p})
}

func (r *registry) remove(tools, prompts, resources, templates []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range tools {
		delete(r.tools, n)
	}
	for _, n := range prompts {
		delete(r.prompts, n)
	}
	for _, n := range resources {
		delete(r.resources, n)
	}
	r.templates = slices.DeleteFunc(r.templates, func(t templatePolicy) bool { return slices.Contains(templates, t.template) })
}

// scopes returns every scope a policy names, sorted: the resource's scopes_supported (RFC 9728 §2).
func (r *registry) scopes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	add := func(p Policy) {
		if !p.Hidden {
			out = append(out, p.Scopes...)
		}
	}
	add(r.fallback)
	for _, m := range []map[string]Policy{r.tools, r.prompts, r.resources} {
		for _, p := range m {
			add(p)
		}
	}
	for _, t := range r.templates {
		add(t.policy)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
