package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ddls/mcpauth/rs"
)

// Tool is a tool the server serves itself.
type Tool struct {
	// Name is what clients call it (MCP tool names: 1 to 128 of A-Z a-z 0-9 _ - .).
	Name, Title, Description string
	// InputSchema is the JSON Schema of the arguments, an object schema; nil means any object.
	InputSchema json.RawMessage
	// OutputSchema, if set, is the JSON Schema of the structured content.
	OutputSchema json.RawMessage
	// Policy says who may list and call the tool.
	Policy Policy
	// Handler runs the tool. Required.
	Handler ToolHandler
}

// ToolHandler runs a tool call. An *Error it returns is sent as a JSON-RPC error; any other error becomes a
// result with isError set and the error's text (MCP tools, "Error Handling": tool execution errors are
// reported in the result, so that the model can see them).
type ToolHandler func(ctx context.Context, call *ToolCall) (*ToolResult, error)

// ToolCall is one call of a Tool.
type ToolCall struct {
	Name string
	// Arguments is the arguments object as the client sent it (after argument transforms), or nil.
	Arguments json.RawMessage
	// Caller is who is calling, as the access token says. Read-only.
	Caller    *rs.Principal
	SessionID string
}

// ToolResult is what a tool returns.
type ToolResult struct {
	// Content are MCP content blocks as JSON, e.g. {"type":"text","text":"hello"}.
	Content []json.RawMessage `json:"content"`
	// StructuredContent, if not nil, is encoded as the JSON object of the structured result.
	StructuredContent any `json:"structuredContent,omitempty"`
	// IsError says the tool failed; Content says why.
	IsError bool `json:"isError,omitempty"`
}

// TextResult returns a result with one text content block.
func TextResult(text string) *ToolResult {
	b, _ := json.Marshal(map[string]string{"type": "text", "text": text})
	return &ToolResult{Content: []json.RawMessage{b}}
}

// AddTool adds (or replaces) a tool.
func (s *Server) AddTool(t Tool) error {
	if err := validToolName(t.Name); err != nil {
		return fmt.Errorf("mcp: AddTool: %w", err)
	}
	if t.Handler == nil {
		return fmt.Errorf("mcp: AddTool %q: a Handler is required", t.Name)
	}
	if err := t.Policy.validate(); err != nil {
		return fmt.Errorf("mcp: AddTool %q: %w", t.Name, err)
	}
	in := t.InputSchema
	if in == nil {
		in = json.RawMessage(`{"type":"object"}`)
	}
	st := &sdk.Tool{Name: t.Name, Title: t.Title, Description: t.Description, InputSchema: in}
	if t.OutputSchema != nil {
		st.OutputSchema = t.OutputSchema
	}
	if err := checkSchemas(st); err != nil {
		return fmt.Errorf("mcp: AddTool %q: %w", t.Name, err)
	}
	if !s.claim("tool", t.Name, "") {
		return fmt.Errorf("mcp: AddTool %q: an upstream serves a tool of that name", t.Name)
	}
	h := t.Handler
	handler := func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		call := &ToolCall{Name: req.Params.Name, Arguments: req.Params.Arguments, Caller: principalOf(req)}
		if req.Session != nil {
			call.SessionID = req.Session.ID()
		}
		res, err := h(ctx, call)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, &jsonrpcError{Code: e.Code, Message: e.Message, Data: e.Data}
			}
			res = TextResult(err.Error())
			res.IsError = true
		}
		if res == nil {
			res = &ToolResult{}
		}
		if res.Content == nil {
			res.Content = []json.RawMessage{}
		}
		b, err := json.Marshal(res)
		if err != nil {
			return nil, &jsonrpcError{Code: CodeInternalError, Message: "internal error"}
		}
		var out sdk.CallToolResult
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, &jsonrpcError{Code: CodeInternalError, Message: "tool returned invalid content"}
		}
		return &out, nil
	}
	if err := addSDKTool(s.sdk, st, handler); err != nil {
		return fmt.Errorf("mcp: AddTool %q: %w", t.Name, err)
	}
	s.reg.setTool(t.Name, t.Policy.clone())
	s.refreshMetadata()
	return nil
}

// validToolName checks an MCP tool name (MCP 2025-11-25 tools, "Tool Names": 1 to 128 characters of
// A-Z, a-z, 0-9, underscore, hyphen and dot).
func validToolName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("tool name %q must have 1 to 128 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("tool name %q: only A-Z a-z 0-9 _ - . are allowed", name)
		}
	}
	return nil
}

// checkSchemas makes the checks the SDK's AddTool panics on: an object input schema, JSON output schema.
func checkSchemas(t *sdk.Tool) error {
	b, err := json.Marshal(t.InputSchema)
	if err != nil {
		return fmt.Errorf("input schema: %w", err)
	}
	var in map[string]any
	if err := json.Unmarshal(b, &in); err != nil || in == nil {
		return errors.New(`input schema must be a JSON object with "type": "object"`)
	}
	if in["type"] != "object" {
		return errors.New(`input schema must have "type": "object"`)
	}
	if t.OutputSchema != nil {
		b, err := json.Marshal(t.OutputSchema)
		if err != nil {
			return fmt.Errorf("output schema: %w", err)
		}
		var out any
		if err := json.Unmarshal(b, &out); err != nil {
			return fmt.Errorf("output schema: %w", err)
		}
	}
	return nil
}

// addSDKTool adds a tool to the SDK server, turning its panics (invalid schema annotations) into errors.
func addSDKTool(srv *sdk.Server, t *sdk.Tool, h sdk.ToolHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	srv.AddTool(t, h)
	return nil
}
