package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// claim reserves a name (kind "tool", "prompt", "resource", "template") for owner; it fails when another
// owner (the server itself, another upstream) has it.
func (s *Server) claim(kind, name, owner string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owners == nil {
		s.owners = map[string]string{}
	}
	k := kind + "\x00" + name
	if o, ok := s.owners[k]; ok && o != owner {
		return false
	}
	s.owners[k] = owner
	return true
}

func (s *Server) release(kind, owner string, names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		k := kind + "\x00" + n
		if s.owners[k] == owner {
			delete(s.owners, k)
		}
	}
}

// policyFor returns the policy of one upstream tool.
func (u *upstream) policyFor(tool string) Policy {
	p := u.cfg.Policy.clone()
	if o, ok := u.cfg.Tools[tool]; ok {
		if o.Scopes != nil {
			p.Scopes = append([]string(nil), o.Scopes...)
		}
		if o.Connections != nil {
			p.Connections = append([]string(nil), o.Connections...)
		}
		p.Hidden = p.Hidden || o.Hidden
	}
	return p
}

func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func fingerprint(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// sync mirrors what the upstream offers now. A listing that fails leaves the previous one in place.
func (u *upstream) sync(ctx context.Context, cs *sdk.ClientSession) error {
	var caps *sdk.ServerCapabilities
	if ir := cs.InitializeResult(); ir != nil {
		caps = ir.Capabilities
	}
	if caps == nil {
		caps = &sdk.ServerCapabilities{}
	}
	lctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	var errs []error
	if caps.Tools != nil {
		if tools, err := collect(cs.Tools(lctx, nil)); err != nil {
			errs = append(errs, fmt.Errorf("tools/list: %w", err))
		} else {
			u.syncTools(tools)
		}
	}
	if caps.Prompts != nil {
		if prompts, err := collect(cs.Prompts(lctx, nil)); err != nil {
			errs = append(errs, fmt.Errorf("prompts/list: %w", err))
		} else {
			u.syncPrompts(prompts)
		}
	}
	if caps.Resources != nil {
		if res, err := collect(cs.Resources(lctx, nil)); err != nil {
			errs = append(errs, fmt.Errorf("resources/list: %w", err))
		} else {
			u.syncResources(res)
		}
		if tmpls, err := collect(cs.ResourceTemplates(lctx, nil)); err != nil {
			errs = append(errs, fmt.Errorf("resources/templates/list: %w", err))
		} else {
			u.syncTemplates(tmpls)
		}
	}
	return errors.Join(errs...)
}

func (u *upstream) syncTools(tools []*sdk.Tool) {
	s, owner := u.s, u.cfg.Name
	want := map[string]*sdk.Tool{}
	for _, t := range tools {
		if t == nil || u.policyFor(t.Name).Hidden {
			continue
		}
		exposed := u.prefix + t.Name
		if err := validToolName(exposed); err != nil {
			u.log.Warn("mcp: upstream tool skipped", "tool", truncate(t.Name, 200), "err", err)
			continue
		}
		tc := *t
		tc.Name = exposed
		if d := u.cfg.Tools[t.Name].Description; d != "" {
			tc.Description = d
		}
		want[exposed] = &tc
	}
	u.mu.Lock()
	stale := staleKeys(u.tools, want)
	u.mu.Unlock()
	if len(stale) > 0 {
		s.sdk.RemoveTools(stale...)
		s.reg.remove(stale, nil, nil, nil)
		s.release("tool", owner, stale...)
		u.mu.Lock()
		forget(u, "tool", u.tools, stale)
		u.mu.Unlock()
	}
	for exposed, tc := range want {
		orig := tc.Name[len(u.prefix):]
		fp := fingerprint(tc)
		if u.unchanged("tool", exposed, fp) {
			continue
		}
		if !s.claim("tool", exposed, owner) {
			u.log.Warn("mcp: upstream tool skipped: the name is taken", "tool", exposed)
			continue
		}
		if err := checkSchemas(tc); err != nil {
			u.log.Warn("mcp: upstream tool skipped", "tool", exposed, "err", err)
			s.release("tool", owner, exposed)
			continue
		}
		s.reg.setTool(exposed, u.policyFor(orig))
		if err := addSDKTool(s.sdk, tc, u.toolHandler(orig)); err != nil {
			u.log.Warn("mcp: upstream tool skipped", "tool", exposed, "err", err)
			s.reg.remove([]string{exposed}, nil, nil, nil)
			s.release("tool", owner, exposed)
			continue
		}
		u.mu.Lock()
		u.tools[exposed] = orig
		u.fps["tool\x00"+exposed] = fp
		u.mu.Unlock()
	}
}

func (u *upstream) syncPrompts(prompts []*sdk.Prompt) {
	s, owner := u.s, u.cfg.Name
	want := map[string]*sdk.Prompt{}
	if !u.cfg.Policy.Hidden {
		for _, p := range prompts {
			if p == nil || p.Name == "" {
				continue
			}
			pc := *p
			pc.Name = u.prefix + p.Name
			want[pc.Name] = &pc
		}
	}
	u.mu.Lock()
	stale := staleKeys(u.prompts, want)
	forget(u, "prompt", u.prompts, stale)
	u.mu.Unlock()
	if len(stale) > 0 {
		s.sdk.RemovePrompts(stale...)
		s.reg.remove(nil, stale, nil, nil)
		s.release("prompt", owner, stale...)
	}
	for exposed, pc := range want {
		orig := pc.Name[len(u.prefix):]
		fp := fingerprint(pc)
		if u.unchanged("prompt", exposed, fp) {
			continue
		}
		if !s.claim("prompt", exposed, owner) {
			u.log.Warn("mcp: upstream prompt skipped: the name is taken", "prompt", truncate(exposed, 200))
			continue
		}
		s.reg.setPrompt(exposed, u.cfg.Policy.clone())
		s.sdk.AddPrompt(pc, u.promptHandler(orig))
		u.mu.Lock()
		u.prompts[exposed] = orig
		u.fps["prompt\x00"+exposed] = fp
		u.mu.Unlock()
	}
}

func (u *upstream) syncResources(res []*sdk.Resource) {
	s, owner := u.s, u.cfg.Name
	want := map[string]*sdk.Resource{}
	if !u.cfg.Policy.Hidden {
		for _, r := range res {
			if r == nil || r.URI == "" {
				continue
			}
			rc := *r
			rc.Name = u.prefix + r.Name
			want[rc.URI] = &rc
		}
	}
	u.mu.Lock()
	stale := staleKeys(u.resources, want)
	forget(u, "resource", u.resources, stale)
	u.mu.Unlock()
	if len(stale) > 0 {
		s.sdk.RemoveResources(stale...)
		s.reg.remove(nil, nil, stale, nil)
		s.release("resource", owner, stale...)
	}
	for uri, rc := range want {
		fp := fingerprint(rc)
		if u.unchanged("resource", uri, fp) {
			continue
		}
		if !s.claim("resource", uri, owner) {
			u.log.Warn("mcp: upstream resource skipped: the URI is taken", "uri", truncate(uri, 200))
			continue
		}
		s.reg.setResource(uri, u.cfg.Policy.clone())
		if err := guard(func() { s.sdk.AddResource(rc, u.readHandler()) }); err != nil {
			u.log.Warn("mcp: upstream resource skipped", "uri", truncate(uri, 200), "err", err)
			s.reg.remove(nil, nil, []string{uri}, nil)
			s.release("resource", owner, uri)
			continue
		}
		u.mu.Lock()
		u.resources[uri] = true
		u.fps["resource\x00"+uri] = fp
		u.mu.Unlock()
	}
}

func (u *upstream) syncTemplates(tmpls []*sdk.ResourceTemplate) {
	s, owner := u.s, u.cfg.Name
	want := map[string]*sdk.ResourceTemplate{}
	if !u.cfg.Policy.Hidden {
		for _, t := range tmpls {
			if t == nil || t.URITemplate == "" {
				continue
			}
			tc := *t
			tc.Name = u.prefix + t.Name
			want[tc.URITemplate] = &tc
		}
	}
	u.mu.Lock()
	stale := staleKeys(u.templates, want)
	forget(u, "template", u.templates, stale)
	u.mu.Unlock()
	if len(stale) > 0 {
		s.sdk.RemoveResourceTemplates(stale...)
		s.reg.remove(nil, nil, nil, stale)
		s.release("template", owner, stale...)
	}
	for tmpl, tc := range want {
		fp := fingerprint(tc)
		if u.unchanged("template", tmpl, fp) {
			continue
		}
		if !s.claim("template", tmpl, owner) {
			u.log.Warn("mcp: upstream resource template skipped: it is taken", "template", truncate(tmpl, 200))
			continue
		}
		s.reg.setTemplate(tmpl, u.cfg.Policy.clone())
		if err := guard(func() { s.sdk.AddResourceTemplate(tc, u.readHandler()) }); err != nil {
			u.log.Warn("mcp: upstream resource template skipped", "template", truncate(tmpl, 200), "err", err)
			s.reg.remove(nil, nil, nil, []string{tmpl})
			s.release("template", owner, tmpl)
			continue
		}
		u.mu.Lock()
		u.templates[tmpl] = true
		u.fps["template\x00"+tmpl] = fp
		u.mu.Unlock()
	}
}

// guard runs f, turning a panic of the SDK (invalid template, schema) into an error.
// staleKeys returns the names mirrored so far (have) that the upstream no longer lists (want).
func staleKeys[H, W any](have map[string]H, want map[string]W) []string {
	var stale []string
	for name := range have {
		if _, ok := want[name]; !ok {
			stale = append(stale, name)
		}
	}
	return stale
}

// forget drops names of kind from have and their fingerprints. The caller holds u.mu.
func forget[H any](u *upstream, kind string, have map[string]H, names []string) {
	for _, n := range names {
		delete(have, n)
		delete(u.fps, kind+"\x00"+n)
	}
}

// unchanged reports whether name of kind is mirrored already with fingerprint fp.
func (u *upstream) unchanged(kind, name, fp string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.fps[kind+"\x00"+name] == fp
}

func guard(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}

// unregisterAll removes everything the upstream exposes (at shutdown).
func (u *upstream) unregisterAll() {
	s, owner := u.s, u.cfg.Name
	u.mu.Lock()
	var tools, prompts, resources, templates []string
	for n := range u.tools {
		tools = append(tools, n)
	}
	for n := range u.prompts {
		prompts = append(prompts, n)
	}
	for n := range u.resources {
		resources = append(resources, n)
	}
	for n := range u.templates {
		templates = append(templates, n)
	}
	clear(u.tools)
	clear(u.prompts)
	clear(u.resources)
	clear(u.templates)
	clear(u.fps)
	u.connected, u.session = false, nil
	u.mu.Unlock()
	s.sdk.RemoveTools(tools...)
	s.sdk.RemovePrompts(prompts...)
	s.sdk.RemoveResources(resources...)
	s.sdk.RemoveResourceTemplates(templates...)
	s.reg.remove(tools, prompts, resources, templates)
	s.release("tool", owner, tools...)
	s.release("prompt", owner, prompts...)
	s.release("resource", owner, resources...)
	s.release("template", owner, templates...)
}

func (u *upstream) toolHandler(orig string) sdk.ToolHandler {
	return func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		cs, conn := u.current()
		if cs == nil {
			return nil, u.unavailable()
		}
		cctx, cancel := u.callContext(ctx, conn)
		defer cancel()
		params := &sdk.CallToolParams{Name: orig}
		if len(req.Params.Arguments) > 0 {
			params.Arguments = req.Params.Arguments
		}
		res, err := cs.CallTool(cctx, params)
		if err != nil {
			return nil, u.wireError(ctx, "tools/call", err)
		}
		return res, nil
	}
}

func (u *upstream) promptHandler(orig string) sdk.PromptHandler {
	return func(ctx context.Context, req *sdk.GetPromptRequest) (*sdk.GetPromptResult, error) {
		cs, conn := u.current()
		if cs == nil {
			return nil, u.unavailable()
		}
		cctx, cancel := u.callContext(ctx, conn)
		defer cancel()
		res, err := cs.GetPrompt(cctx, &sdk.GetPromptParams{Name: orig, Arguments: req.Params.Arguments})
		if err != nil {
			return nil, u.wireError(ctx, "prompts/get", err)
		}
		return res, nil
	}
}

func (u *upstream) readHandler() sdk.ResourceHandler {
	return func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
		cs, conn := u.current()
		if cs == nil {
			return nil, u.unavailable()
		}
		cctx, cancel := u.callContext(ctx, conn)
		defer cancel()
		res, err := cs.ReadResource(cctx, &sdk.ReadResourceParams{URI: req.Params.URI})
		if err != nil {
			return nil, u.wireError(ctx, "resources/read", err)
		}
		return res, nil
	}
}
