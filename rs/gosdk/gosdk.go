package gosdk

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/ddls/mcpauth/rs"
)

// PrincipalKey is the TokenInfo.Extra key under which TokenInfo puts the *rs.Principal. Claims are
// namespaced by their issuer; this key names the Go type, so it cannot meet a claim of mcpauth's.
const PrincipalKey = "github.com/ddls/mcpauth/rs.Principal"

// TokenInfo returns the SDK's view of p: UserID is the subject, Extra the token's claims plus p under
// PrincipalKey. It returns nil for a nil p.
func TokenInfo(p *rs.Principal) *auth.TokenInfo {
	if p == nil {
		return nil
	}
	extra := p.Claims()
	extra[PrincipalKey] = p
	return &auth.TokenInfo{
		Scopes:     slices.Clone(p.Scopes),
		Expiration: p.Expiry,
		UserID:     p.Subject,
		Extra:      extra,
	}
}

// Principal returns the *rs.Principal a TokenInfo made by TokenInfo carries, e.g. from req.Extra.TokenInfo
// in a tool handler, or nil.
func Principal(ti *auth.TokenInfo) *rs.Principal {
	if ti == nil {
		return nil
	}
	p, _ := ti.Extra[PrincipalKey].(*rs.Principal)
	return p
}

// Protect returns h behind m with the scopes every request needs: rs verifies the token (Bearer or DPoP,
// with its proof) and the scopes, then WithTokenInfo gives the SDK its TokenInfo.
func Protect(m *rs.Middleware, h http.Handler, scopes ...string) http.Handler {
	return m.Require(scopes...)(WithTokenInfo(h))
}

// sdkSkew switches off the expiry check auth.RequireBearerToken makes: rs has made its own, with its own
// clock and skew, and a second check with time.Now could refuse a token rs accepted.
const sdkSkew = 100 * 365 * 24 * time.Hour

// WithTokenInfo puts the TokenInfo of the request's rs.Principal in the request context, where the SDK's
// handlers look for it (auth.TokenInfoFromContext). It must run behind rs's middleware (use Protect): a
// request without a Principal is answered 500, never passed on unauthenticated.
//
// The SDK keeps its context key unexported and sets it only in auth.RequireBearerToken, so that is how the
// TokenInfo gets there: the request is shown to RequireBearerToken with a placeholder Bearer credential,
// its verifier returns the TokenInfo of the Principal rs already verified, and h then receives the request
// with its original Authorization header.
func WithTokenInfo(h http.Handler) http.Handler {
	verify := func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
		p := rs.PrincipalFrom(ctx)
		if p == nil {
			return nil, fmt.Errorf("gosdk: no rs principal: %w", auth.ErrInvalidToken)
		}
		return TokenInfo(p), nil
	}
	type origKey struct{}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The header map is our clone: restore what the client sent.
		if orig, ok := r.Context().Value(origKey{}).([]string); ok {
			r.Header["Authorization"] = orig
		}
		h.ServeHTTP(w, r)
	})
	sdk := auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{ClockSkew: sdkSkew})(inner)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rs.PrincipalFrom(r.Context()) == nil {
			http.Error(w, "gosdk: handler is not behind rs middleware", http.StatusInternalServerError)
			return
		}
		r2 := r.Clone(context.WithValue(r.Context(), origKey{}, r.Header["Authorization"]))
		r2.Header.Set("Authorization", "Bearer rs-verified")
		sdk.ServeHTTP(w, r2)
	})
}

// Verifier adapts an rs.Verifier to the SDK's auth.TokenVerifier, for servers that use
// auth.RequireBearerToken directly. That middleware knows Bearer only: DPoP-bound tokens are refused
// (RFC 9449 §7.2), as are all refusals of v (auth.ErrInvalidToken). Prefer Protect, which accepts DPoP.
func Verifier(v rs.Verifier) auth.TokenVerifier {
	return func(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		p, err := v.Verify(ctx, token)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", auth.ErrInvalidToken, err)
		}
		if p.JKT != "" {
			return nil, fmt.Errorf("%w: the token is DPoP-bound and cannot be used as a bearer token", auth.ErrInvalidToken)
		}
		return TokenInfo(p), nil
	}
}
