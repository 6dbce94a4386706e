// https://www.rfc-editor.org/rfc/rfc9728

package prm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/ddls/mcpauth/internal/oauthuri"
)

// Handler serves one metadata document (RFC 9728 §3.2). Mount it at every path Paths returns, without a
// method in the pattern so that CORS preflight requests reach it:
//
//	for _, p := range h.Paths() {
//		mux.Handle(p, h)
//	}
//
// It answers 404 for any other path, so it can also be mounted under /.well-known/ as a whole.
type Handler struct {
	body  []byte
	paths []string
}

// NewHandler validates md and returns a Handler for it. The document is copied and encoded once: later
// changes to md are not seen. md.Resource is replaced by its canonical form (lowercase scheme and host, no
// default port, no terminating slash), the form authd writes in the aud claim; an empty
// BearerMethodsSupported is published as ["header"].
func NewHandler(md *Metadata) (*Handler, error) {
	if md == nil {
		return nil, fmt.Errorf("prm: metadata is required")
	}
	m := *md
	m.AuthorizationServers = slices.Clone(m.AuthorizationServers)
	m.ScopesSupported = slices.Clone(m.ScopesSupported)
	m.BearerMethodsSupported = slices.Clone(m.BearerMethodsSupported)
	m.DPoPSigningAlgValuesSupported = slices.Clone(m.DPoPSigningAlgValuesSupported)
	m.AuthorizationDetailsTypesSupported = slices.Clone(m.AuthorizationDetailsTypesSupported)
	canon, err := oauthuri.CanonicalResource(m.Resource)
	if err != nil {
		return nil, fmt.Errorf("prm: resource: %w", err)
	}
	m.Resource = canon
	if len(m.BearerMethodsSupported) == 0 {
		m.BearerMethodsSupported = []string{"header"}
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	body, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("prm: %w", err)
	}
	u, err := url.Parse(canon)
	if err != nil {
		return nil, fmt.Errorf("prm: %w", err)
	}
	h := &Handler{body: append(body, '\n')}
	if p, hasPath := metadataPath(u); hasPath {
		h.paths = append(h.paths, p)
	}
	// The root form too: the MCP authorization specification has clients fall back to it when a 401 carries
	// no resource_metadata, and a server usually protects one resource.
	h.paths = append(h.paths, WellKnownPath)
	return h, nil
}

// Paths returns the escaped URL paths the handler answers at: the path-suffixed well-known path of the
// resource (RFC 9728 §3.1), if the resource has a path, then /.well-known/oauth-protected-resource.
func (h *Handler) Paths() []string { return slices.Clone(h.paths) }

// Document returns the JSON document the handler serves.
func (h *Handler) Document() []byte { return slices.Clone(h.body) }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !slices.Contains(h.paths, r.URL.EscapedPath()) {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	// The document is public and carries no credentials: any origin may read it (RFC 9728 §3.1 metadata is
	// meant for client discovery, including from browsers). MCP clients send MCP-Protocol-Version with it.
	hdr.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodOptions:
		hdr.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		hdr.Set("Access-Control-Allow-Headers", "Content-Type, MCP-Protocol-Version")
		hdr.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet, http.MethodHead:
		// RFC 9728 §3.2: "a successful response MUST use the 200 OK HTTP status code and return a JSON object
		// using the application/json content type".
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Content-Length", strconv.Itoa(len(h.body)))
		hdr.Set("Cache-Control", "public, max-age=300")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(h.body)
		}
	default:
		hdr.Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
