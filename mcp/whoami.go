package mcp

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ddls/mcpauth/rs"
)

// WhoamiTool is the name of the built-in tool that describes the caller.
const WhoamiTool = "whoami"

// Whoami is the structured content of the whoami tool: what the access token of the call says, and what it
// lets the caller do here. It holds no secret: the token itself is never returned.
type Whoami struct {
	Subject         string   `json:"sub"`
	ClientID        string   `json:"client_id"`
	OrgID           string   `json:"org_id"`
	Scopes          []string `json:"scopes"`
	Connections     []string `json:"connections"`
	UserDelegations []string `json:"user_delegations"`
	// JKT is the RFC 7638 thumbprint of the DPoP key the token is bound to (cnf.jkt), "" for a bearer token.
	JKT string `json:"jkt"`
	// TokenType is "DPoP" for a DPoP-bound token (its proof was checked), "Bearer" otherwise.
	TokenType string `json:"token_type"`
	Issuer    string `json:"iss"`
	Audience  string `json:"aud"`
	TokenID   string `json:"jti,omitempty"`
	// IssuedAt, ExpiresAt and AuthTime are NumericDates (seconds since the epoch); ExpiresIn is exp - now.
	IssuedAt  int64 `json:"iat,omitempty"`
	ExpiresAt int64 `json:"exp"`
	ExpiresIn int64 `json:"expires_in"`
	AuthTime  int64 `json:"auth_time,omitempty"`
	// SessionID and ProtocolVersion describe the MCP session, when the protocol version has sessions.
	SessionID       string `json:"session_id,omitempty"`
	ProtocolVersion string `json:"protocol_version,omitempty"`
	// Tools are the tools this token may call here.
	Tools []string `json:"tools"`
}

const whoamiOutputSchema = `{"type":"object","properties":{` +
	`"sub":{"type":"string"},"client_id":{"type":"string"},"org_id":{"type":"string"},` +
	`"scopes":{"type":"array","items":{"type":"string"}},"connections":{"type":"array","items":{"type":"string"}},` +
	`"user_delegations":{"type":"array","items":{"type":"string"}},"jkt":{"type":"string"},` +
	`"token_type":{"type":"string"},"iss":{"type":"string"},"aud":{"type":"string"},"jti":{"type":"string"},` +
	`"iat":{"type":"integer"},"exp":{"type":"integer"},"expires_in":{"type":"integer"},"auth_time":{"type":"integer"},` +
	`"session_id":{"type":"string"},"protocol_version":{"type":"string"},"tools":{"type":"array","items":{"type":"string"}}},` +
	`"required":["sub","client_id","scopes","token_type","tools"]}`

func (s *Server) addWhoami() {
	s.claim("tool", WhoamiTool, "")
	s.reg.setTool(WhoamiTool, Policy{Scopes: []string{DefaultScope}})
	s.sdk.AddTool(&sdk.Tool{
		Name:  WhoamiTool,
		Title: "Who am I",
		Description: "Describes the caller as this server sees it: subject, client, organization, scopes, connections, " +
			"user delegations, DPoP key thumbprint, token lifetime, and the tools the token may call. For debugging authorization.",
		InputSchema:  json.RawMessage(`{"type":"object","properties":{}}`),
		OutputSchema: json.RawMessage(whoamiOutputSchema),
		Annotations:  &sdk.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: new(false)},
	}, s.whoami)
}

func (s *Server) whoami(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
	p := principalOf(req)
	if p == nil {
		return nil, &jsonrpcError{Code: CodeInvalidRequest, Message: "no caller"}
	}
	w := Whoami{
		Subject: p.Subject, ClientID: p.ClientID, OrgID: p.OrgID,
		Scopes: nonNil(p.Scopes), Connections: nonNil(p.Connections), UserDelegations: nonNil(p.UserDelegations),
		JKT: p.JKT, TokenType: "Bearer", Issuer: p.Issuer, Audience: p.Audience, TokenID: p.TokenID,
		IssuedAt: unix(p.IssuedAt), ExpiresAt: unix(p.Expiry), AuthTime: unix(p.AuthTime),
		Tools: s.callableTools(p),
	}
	if p.JKT != "" {
		w.TokenType = "DPoP"
	}
	if !p.Expiry.IsZero() {
		w.ExpiresIn = int64(p.Expiry.Sub(s.now()) / time.Second)
	}
	if ss := req.Session; ss != nil {
		w.SessionID = ss.ID()
		if ip := ss.InitializeParams(); ip != nil {
			w.ProtocolVersion = ip.ProtocolVersion
		}
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	// Structured content, and the same JSON as text for clients that read only content (MCP tools,
	// "Structured Content": "SHOULD also return the serialized JSON in a TextContent block").
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: string(b)}}, StructuredContent: json.RawMessage(b)}, nil
}

// callableTools lists the tools p may call, sorted.
func (s *Server) callableTools(p *rs.Principal) []string {
	s.reg.mu.RLock()
	defer s.reg.mu.RUnlock()
	out := []string{}
	for name, pol := range s.reg.tools {
		if pol.check(p) == allowed {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
