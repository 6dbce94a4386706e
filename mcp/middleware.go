package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ddls/mcpauth/rs"
)

type jsonrpcError = jsonrpc.Error

// receive is the SDK receiving middleware that runs the chain for the methods it covers.
func (s *Server) receive(next sdk.MethodHandler) sdk.MethodHandler {
	return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
		switch method {
		case MethodToolsList, MethodToolsCall, MethodPromptsList, MethodPromptsGet,
			MethodResourcesList, MethodResourcesRead, MethodResourceTemplatesList:
		default:
			return next(ctx, method, req)
		}
		p := principalOf(req)
		r := &Request{Method: method, Caller: p, sdkReq: req, next: next}
		switch params := req.GetParams().(type) {
		case *sdk.CallToolParamsRaw:
			r.Name, r.Arguments = params.Name, params.Arguments
		case *sdk.GetPromptParams:
			r.Name = params.Name
			if params.Arguments != nil {
				r.Arguments, _ = json.Marshal(params.Arguments)
			}
		case *sdk.ReadResourceParams:
			r.Name = params.URI
		}
		r.origName, r.origArgs = r.Name, r.Arguments
		if ss, ok := req.GetSession().(*sdk.ServerSession); ok && ss != nil {
			r.SessionID = ss.ID()
		}
		if p != nil {
			// The SDK's context may be the one of the request that created the session: the caller of this
			// request is the one in its own TokenInfo.
			ctx = rs.ContextWithPrincipal(ctx, p)
		}
		res, err := s.chain(ctx, r)
		if err != nil {
			wire, internal := toWire(err)
			if internal {
				s.log.ErrorContext(ctx, "mcp: middleware error", "method", method, "name", r.origName, "err", err)
			}
			return nil, wire
		}
		if res == nil {
			s.log.ErrorContext(ctx, "mcp: middleware returned no result", "method", method, "name", r.origName)
			return nil, &jsonrpcError{Code: CodeInternalError, Message: "internal error"}
		}
		v, err := res.sdkResult(method)
		if err != nil {
			s.log.ErrorContext(ctx, "mcp: bad result from middleware", "method", method, "name", r.origName, "err", err)
			return nil, &jsonrpcError{Code: CodeInternalError, Message: "internal error"}
		}
		return v, nil
	}
}

// logging writes one line per request: who, what, how long, and how it ended. Arguments and results are
// not logged (they may hold personal data); neither is the token.
func (s *Server) logging(next Handler) Handler {
	return func(ctx context.Context, r *Request) (*Result, error) {
		if !s.log.Enabled(ctx, slog.LevelInfo) {
			return next(ctx, r)
		}
		start := time.Now()
		res, err := next(ctx, r)
		outcome := "ok"
		attrs := make([]slog.Attr, 0, 9)
		attrs = append(attrs, slog.String("method", r.Method))
		if r.origName != "" {
			attrs = append(attrs, slog.String("name", truncate(r.origName, 200)))
		}
		if r.Caller != nil {
			attrs = append(attrs, slog.String("sub", r.Caller.Subject), slog.String("client_id", r.Caller.ClientID))
		}
		if r.SessionID != "" {
			attrs = append(attrs, slog.String("session", r.SessionID))
		}
		switch {
		case err != nil:
			outcome = "error"
			wire, _ := toWire(err)
			var we *jsonrpcError
			if errors.As(wire, &we) {
				attrs = append(attrs, slog.Int64("code", we.Code))
			}
		case res.IsError():
			outcome = "tool_error"
		}
		attrs = append(attrs, slog.String("outcome", outcome), slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000))
		s.log.LogAttrs(ctx, slog.LevelInfo, "mcp request", attrs...)
		return res, err
	}
}

// policy enforces the registry: a caller uses only what its token allows and lists only what it may use.
func (s *Server) policy(next Handler) Handler {
	return func(ctx context.Context, r *Request) (*Result, error) {
		switch r.Method {
		case MethodToolsCall:
			pol := s.reg.tool(r.origName)
			switch pol.check(r.Caller) {
			case hidden:
				// As the SDK answers for a tool that does not exist: a hidden tool is not revealed.
				return nil, &Error{Code: CodeInvalidParams, Message: fmt.Sprintf("unknown tool %q", r.origName)}
			case needScope:
				// The HTTP layer answers this with a 403 step-up challenge; this is the fallback for requests it
				// cannot answer so (a JSON-RPC batch).
				return nil, insufficientScope(pol.Scopes)
			}
		case MethodPromptsGet:
			pol := s.reg.prompt(r.origName)
			switch pol.check(r.Caller) {
			case hidden:
				return nil, &Error{Code: CodeInvalidParams, Message: fmt.Sprintf("unknown prompt %q", r.origName)}
			case needScope:
				return nil, insufficientScope(pol.Scopes)
			}
		case MethodResourcesRead:
			pol := s.reg.resource(r.origName)
			switch pol.check(r.Caller) {
			case hidden:
				return nil, &Error{Code: sdk.CodeResourceNotFound, Message: "Resource not found", Data: resourceData(r.origName)}
			case needScope:
				return nil, insufficientScope(pol.Scopes)
			}
		}
		res, err := next(ctx, r)
		if err != nil || res == nil {
			return res, err
		}
		switch r.Method {
		case MethodToolsList:
			err = filterList(res, func(t *sdk.ListToolsResult) {
				t.Tools = keep(t.Tools, func(x *sdk.Tool) bool { return s.may(s.reg.tool(x.Name), r) })
			})
		case MethodPromptsList:
			err = filterList(res, func(t *sdk.ListPromptsResult) {
				t.Prompts = keep(t.Prompts, func(x *sdk.Prompt) bool { return s.may(s.reg.prompt(x.Name), r) })
			})
		case MethodResourcesList:
			err = filterList(res, func(t *sdk.ListResourcesResult) {
				t.Resources = keep(t.Resources, func(x *sdk.Resource) bool { return s.may(s.reg.resource(x.URI), r) })
			})
		case MethodResourceTemplatesList:
			err = filterList(res, func(t *sdk.ListResourceTemplatesResult) {
				t.ResourceTemplates = keep(t.ResourceTemplates, func(x *sdk.ResourceTemplate) bool { return s.may(s.reg.template(x.URITemplate), r) })
			})
		}
		if err != nil {
			return nil, err
		}
		return res, nil
	}
}

func (s *Server) may(p Policy, r *Request) bool { return p.check(r.Caller) == allowed }

func insufficientScope(scopes []string) *Error {
	data, _ := json.Marshal(map[string]string{"error": rs.CodeInsufficientScope, "scope": strings.Join(scopes, " ")})
	return &Error{Code: CodeForbidden, Message: "insufficient_scope: the access token lacks scope " + strings.Join(scopes, " "), Data: data}
}

func resourceData(uri string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"uri": uri})
	return b
}

// keep returns the elements of in for which ok is true, in a new slice (the SDK's slices are shared).
func keep[T any](in []T, ok func(T) bool) []T {
	out := make([]T, 0, len(in))
	for _, x := range in {
		if ok(x) {
			out = append(out, x)
		}
	}
	return out
}

// filterList filters a list result. The policy middleware sits right above the SDK, so the result is the
// SDK's value; it is copied (shallowly: the items are shared) before filtering.
func filterList[T any](res *Result, typed func(*T)) error {
	v, ok := any(res.v).(*T)
	if !ok || res.raw != nil {
		return fmt.Errorf("mcp: policy: unexpected %T result", res.v)
	}
	c := *v
	typed(&c)
	r, ok := any(&c).(sdk.Result)
	if !ok {
		return fmt.Errorf("mcp: policy: %T is not a result", &c)
	}
	res.v = r
	return nil
}

// Describe returns middleware that replaces the descriptions of tools in tools/list, by the name clients see
// (metadata rewriting).
func Describe(descriptions map[string]string) Middleware {
	d := make(map[string]string, len(descriptions))
	for k, v := range descriptions {
		d[k] = v
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, r *Request) (*Result, error) {
			res, err := next(ctx, r)
			if err != nil || res == nil || r.Method != MethodToolsList {
				return res, err
			}
			if v, ok := res.v.(*sdk.ListToolsResult); ok && res.raw == nil {
				c := *v
				c.Tools = make([]*sdk.Tool, len(v.Tools))
				for i, t := range v.Tools {
					if desc, ok := d[t.Name]; ok {
						tc := *t
						tc.Description = desc
						t = &tc
					}
					c.Tools[i] = t
				}
				res.v = &c
				return res, nil
			}
			var m map[string]any
			if err := res.Decode(&m); err != nil {
				return nil, err
			}
			tools, _ := m["tools"].([]any)
			for _, t := range tools {
				if tm, ok := t.(map[string]any); ok {
					if name, _ := tm["name"].(string); name != "" {
						if desc, ok := d[name]; ok {
							tm["description"] = desc
						}
					}
				}
			}
			return res, res.Replace(m)
		}
	}
}

// TransformArguments returns middleware that rewrites the arguments of calls to one tool (by the name
// clients see) before they reach it. f receives the arguments object (or nil) and returns the new one; an
// error refuses the call (return an *Error to choose the JSON-RPC error).
func TransformArguments(tool string, f func(ctx context.Context, args json.RawMessage) (json.RawMessage, error)) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, r *Request) (*Result, error) {
			if r.Method == MethodToolsCall && r.Name == tool {
				args, err := f(ctx, r.Arguments)
				if err != nil {
					return nil, err
				}
				r.Arguments = args
			}
			return next(ctx, r)
		}
	}
}

// TransformResult returns middleware that rewrites the results of calls to one tool (by the name clients
// see), with res.Decode and res.Replace. An error becomes the call's JSON-RPC error.
func TransformResult(tool string, f func(ctx context.Context, req *Request, res *Result) error) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, r *Request) (*Result, error) {
			name := r.Name
			res, err := next(ctx, r)
			if err != nil || res == nil || r.Method != MethodToolsCall || name != tool {
				return res, err
			}
			if err := f(ctx, r, res); err != nil {
				return nil, err
			}
			return res, nil
		}
	}
}

// truncate bounds attacker-chosen strings in log lines.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
