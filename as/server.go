package as

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/dpop"
	"github.com/ddls/mcpauth/internal/oauthuri"
)

// Server is the mcpauth authorization server.
type Server struct {
	issuer       string
	st           store.Store
	opts         Options
	log          *slog.Logger
	now          func() time.Time
	keys         *keyRing
	strategy     *tokenStrategy
	provider     *fosite.Fosite
	fcfg         *fosite.Config
	pages        *template.Template
	metrics      *metrics
	gatherer     prometheus.Gatherer
	secure       bool // issuer is https: __Host- cookies, Secure flag
	dpopVerifier *dpop.Verifier
	dpopNonces   *dpop.NonceSource
	handler      http.Handler
}

// New builds a server for issuer on st. It loads the signing keys, creating the first one if the store has
// none, so a returned Server is ready to issue tokens.
func New(ctx context.Context, issuer string, st store.Store, opts *Options) (*Server, error) {
	o := opts.withDefaults()
	u, err := url.Parse(issuer)
	// RFC 8414 §2: the issuer is an https URL without query or fragment (http allowed by the caller's choice).
	if err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("as: issuer %q must be an absolute http(s) URL without query or fragment", issuer)
	}
	issuer = strings.TrimSuffix(issuer, "/")
	if st == nil {
		return nil, errors.New("as: store is required")
	}
	if o.DefaultResource != "" {
		if o.DefaultResource, err = oauthuri.CanonicalResource(o.DefaultResource); err != nil {
			return nil, fmt.Errorf("as: default resource: %w", err)
		}
	}
	keys, err := newKeyRing(st, o.KEK, o.SigningAlg, o.KeyRetention, o.Now)
	if err != nil {
		return nil, err
	}
	if err := keys.ensure(ctx); err != nil {
		return nil, err
	}
	s := &Server{
		issuer: issuer, st: st, opts: o, log: o.Logger, now: o.Now, keys: keys,
		secure: u.Scheme == "https",
	}
	s.strategy = &tokenStrategy{issuer: issuer, keys: keys, now: o.Now}
	if s.dpopVerifier, s.dpopNonces, err = newDPoP(o); err != nil {
		return nil, fmt.Errorf("as: dpop: %w", err)
	}
	s.fcfg = &fosite.Config{
		AccessTokenLifespan:   o.AccessTokenTTL,
		RefreshTokenLifespan:  o.RefreshTokenTTL,
		AuthorizeCodeLifespan: o.AuthorizeCodeTTL,
		TokenURL:              issuer + "/token",
		AccessTokenIssuer:     issuer,
		ScopeStrategy:         fosite.ExactScopeStrategy,
		// RFC 8707: audiences are whole resource URIs compared exactly.
		AudienceMatchingStrategy: fosite.ExactAudienceMatchingStrategy,
		// OAuth 2.1 §4.1.1 / RFC 7636: PKCE for every client, S256 only.
		EnforcePKCE:                    true,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		// Refresh tokens only when offline_access was granted (SPEC "Grants and rules").
		RefreshTokenScopes:  []string{"offline_access"},
		ClientSecretsHasher: sha256Hasher{},
		RedirectSecureChecker: func(_ context.Context, u *url.URL) bool {
			return oauthuri.ValidateRedirectURI(u.String()) == nil
		},
		SendDebugMessagesToClients: false,
		// OAuth 2.1 §4.1.1: state is optional because PKCE (enforced above) already protects against CSRF
		// (§7.5.1); fosite would otherwise demand 8 characters of it and refuse conforming MCP clients.
		MinParameterEntropy: -1,
	}
	authCode := &oauth2.AuthorizeExplicitGrantHandler{
		AccessTokenStrategy: s.strategy, RefreshTokenStrategy: s.strategy, AuthorizeCodeStrategy: s.strategy,
		CoreStorage: st, TokenRevocationStorage: st, Config: s.fcfg,
	}
	refresh := &oauth2.RefreshTokenGrantHandler{
		AccessTokenStrategy: s.strategy, RefreshTokenStrategy: s.strategy, TokenRevocationStorage: st, Config: s.fcfg,
	}
	clientCreds := &oauth2.ClientCredentialsGrantHandler{
		HandleHelper: &oauth2.HandleHelper{AccessTokenStrategy: s.strategy, AccessTokenStorage: st, Config: s.fcfg},
		Config:       s.fcfg,
	}
	pkceHandler := &pkce.Handler{AuthorizeCodeStrategy: s.strategy, Storage: st, Config: s.fcfg}
	validator := &oauth2.CoreValidator{CoreStrategy: s.strategy, CoreStorage: st, Config: s.fcfg}
	revocation := &oauth2.TokenRevocationHandler{TokenRevocationStorage: st, RefreshTokenStrategy: s.strategy, AccessTokenStrategy: s.strategy}
	s.fcfg.AuthorizeEndpointHandlers = fosite.AuthorizeEndpointHandlers{authCode, pkceHandler}
	s.fcfg.TokenEndpointHandlers = fosite.TokenEndpointHandlers{authCode, refresh, clientCreds, pkceHandler}
	s.fcfg.TokenIntrospectionHandlers = fosite.TokenIntrospectionHandlers{validator}
	s.fcfg.RevocationHandlers = fosite.RevocationHandlers{revocation}
	s.provider = fosite.NewOAuth2Provider(st, s.fcfg)

	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	reg := o.Registerer
	s.gatherer = o.Gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, s.gatherer = r, r
	} else if s.gatherer == nil {
		s.gatherer = prometheus.DefaultGatherer
	}
	if s.metrics, err = newMetrics(reg); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Issuer returns the issuer identifier.
func (s *Server) Issuer() string { return s.issuer }

// Handler returns the HTTP handler serving every endpoint.
func (s *Server) Handler() http.Handler { return s.handler }

// RotateKey adds a signing key that is published now and starts signing after lead.
func (s *Server) RotateKey(ctx context.Context, lead time.Duration) (string, error) {
	return s.keys.rotate(ctx, lead)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	meta := http.HandlerFunc(s.handleMetadata)
	mux.Handle("GET /.well-known/oauth-authorization-server", meta)
	if p := issuerPath(s.issuer); p != "" {
		// RFC 8414 §3.1: the well-known suffix is inserted before the issuer's path.
		mux.Handle("GET /.well-known/oauth-authorization-server"+p, meta)
	}
	mux.HandleFunc("GET /jwks.json", s.handleJWKS)
	mux.Handle("GET /authorize", s.instrument("authorize", s.handleAuthorize))
	mux.Handle("POST /authorize", s.instrument("authorize", s.handleAuthorize))
	// Browser-based clients (MCP Inspector, web apps) call these cross-origin; no cookies are involved.
	mux.Handle("POST /token", cors(s.instrument("token", s.handleToken)))
	mux.Handle("OPTIONS /token", cors(nil))
	mux.Handle("POST /introspect", s.instrument("introspect", s.handleIntrospect))
	mux.Handle("POST /revoke", cors(s.instrument("revoke", s.handleRevoke)))
	mux.Handle("OPTIONS /revoke", cors(nil))
	mux.Handle("GET /login", s.instrument("login", s.handleLoginPage))
	mux.Handle("POST /login", s.instrument("login", s.handleLoginSubmit))
	mux.Handle("GET /consent", s.instrument("consent", s.handleConsentPage))
	mux.Handle("POST /consent", s.instrument("consent", s.handleConsentSubmit))
	mux.Handle("GET /logout", s.instrument("logout", s.handleLogoutPage))
	mux.Handle("POST /logout", s.instrument("logout", s.handleLogout))
	mux.HandleFunc("GET /assets/style.css", s.handleStyle)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	return s.common(mux)
}

// common adds what every response needs: bounded bodies and defensive headers.
func (s *Server) common(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// cors allows cross-origin calls without credentials and exposes the headers DPoP clients read. A nil
// handler answers preflight requests only.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "DPoP-Nonce, WWW-Authenticate")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		s.log.Warn("readiness: store unreachable", "err", err)
		http.Error(w, "store unreachable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ready\n"))
}

func issuerPath(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(u.EscapedPath(), "/")
}

// parseForm reads a form body, turning an oversized body into an error the caller reports in its protocol.
func parseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errInvalidRequest("The request body is too large.")
		}
		return errInvalidRequest("The request body could not be parsed.")
	}
	return nil
}
