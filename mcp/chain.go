// https://www.jsonrpc.org/specification#error_object

package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ddls/mcpauth/rs"
)

// MCP methods the middleware chain sees. Other methods (initialize, ping, notifications, completion, ...)
// go straight to the SDK.
const (
	MethodToolsList             = "tools/list"
	MethodToolsCall             = "tools/call"
	MethodPromptsList           = "prompts/list"
	MethodPromptsGet            = "prompts/get"
	MethodResourcesList         = "resources/list"
	MethodResourcesRead         = "resources/read"
	MethodResourceTemplatesList = "resources/templates/list"
)

// Request is one MCP request on its way through the middleware chain.
type Request struct {
	// Method is one of the Method… constants.
	Method string
	// Name is the tool (tools/call) or prompt (prompts/get) name, or the resource URI (resources/read), as
	// the client sent it; empty for list methods. A middleware may change it (e.g. to route to another
	// tool); policy is checked on the name the client sent.
	Name string
	// Arguments are the arguments of tools/call and prompts/get, a JSON object or nil. A middleware may
	// replace them (argument transforms); prompts/get arguments must stay an object of strings.
	Arguments json.RawMessage
	// Caller is who is asking, as the access token says. Never nil behind Server.Handler. Read-only.
	Caller *rs.Principal
	// SessionID is the MCP session id, or "" for protocol versions without sessions.
	SessionID string

	sdkReq   sdk.Request
	next     sdk.MethodHandler
	origName string
	origArgs json.RawMessage
}

// Result is the result of a Request. A middleware reads it with Decode and replaces it with Replace; a
// Result it never touches goes back to the client without being re-encoded.
type Result struct {
	v   sdk.Result      // the SDK's value, when not replaced
	raw json.RawMessage // the JSON form, once computed or replaced
}

// NewResult returns a Result holding v encoded as JSON: a middleware answering a request itself (a cache, a
// canned reply) returns one. v must encode to the JSON result object of the request's method.
func NewResult(v any) (*Result, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("mcp: result: %w", err)
	}
	return &Result{raw: b}, nil
}

// JSON returns the result object as JSON.
func (r *Result) JSON() (json.RawMessage, error) {
	if r.raw == nil {
		if r.v == nil {
			return json.RawMessage("{}"), nil
		}
		b, err := json.Marshal(r.v)
		if err != nil {
			return nil, fmt.Errorf("mcp: result: %w", err)
		}
		r.raw = b
	}
	return r.raw, nil
}

// Decode unmarshals the result object into v, e.g. a struct with the fields of a tools/call result.
func (r *Result) Decode(v any) error {
	b, err := r.JSON()
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Replace sets the result to v encoded as JSON (result transforms, metadata rewriting). It must encode to
// the result object of the request's method.
func (r *Result) Replace(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("mcp: result: %w", err)
	}
	r.raw, r.v = b, nil
	return nil
}

// IsError reports whether a tools/call result says the tool failed (isError), which is an outcome, not a
// protocol error.
func (r *Result) IsError() bool {
	if r == nil {
		return false
	}
	if c, ok := r.v.(*sdk.CallToolResult); ok && r.raw == nil {
		return c.IsError
	}
	var v struct {
		IsError bool `json:"isError"`
	}
	_ = r.Decode(&v)
	return v.IsError
}

// sdkResult returns the result as the SDK type of method.
func (r *Result) sdkResult(method string) (sdk.Result, error) {
	if r.raw == nil {
		return r.v, nil
	}
	var v sdk.Result
	switch method {
	case MethodToolsList:
		v = new(sdk.ListToolsResult)
	case MethodToolsCall:
		v = new(sdk.CallToolResult)
	case MethodPromptsList:
		v = new(sdk.ListPromptsResult)
	case MethodPromptsGet:
		v = new(sdk.GetPromptResult)
	case MethodResourcesList:
		v = new(sdk.ListResourcesResult)
	case MethodResourcesRead:
		v = new(sdk.ReadResourceResult)
	case MethodResourceTemplatesList:
		v = new(sdk.ListResourceTemplatesResult)
	default:
		return nil, fmt.Errorf("mcp: no result type for %s", method)
	}
	if err := json.Unmarshal(r.raw, v); err != nil {
		return nil, fmt.Errorf("mcp: result of %s: %w", method, err)
	}
	return v, nil
}

// Handler serves an MCP request.
type Handler func(ctx context.Context, req *Request) (*Result, error)

// Middleware wraps a Handler, like rs middleware wraps an http.Handler: logging, policy, metadata
// rewriting, argument and result transforms. It may answer without calling next, change the request before
// and the result after.
type Middleware func(next Handler) Handler

// Chain composes middleware so that the first is outermost: Chain(a, b)(h) is a(b(h)).
func Chain(ms ...Middleware) Middleware {
	return func(h Handler) Handler {
		for i := len(ms) - 1; i >= 0; i-- {
			if ms[i] != nil {
				h = ms[i](h)
			}
		}
		return h
	}
}

// Error is a JSON-RPC error (JSON-RPC 2.0 §5.1) that a middleware or a tool returns to refuse a request; the
// client receives Code, Message and Data. Any other error a middleware returns reaches the client as
// -32603 "internal error" and is logged.
type Error struct {
	Code    int64
	Message string
	Data    json.RawMessage
}

func (e *Error) Error() string { return fmt.Sprintf("mcp: JSON-RPC error %d: %s", e.Code, e.Message) }

// JSON-RPC error codes (JSON-RPC 2.0 §5.1) and mcpd's own, in the implementation-defined server range.
const (
	CodeInvalidParams = -32602
	CodeInternalError = -32603
	// CodeUpstreamUnavailable: a gateway upstream is down, restarting, or did not answer in time.
	CodeUpstreamUnavailable = -32001
	// CodeForbidden: the caller's token lacks a scope or connection this request needs and no HTTP
	// challenge could be sent (inside a batch, or a method other than tools/call).
	CodeForbidden = -32003
)

// sdkError marks an error coming from the SDK's own handler, passed back unchanged.
type sdkError struct{ err error }

func (e *sdkError) Error() string { return e.err.Error() }
func (e *sdkError) Unwrap() error { return e.err }

// terminal is the end of the chain: it hands the (possibly changed) request to the SDK.
func terminal(ctx context.Context, r *Request) (*Result, error) {
	if r.Name != r.origName || !bytesEqual(r.Arguments, r.origArgs) {
		if err := r.writeBack(); err != nil {
			return nil, err
		}
	}
	v, err := r.next(ctx, r.Method, r.sdkReq)
	if err != nil {
		return nil, &sdkError{err}
	}
	return &Result{v: v}, nil
}

// writeBack puts a changed Name and Arguments into the SDK request.
func (r *Request) writeBack() error {
	switch p := r.sdkReq.GetParams().(type) {
	case *sdk.CallToolParamsRaw:
		p.Name, p.Arguments = r.Name, r.Arguments
	case *sdk.GetPromptParams:
		p.Name = r.Name
		p.Arguments = nil
		if len(r.Arguments) > 0 && string(r.Arguments) != "null" {
			if err := json.Unmarshal(r.Arguments, &p.Arguments); err != nil {
				return &Error{Code: CodeInvalidParams, Message: "prompt arguments must be an object of strings"}
			}
		}
	case *sdk.ReadResourceParams:
		p.URI = r.Name
	}
	return nil
}

func bytesEqual(a, b json.RawMessage) bool { return string(a) == string(b) }

// toWire turns an error from the chain into what the SDK sends: SDK errors unchanged, *Error as a JSON-RPC
// error, anything else as an internal error (the detail is logged by the caller, never sent).
func toWire(err error) (wire error, internal bool) {
	var se *sdkError
	if errors.As(err, &se) {
		return se.err, false
	}
	var e *Error
	if errors.As(err, &e) {
		return &jsonrpcError{Code: e.Code, Message: e.Message, Data: e.Data}, false
	}
	return &jsonrpcError{Code: CodeInternalError, Message: "internal error"}, true
}
