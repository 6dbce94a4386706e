package mcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ddls/mcpauth/internal/oauthuri"
	"github.com/ddls/mcpauth/prm"
	"github.com/ddls/mcpauth/rs"
)

// DefaultScope is the scope the built-in tools need: the default scope authd grants for an MCP resource in
// the shipped bootstrap file.
const DefaultScope = "mcp:tools"

// DefaultSessionTimeout is how long an idle MCP session lives when Options.SessionTimeout is zero.
const DefaultSessionTimeout = 30 * time.Minute

// DefaultMaxRequestBytes bounds request bodies when Options.MaxRequestBytes is zero.
const DefaultMaxRequestBytes = 4 << 20

// Options are the optional settings of a Server. The zero value is strict: only the resource's own origin
// (and requests without Origin) are served, only loopback and the resource's host are accepted in Host on a
// loopback listener, sessions expire after DefaultSessionTimeout of inactivity.
type Options struct {
	// Name and Version identify the server to clients (serverInfo). Defaults: "mcpd" and "dev".
	Name, Version string
	// Instructions are sent to clients at initialization.
	Instructions string
	// ResourceName and ResourceDocumentation go into the protected resource metadata (RFC 9728 §2).
	ResourceName, ResourceDocumentation string
	// ScopesSupported are published in the metadata besides every scope a policy names.
	ScopesSupported []string
	// AllowedOrigins are the browser origins (scheme://host[:port]) allowed to call the MCP endpoint, besides
	// the resource's own. A request with any other Origin gets 403 (MCP transports, "Security Warning").
	AllowedOrigins []string
	// AllowedHosts are Host values (host or host:port) accepted on a loopback listener besides loopback names
	// and the resource's host (DNS-rebinding protection).
	AllowedHosts []string
	// SessionTimeout closes sessions idle for that long; zero means DefaultSessionTimeout.
	SessionTimeout time.Duration
	// MaxRequestBytes bounds request bodies; zero means DefaultMaxRequestBytes.
	MaxRequestBytes int64
	// Middleware wraps every MCP request the chain sees (see Method… constants), the first outermost. It
	// runs inside the built-in logging and outside the built-in policy check.
	Middleware []Middleware
	// Logger receives one line per MCP request and the server's events; nil means slog.Default(). Tokens
	// are never logged.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is an MCP server (Streamable HTTP, on the official Go SDK) protected by an rs.Middleware: every
// request needs an access token for the resource; tools, prompts and resources are visible and usable
// according to their Policy and the caller's token; it can front other MCP servers (AddUpstream).
type Server struct {
	auth     *rs.Middleware
	sdk      *sdk.Server
	reg      *registry
	log      *slog.Logger
	now      func() time.Time
	opts     Options
	endpoint string // the URL path of the MCP endpoint (the resource URI's path)
	origins  map[string]bool
	hosts    map[string]bool
	chain    Handler
	sessions *sessionTable
	prm      atomic.Pointer[prm.Handler]

	mu        sync.Mutex
	upstreams map[string]*upstream
	owners    map[string]string // kind\x00name → owner ("" the server, else an upstream name)
	closed    bool
	wg        sync.WaitGroup
	cancel    context.CancelFunc
	ctx       context.Context

	handlerOnce sync.Once
	handler     http.Handler
}

// New returns a Server for the resource auth protects. It registers the built-in whoami tool (policy: scope
// DefaultScope).
func New(auth *rs.Middleware, opts *Options) (*Server, error) {
	if auth == nil {
		return nil, errors.New("mcp: an rs.Middleware is required")
	}
	var o Options
	if opts != nil {
		o = *opts
		o.Middleware = slices.Clone(opts.Middleware)
	}
	if o.Name == "" {
		o.Name = "mcpd"
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SessionTimeout == 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
	if o.SessionTimeout < 0 {
		return nil, errors.New("mcp: SessionTimeout must not be negative")
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	for _, sc := range o.ScopesSupported {
		if !prm.ValidScope(sc) {
			return nil, fmt.Errorf("mcp: ScopesSupported: %q is not a scope-token", sc)
		}
	}
	u, err := url.Parse(auth.Resource())
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("mcp: resource %q is not an absolute URI", auth.Resource())
	}
	s := &Server{
		auth: auth, log: o.Logger, now: o.Now, opts: o,
		reg:       newRegistry(Policy{Hidden: true}),
		endpoint:  u.EscapedPath(),
		origins:   map[string]bool{},
		hosts:     map[string]bool{},
		upstreams: map[string]*upstream{},
	}
	if s.endpoint == "" {
		s.endpoint = "/"
	}
	self, err := canonicalOrigin(u.Scheme + "://" + u.Host)
	if err != nil {
		return nil, fmt.Errorf("mcp: resource %q: %w", auth.Resource(), err)
	}
	s.origins[self] = true
	for _, raw := range o.AllowedOrigins {
		c, err := canonicalOrigin(raw)
		if err != nil {
			return nil, fmt.Errorf("mcp: AllowedOrigins: %w", err)
		}
		s.origins[c] = true
	}
	s.hosts[hostKey(u.Host, u.Scheme)] = true
	for _, h := range o.AllowedHosts {
		if h == "" {
			return nil, errors.New("mcp: AllowedHosts: empty host")
		}
		s.hosts[hostKey(h, "")] = true
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.sessions = newSessionTable(o.SessionTimeout, o.Now)

	s.sdk = sdk.NewServer(&sdk.Implementation{Name: o.Name, Version: o.Version}, &sdk.ServerOptions{
		Instructions: o.Instructions,
		Logger:       sdkLogger(o.Logger),
		// Capabilities are announced up front: upstream tools, prompts and resources come and go.
		Capabilities: &sdk.ServerCapabilities{
			Tools:     &sdk.ToolCapabilities{ListChanged: true},
			Prompts:   &sdk.PromptCapabilities{ListChanged: true},
			Resources: &sdk.ResourceCapabilities{ListChanged: true},
		},
	})
	chain := append([]Middleware{s.logging}, o.Middleware...)
	chain = append(chain, s.policy)
	s.chain = Chain(chain...)(terminal)
	s.sdk.AddReceivingMiddleware(s.receive)
	s.addWhoami()
	return s, nil
}

// Resource returns the canonical URI of the resource this server is.
func (s *Server) Resource() string { return s.auth.Resource() }

// SetToolPolicy replaces the policy of a tool, by the name clients see (e.g. the built-in whoami).
func (s *Server) SetToolPolicy(name string, p Policy) error {
	if err := p.validate(); err != nil {
		return fmt.Errorf("mcp: tool %q: %w", name, err)
	}
	s.reg.setTool(name, p.clone())
	s.refreshMetadata()
	return nil
}

// Close stops the upstreams and closes every session. The Handler answers 503 afterwards.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	for ss := range s.sdk.Sessions() {
		_ = ss.Close()
	}
	s.wg.Wait()
	return nil
}

// refreshMetadata rebuilds the protected resource metadata (RFC 9728 §2): scopes_supported follows the
// policies.
func (s *Server) refreshMetadata() {
	md := s.auth.Metadata()
	md.ResourceName = s.opts.ResourceName
	md.ResourceDocumentation = s.opts.ResourceDocumentation
	scopes := append(slices.Clone(s.opts.ScopesSupported), s.reg.scopes()...)
	// Upstream policies count before the upstream has answered (or while it is down).
	s.mu.Lock()
	for _, u := range s.upstreams {
		if !u.cfg.Policy.Hidden {
			scopes = append(scopes, u.cfg.Policy.Scopes...)
			for _, o := range u.cfg.Tools {
				if !o.Hidden {
					scopes = append(scopes, o.Scopes...)
				}
			}
		}
	}
	s.mu.Unlock()
	slices.Sort(scopes)
	md.ScopesSupported = slices.Compact(scopes)
	h, err := prm.NewHandler(md)
	if err != nil {
		s.log.Error("mcp: protected resource metadata", "err", err)
		return
	}
	s.prm.Store(h)
}

// sdkLogger is the logger handed to the SDK: its per-connection Info lines (one set per stateless request)
// are kept for debug logging; warnings and errors always pass.
func sdkLogger(l *slog.Logger) *slog.Logger {
	return slog.New(&quietHandler{Handler: l.Handler().WithAttrs([]slog.Attr{slog.String("component", "go-sdk")})})
}

type quietHandler struct{ slog.Handler }

func (h *quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if l < slog.LevelWarn && !h.Handler.Enabled(ctx, slog.LevelDebug) {
		return false
	}
	return h.Handler.Enabled(ctx, l)
}

func (h *quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &quietHandler{Handler: h.Handler.WithAttrs(as)}
}

func (h *quietHandler) WithGroup(name string) slog.Handler {
	return &quietHandler{Handler: h.Handler.WithGroup(name)}
}

// canonicalOrigin normalizes an origin (RFC 6454 §6.1 serialization): lowercase scheme and host, no default
// port, no path.
func canonicalOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q is not an origin (scheme://host[:port])", raw)
	}
	c, err := oauthuri.CanonicalResource(u.Scheme + "://" + u.Host)
	if err != nil {
		return "", fmt.Errorf("%q is not an origin: %w", raw, err)
	}
	return c, nil
}
