// https://www.rfc-editor.org/rfc/rfc6750
// https://www.rfc-editor.org/rfc/rfc9449
// https://www.rfc-editor.org/rfc/rfc9728

package rs

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
)

// challenges describes the WWW-Authenticate challenges of one resource.
type challenges struct {
	bearer      bool   // Bearer is accepted (the resource does not require DPoP)
	metadataURL string // RFC 9728 §5.1 resource_metadata
	algs        string // RFC 9449 §7.1 algs: the proof algorithms, space-separated
}

// header returns the WWW-Authenticate value for a refusal of a request that used scheme (or "" when it sent
// no credentials we know). Every accepted scheme is offered, Bearer first (clients that read only the first
// challenge mostly speak Bearer), each with resource_metadata (RFC 9728 §5.1: "the resource_metadata
// parameter MUST be included" when the metadata URL is used in the challenge), DPoP with algs (RFC 9449
// §7.1). The error attributes go on the challenge of the scheme the client used: they describe its
// credentials (RFC 6750 §3). A request without a token gets no error attributes (RFC 6750 §3.1).
// insufficient_scope is the exception: the token was good and scope names what the operation needs whatever
// the scheme, so every challenge carries it (clients such as the MCP Go SDK read the step-up scope from the
// Bearer challenge only, even for a DPoP request).
func (c *challenges) header(scheme string, e *Error) string {
	var b strings.Builder
	b.Grow(256)
	stepUp := e.Code == CodeInsufficientScope
	errOnBearer := e.Code != "" && c.bearer && (scheme == schemeBearer || scheme == "" || stepUp)
	errOnDPoP := e.Code != "" && (scheme == schemeDPoP || scheme == "" || scheme == schemeBearer && !c.bearer || stepUp)
	if c.bearer {
		b.WriteString("Bearer ")
		writeParam(&b, "resource_metadata", c.metadataURL, true)
		if errOnBearer {
			writeErrorParams(&b, e)
		}
		b.WriteString(", ")
	}
	b.WriteString("DPoP ")
	writeParam(&b, "algs", c.algs, true)
	writeParam(&b, "resource_metadata", c.metadataURL, false)
	if errOnDPoP {
		writeErrorParams(&b, e)
	}
	return b.String()
}

func writeErrorParams(b *strings.Builder, e *Error) {
	writeParam(b, "error", e.Code, false)
	if e.Description != "" {
		writeParam(b, "error_description", sanitizeDescription(e.Description), false)
	}
	if e.Scope != "" {
		writeParam(b, "scope", e.Scope, false)
	}
}

// writeParam writes name="value" as an auth-param with a quoted-string value (RFC 9110 §11.2, §5.6.4):
// DQUOTE and backslash are escaped with a backslash; control characters, which a quoted-string cannot hold,
// become spaces.
func writeParam(b *strings.Builder, name, value string, first bool) {
	if !first {
		b.WriteString(", ")
	}
	b.WriteString(name)
	b.WriteString(`="`)
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 && c != '\t' || c == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// sanitizeDescription keeps error_description within RFC 6750 §3's character set: "%x20-21 / %x23-5B /
// %x5D-7E", printable ASCII without DQUOTE and backslash.
func sanitizeDescription(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	out := []byte(s)
	for i, c := range out {
		switch {
		case c == '"':
			out[i] = '\''
		case c == '\\':
			out[i] = '/'
		case c < 0x20 || c > 0x7e:
			out[i] = '?'
		}
	}
	return string(out)
}

// errorBody is the JSON body of a refusal: the same error and error_description as the challenge.
type errorBody struct {
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
	Scope            string `json:"scope,omitempty"`
}

// writeError is the one place a refusal is written (CONVENTIONS 9): status, Cache-Control: no-store,
// WWW-Authenticate, DPoP-Nonce when nonces are on, and a JSON body. The cause is logged, never sent.
func (m *Middleware) writeError(w http.ResponseWriter, r *http.Request, scheme string, e *Error) {
	level := slog.LevelInfo
	if e.Code == "" {
		level = slog.LevelDebug // every MCP client's first request: routine
	}
	if m.log.Enabled(r.Context(), level) {
		attrs := []slog.Attr{
			slog.Int("status", e.Status),
			slog.String("code", e.Code),
			slog.String("check", e.reason),
			slog.String("scheme", scheme),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
		}
		if e.Scope != "" {
			attrs = append(attrs, slog.String("scope", e.Scope))
		}
		if e.cause != nil {
			attrs = append(attrs, slog.String("cause", e.cause.Error()))
		}
		m.log.LogAttrs(r.Context(), level, "rs: request refused", attrs...)
	}

	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	if e.Status < 500 {
		h.Set("WWW-Authenticate", m.ch.header(scheme, e))
	}
	if m.nonces != nil {
		// RFC 9449 §9: the resource server supplies a nonce in DPoP-Nonce; sending it with every refusal saves
		// clients a round trip.
		h.Set("DPoP-Nonce", m.nonces.Issue())
	}
	body, _ := json.Marshal(errorBody{Error: e.Code, ErrorDescription: sanitizeDescription(e.Description), Scope: e.Scope})
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(body, '\n'))
}
