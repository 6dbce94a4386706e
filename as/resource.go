package as

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/internal/oauthuri"
)

// https://www.rfc-editor.org/rfc/rfc8707 (Resource Indicators for OAuth 2.0)

const scopeOfflineAccess = "offline_access"

// resolveResource picks the single resource of a request: the one named (RFC 8707 §2), else the client's
// only resource, else the configured default; anything else is invalid_target.
func (s *Server) resolveResource(ctx context.Context, c *store.FositeClient, values []string) (store.Resource, error) {
	var uri string
	switch len(values) {
	case 0:
		switch {
		case len(c.Resources) == 1:
			uri = c.Resources[0]
		case s.opts.DefaultResource != "" && slices.Contains(c.Resources, s.opts.DefaultResource):
			uri = s.opts.DefaultResource
		default:
			return store.Resource{}, errInvalidTarget("The request must name the resource (RFC 8707 'resource' parameter): this client may use several.")
		}
	case 1:
		canon, err := oauthuri.CanonicalResource(values[0])
		if err != nil {
			// RFC 8707 §2: "MUST be an absolute URI … MUST NOT include a fragment component."
			return store.Resource{}, errInvalidTarget("The resource is malformed: " + err.Error() + ".")
		}
		if !slices.Contains(c.Resources, canon) {
			return store.Resource{}, errInvalidTarget("The client may not request tokens for this resource.")
		}
		uri = canon
	default:
		// RFC 8707 §2 allows several; mcpauth tokens have exactly one audience (SPEC), so ask for one.
		return store.Resource{}, errInvalidTarget("Only one resource may be requested at a time.")
	}
	res, err := s.st.GetResource(ctx, uri)
	if errors.Is(err, fosite.ErrNotFound) {
		return store.Resource{}, errInvalidTarget("The resource is not known to this authorization server.")
	}
	if err != nil {
		return store.Resource{}, fosite.ErrServerError.WithWrap(err)
	}
	return res, nil
}

// grantableScopes computes the scopes to grant for res: the requested ones, or the resource's defaults the
// client may have. Every scope must belong to the resource (or be offline_access where allowed) and to the
// client (RFC 6749 §3.3: the server may fully or partially ignore; we refuse instead of silently widening).
func grantableScopes(res store.Resource, c *store.FositeClient, requested []string, allowOffline bool) ([]string, error) {
	if len(requested) == 0 {
		var out []string
		for _, sc := range res.DefaultScopes() {
			if slices.Contains(c.Scopes, sc) {
				out = append(out, sc)
			}
		}
		return out, nil
	}
	out := make([]string, 0, len(requested))
	for _, sc := range requested {
		switch {
		case sc == scopeOfflineAccess && !allowOffline:
			// RFC 6749 §4.4.3: no refresh token for client credentials.
			return nil, errInvalidScope("offline_access cannot be granted to the client credentials grant.")
		case sc != scopeOfflineAccess && !res.HasScope(sc):
			return nil, errInvalidScope("The scope '" + sc + "' is not defined for this resource.")
		case !slices.Contains(c.Scopes, sc):
			return nil, errInvalidScope("The client may not request the scope '" + sc + "'.")
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// accessTTL is the resource's token lifetime or the server default.
func (s *Server) accessTTL(res store.Resource) time.Duration {
	if res.AccessTokenTTL > 0 {
		return res.AccessTokenTTL
	}
	return s.opts.AccessTokenTTL
}

// connectionsFor returns the ids of the organization's connections usable from resource, filtered to
// allowed (nil: no filter), in a stable order.
func (s *Server) connectionsFor(ctx context.Context, orgID, resource string, allowed []string) ([]string, error) {
	if orgID == "" {
		return []string{}, nil
	}
	conns, err := s.st.ListConnections(ctx, orgID)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, c := range conns {
		if c.AllowedFor(resource) && (allowed == nil || slices.Contains(allowed, c.ID)) {
			out = append(out, c.ID)
		}
	}
	return out, nil
}
