// https://www.rfc-editor.org/rfc/rfc6750
// https://www.rfc-editor.org/rfc/rfc9449

package rs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/ddls/mcpauth/dpop"
	"github.com/ddls/mcpauth/prm"
)

// Options configures a Middleware. The zero value is strict and safe: Bearer and DPoP tokens accepted,
// DPoP-bound tokens only with a valid proof, proofs checked with dpop's defaults (ES256, EdDSA, RS256,
// PS256; iat within ±60 s; an in-memory replay store; no nonces).
type Options struct {
	// RequireDPoP refuses bearer tokens: only DPoP-bound tokens with a proof are accepted (RFC 9449 §7.2;
	// dpop_bound_access_tokens_required in the metadata).
	RequireDPoP bool
	// DPoP configures the proof verifier. nil means the zero dpop.VerifierOptions. Its in-memory replay store
	// protects one process only: several replicas MUST share a store (pgreplay.Store from dpop/pgreplay, in
	// PostgreSQL). With Nonces set, proofs must carry a current server nonce and every response carries
	// DPoP-Nonce (RFC 9449 §9).
	DPoP *dpop.VerifierOptions
	// MetadataURL is the resource_metadata of the challenges (RFC 9728 §5.1); empty means the
	// path-suffixed well-known URL of the verifier's resource (prm.MetadataURL).
	MetadataURL string
	// Logger receives a line for every refused request (without the token); nil means slog.Default().
	Logger *slog.Logger
}

// Middleware protects handlers: each request must carry an access token the Verifier accepts, with a DPoP
// proof when the token is DPoP-bound, and the scopes of its route. Build one per resource, then wrap each
// route with Require. It is safe for concurrent use.
type Middleware struct {
	v           Verifier
	dpop        *dpop.Verifier
	nonces      *dpop.NonceSource
	requireDPoP bool
	origin      string // scheme://host[:port] of the resource, for htu
	ch          challenges
	log         *slog.Logger
}

// New returns a Middleware for the resource of v.
func New(v Verifier, opts *Options) (*Middleware, error) {
	if v == nil {
		return nil, errors.New("rs: a Verifier is required")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	var dopts dpop.VerifierOptions
	if o.DPoP != nil {
		dopts = *o.DPoP
	}
	dv, err := dpop.NewVerifier(&dopts)
	if err != nil {
		return nil, fmt.Errorf("rs: %w", err)
	}
	u, err := url.Parse(v.Resource())
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("rs: the verifier's resource %q is not an absolute URI", v.Resource())
	}
	if o.MetadataURL == "" {
		if o.MetadataURL, err = prm.MetadataURL(v.Resource()); err != nil {
			return nil, fmt.Errorf("rs: %w", err)
		}
	} else if mu, err := url.Parse(o.MetadataURL); err != nil || !mu.IsAbs() {
		return nil, fmt.Errorf("rs: MetadataURL %q is not an absolute URL", o.MetadataURL)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Middleware{
		v: v, dpop: dv, nonces: dopts.Nonces, requireDPoP: o.RequireDPoP,
		origin: u.Scheme + "://" + u.Host,
		ch: challenges{
			bearer:      !o.RequireDPoP,
			metadataURL: o.MetadataURL,
			algs:        strings.Join(dv.AllowedAlgs(), " "),
		},
		log: o.Logger,
	}, nil
}

// Resource returns the canonical URI of the protected resource.
func (m *Middleware) Resource() string { return m.v.Resource() }

// Metadata returns the RFC 9728 metadata this middleware implies: resource, the issuer as authorization
// server, bearer_methods_supported ["header"], the DPoP algorithms and whether DPoP is required. Add
// ScopesSupported and ResourceName, then serve it with prm.NewHandler.
func (m *Middleware) Metadata() *prm.Metadata {
	return &prm.Metadata{
		Resource:                      m.v.Resource(),
		AuthorizationServers:          []string{m.v.Issuer()},
		BearerMethodsSupported:        []string{"header"},
		DPoPSigningAlgValuesSupported: m.dpop.AllowedAlgs(),
		DPoPBoundAccessTokensRequired: m.requireDPoP,
	}
}

// Require returns middleware admitting requests whose token grants every one of scopes (none: any valid
// token). It panics if a scope is not an RFC 6749 §3.3 scope-token: routes are set up at start-up, like
// http.ServeMux patterns.
func (m *Middleware) Require(scopes ...string) func(http.Handler) http.Handler {
	for _, s := range scopes {
		if !prm.ValidScope(s) {
			panic(fmt.Sprintf("rs: Require: %q is not a scope-token (RFC 6749 §3.3)", s))
		}
	}
	req := &requirement{scopes: append([]string(nil), scopes...), joined: strings.Join(scopes, " ")}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.serve(w, r, next, req)
		})
	}
}

// Handler is Require() applied to next: any valid token.
func (m *Middleware) Handler(next http.Handler) http.Handler { return m.Require()(next) }

type requirement struct {
	scopes []string
	joined string
}

func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler, req *requirement) {
	ctx := r.Context()
	scheme, token, e := parseAuthorization(r.Header.Values("Authorization"))
	if e != nil {
		m.writeError(w, r, scheme, e)
		return
	}
	if scheme == "" {
		// RFC 6750 §3.1: no token: a challenge without error code.
		m.writeError(w, r, "", errMissingToken())
		return
	}
	if scheme == schemeBearer && m.requireDPoP {
		// RFC 9449 §7.2: a resource that accepts only DPoP-bound tokens refuses bearer tokens; the challenge
		// offers DPoP only.
		m.writeError(w, r, scheme, errInvalidToken("dpop_required", "This resource requires a DPoP-bound access token and a DPoP proof.", nil))
		return
	}
	p, err := m.v.Verify(ctx, token)
	if err != nil {
		m.writeError(w, r, scheme, asError(err))
		return
	}
	switch scheme {
	case schemeBearer:
		// RFC 9449 §7.2: a DPoP-bound access token presented as a bearer token must be refused, or a stolen
		// token would be usable without the key.
		if p.JKT != "" {
			m.writeError(w, r, scheme, errInvalidToken("bound_token_as_bearer", "The access token is DPoP-bound; send it with the DPoP scheme and a proof.", nil))
			return
		}
	case schemeDPoP:
		// RFC 9449 §7.1: the DPoP scheme carries a DPoP-bound token; an unbound one has no key to check.
		if p.JKT == "" {
			m.writeError(w, r, scheme, errInvalidToken("unbound_token_as_dpop", "The access token is not DPoP-bound; send it with the Bearer scheme.", nil))
			return
		}
		// RFC 9449 §7.1 and §4.3: the proof's htm and htu are this request's, its ath the hash of this token,
		// its key the one of cnf.jkt (§6.1); replay and nonce are checked by the dpop verifier.
		if _, err := m.dpop.VerifyBound(ctx, r.Header.Values("DPoP"), r.Method, m.requestURL(r), token, p.JKT); err != nil {
			m.writeError(w, r, scheme, asError(err))
			return
		}
	}
	// RFC 6750 §3.1 insufficient_scope: "The request requires higher privileges than provided by the access
	// token", with the scope "necessary to access the requested resource" (§3).
	for _, s := range req.scopes {
		if !p.HasScope(s) {
			m.writeError(w, r, scheme, InsufficientScope(req.scopes...))
			return
		}
	}
	if m.nonces != nil {
		// RFC 9449 §8.2, §9: a fresh nonce with every response lets clients keep theirs current.
		w.Header().Set("DPoP-Nonce", m.nonces.Issue())
	}
	next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, principalKey{}, p)))
}

// requestURL is the URI the proof's htu must match (RFC 9449 §4.3, "ignoring any query and fragment"):
// the scheme and authority of the resource, which is what clients address (a TLS-terminating proxy or the
// Host header cannot change it), and the path of the request as the client sent it (r.RequestURI, which
// http.StripPrefix and routers leave alone).
func (m *Middleware) requestURL(r *http.Request) string {
	path := r.RequestURI
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if !strings.HasPrefix(path, "/") {
		if u, err := url.Parse(path); err == nil && u.IsAbs() {
			path = u.EscapedPath() // absolute-form request-target (RFC 9112 §3.2.2)
		} else {
			path = r.URL.EscapedPath()
		}
	}
	return m.origin + path
}

// WriteError answers a request with a refusal, exactly as the middleware does (status, WWW-Authenticate,
// DPoP-Nonce, Cache-Control: no-store, JSON body): for handlers that make further checks, e.g. a tool that
// needs a scope (InsufficientScope). An error that is not an *Error is written as invalid_token.
func (m *Middleware) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	scheme, _, perr := parseAuthorization(r.Header.Values("Authorization"))
	if perr != nil {
		scheme = ""
	}
	m.writeError(w, r, scheme, asError(err))
}
