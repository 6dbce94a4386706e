package mcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Upstream is an MCP server the gateway fronts: a command speaking MCP over stdio, or a Streamable HTTP
// endpoint. Its tools, prompts and resources appear under Prefix, with the policies given here. The
// gateway connects with its own identity and credentials: the caller's access token, headers and context
// never reach an upstream (MCP security best practices, "Token Passthrough" is forbidden).
type Upstream struct {
	// Name identifies the upstream in logs, errors and status: 1 to 64 of a-z 0-9 _ -.
	Name string
	// Prefix goes before the names of its tools and prompts, and the names (not URIs) of its resources.
	// Empty means Name + "_"; set NoPrefix to expose the names unchanged.
	Prefix   string
	NoPrefix bool

	// Command, Args, Env and Dir start a stdio upstream. The process gets a minimal environment (PATH, HOME,
	// TMPDIR, LANG, USER) plus Env, never the gateway's own. It is restarted when it exits.
	Command string
	Args    []string
	Env     map[string]string
	Dir     string

	// URL is the endpoint of a Streamable HTTP upstream. Header is sent with every request to it, and
	// Token, if set, provides a bearer token for it: the gateway's own credentials (an API key, a
	// client-credentials token), never the caller's.
	URL        string
	Header     http.Header
	Token      func(ctx context.Context) (string, error)
	HTTPClient *http.Client

	// Policy applies to every tool, prompt and resource of the upstream that Tools does not override.
	Policy Policy
	// Tools adjusts single tools, by the upstream's own name.
	Tools map[string]ToolOverride

	// Timeout bounds connecting and each call; zero means 60 s.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the delay before reconnecting (restarting) a failed upstream; the
	// delay doubles after each failure. Zero means 250 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
}

// ToolOverride changes one upstream tool.
type ToolOverride struct {
	// Scopes and Connections replace the upstream's when not nil (an empty non-nil list: none).
	Scopes, Connections []string
	// Hidden removes the tool: not listed, not callable.
	Hidden bool
	// Description, if not empty, replaces the tool's description (metadata rewriting).
	Description string
}

// UpstreamStatus describes an upstream at one moment.
type UpstreamStatus struct {
	Name      string
	Connected bool
	// Restarts counts the connections after the first.
	Restarts int
	// Tools, Prompts, Resources count what it currently exposes (templates count as resources).
	Tools, Prompts, Resources int
	// LastError is the last connection or listing failure, "" if none.
	LastError string
}

const (
	defaultUpstreamTimeout = 60 * time.Second
	defaultMinBackoff      = 250 * time.Millisecond
	defaultMaxBackoff      = 30 * time.Second
)

func (u *Upstream) validate() error {
	if u.Name == "" || len(u.Name) > 64 || strings.Trim(u.Name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
		return fmt.Errorf("upstream name %q: 1 to 64 of a-z 0-9 _ -", u.Name)
	}
	switch {
	case u.Command != "" && u.URL != "":
		return fmt.Errorf("upstream %q: give either command (stdio) or url (HTTP), not both", u.Name)
	case u.Command == "" && u.URL == "":
		return fmt.Errorf("upstream %q: a command (stdio) or a url (HTTP) is required", u.Name)
	case u.URL != "":
		pu, err := url.Parse(u.URL)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.User != nil {
			return fmt.Errorf("upstream %q: url %q must be an absolute http(s) URL without user info", u.Name, u.URL)
		}
	default:
		if len(u.Header) > 0 || u.Token != nil {
			return fmt.Errorf("upstream %q: header and token are for HTTP upstreams", u.Name)
		}
	}
	if u.NoPrefix && u.Prefix != "" {
		return fmt.Errorf("upstream %q: prefix and no_prefix contradict each other", u.Name)
	}
	if u.Prefix != "" {
		if err := validToolName(u.Prefix + "x"); err != nil {
			return fmt.Errorf("upstream %q: prefix %q: only A-Z a-z 0-9 _ - . are allowed", u.Name, u.Prefix)
		}
	}
	if err := u.Policy.validate(); err != nil {
		return fmt.Errorf("upstream %q: %w", u.Name, err)
	}
	for name, o := range u.Tools {
		if err := (Policy{Scopes: o.Scopes, Connections: o.Connections}).validate(); err != nil {
			return fmt.Errorf("upstream %q: tool %q: %w", u.Name, name, err)
		}
	}
	if u.Timeout < 0 || u.MinBackoff < 0 || u.MaxBackoff < 0 {
		return fmt.Errorf("upstream %q: durations must not be negative", u.Name)
	}
	return nil
}

// upstream is a running Upstream: a supervisor keeps a client session to it and mirrors its tools, prompts
// and resources onto the server.
type upstream struct {
	cfg    Upstream
	s      *Server
	log    *slog.Logger
	prefix string
	resync chan struct{}

	mu        sync.Mutex
	session   *sdk.ClientSession
	runCtx    context.Context // cancelled when the current connection ends
	connected bool
	restarts  int
	lastErr   string
	tools     map[string]string // exposed name → upstream name
	prompts   map[string]string
	resources map[string]bool   // URIs
	templates map[string]bool   // URI templates
	fps       map[string]string // kind\x00name → fingerprint of what was registered
}

// AddUpstream starts fronting an upstream: it connects in the background (and reconnects, with backoff,
// whenever the connection fails or the process exits) and mirrors what the upstream offers. Names that
// collide with names already served are skipped, with a warning.
func (s *Server) AddUpstream(cfg Upstream) error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("mcp: %w", err)
	}
	cfg.Policy = cfg.Policy.clone()
	cfg.Tools = maps.Clone(cfg.Tools)
	cfg.Args = slices.Clone(cfg.Args)
	cfg.Env = maps.Clone(cfg.Env)
	cfg.Header = cfg.Header.Clone()
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultUpstreamTimeout
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = defaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = defaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	u := &upstream{
		cfg: cfg, s: s, log: s.log.With("upstream", cfg.Name), prefix: cfg.Prefix,
		resync: make(chan struct{}, 1),
		tools:  map[string]string{}, prompts: map[string]string{}, resources: map[string]bool{}, templates: map[string]bool{},
		fps: map[string]string{},
	}
	if u.prefix == "" && !cfg.NoPrefix {
		u.prefix = cfg.Name + "_"
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("mcp: server closed")
	}
	if _, dup := s.upstreams[cfg.Name]; dup {
		s.mu.Unlock()
		return fmt.Errorf("mcp: upstream %q added twice", cfg.Name)
	}
	s.upstreams[cfg.Name] = u
	s.wg.Add(1)
	s.mu.Unlock()
	// Policies are known before the upstream answers: publish their scopes now.
	s.refreshMetadata()
	go func() {
		defer s.wg.Done()
		u.supervise(s.ctx)
	}()
	return nil
}

// Upstreams reports the state of every upstream, sorted by name.
func (s *Server) Upstreams() []UpstreamStatus {
	s.mu.Lock()
	us := slices.Collect(maps.Values(s.upstreams))
	s.mu.Unlock()
	out := make([]UpstreamStatus, 0, len(us))
	for _, u := range us {
		u.mu.Lock()
		out = append(out, UpstreamStatus{
			Name: u.cfg.Name, Connected: u.connected, Restarts: u.restarts, LastError: u.lastErr,
			Tools: len(u.tools), Prompts: len(u.prompts), Resources: len(u.resources) + len(u.templates),
		})
		u.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// stableAfter is how long a connection must last for the backoff to start over.
const stableAfter = 30 * time.Second

func (u *upstream) supervise(ctx context.Context) {
	defer u.unregisterAll()
	backoff := u.cfg.MinBackoff
	for attempt := 0; ; attempt++ {
		start := time.Now()
		err := u.serveOnce(ctx, attempt)
		if ctx.Err() != nil {
			return
		}
		u.mu.Lock()
		u.connected, u.session = false, nil
		if err != nil {
			u.lastErr = err.Error()
		}
		u.mu.Unlock()
		if time.Since(start) > stableAfter {
			backoff = u.cfg.MinBackoff
		}
		u.log.Warn("mcp: upstream down; reconnecting", "err", err, "in", backoff.String())
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, u.cfg.MaxBackoff)
	}
}

// serveOnce connects, mirrors the upstream and waits until the connection ends.
func (u *upstream) serveOnce(ctx context.Context, attempt int) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := sdk.NewClient(&sdk.Implementation{Name: "mcpd-gateway", Version: u.s.opts.Version}, &sdk.ClientOptions{
		// No roots, sampling or elicitation: the gateway has nothing to offer upstream.
		Capabilities:               &sdk.ClientCapabilities{},
		ToolListChangedHandler:     func(context.Context, *sdk.ToolListChangedRequest) { u.kick() },
		PromptListChangedHandler:   func(context.Context, *sdk.PromptListChangedRequest) { u.kick() },
		ResourceListChangedHandler: func(context.Context, *sdk.ResourceListChangedRequest) { u.kick() },
		Logger:                     sdkLogger(u.log),
	})
	t, err := u.transport(runCtx)
	if err != nil {
		return err
	}
	cctx, ccancel := context.WithTimeout(runCtx, u.cfg.Timeout)
	cs, err := client.Connect(cctx, t, nil)
	ccancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer cs.Close()
	u.mu.Lock()
	u.session, u.runCtx, u.connected, u.lastErr = cs, runCtx, true, ""
	if attempt > 0 {
		u.restarts++
	}
	u.mu.Unlock()
	proto := ""
	if ir := cs.InitializeResult(); ir != nil {
		proto = ir.ProtocolVersion
	}
	u.log.Info("mcp: upstream connected", "protocol_version", proto, "attempt", attempt)
	if err := u.sync(runCtx, cs); err != nil {
		u.setErr(err)
		u.log.Warn("mcp: upstream listing failed", "err", err)
	}
	done := make(chan error, 1)
	go func() { done <- cs.Wait() }()
	for {
		select {
		case <-ctx.Done():
			_ = cs.Close()
			<-done
			return ctx.Err()
		case <-u.resync:
			if err := u.sync(runCtx, cs); err != nil {
				u.setErr(err)
				u.log.Warn("mcp: upstream listing failed", "err", err)
			}
		case err := <-done:
			if err == nil {
				err = errors.New("connection closed")
			}
			return err
		}
	}
}

func (u *upstream) setErr(err error) {
	u.mu.Lock()
	u.lastErr = err.Error()
	u.mu.Unlock()
}

func (u *upstream) kick() {
	select {
	case u.resync <- struct{}{}:
	default:
	}
}

// transport builds the connection of one attempt; a stdio process lives as long as runCtx.
func (u *upstream) transport(runCtx context.Context) (sdk.Transport, error) {
	if u.cfg.Command != "" {
		cmd := exec.CommandContext(runCtx, u.cfg.Command, u.cfg.Args...)
		cmd.Env = childEnv(u.cfg.Env)
		cmd.Dir = u.cfg.Dir
		cmd.Stderr = &logWriter{log: u.log}
		cmd.WaitDelay = 5 * time.Second
		return &sdk.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil
	}
	base := http.DefaultTransport
	hc := &http.Client{}
	if u.cfg.HTTPClient != nil {
		*hc = *u.cfg.HTTPClient
		if hc.Transport != nil {
			base = hc.Transport
		}
	}
	hc.Transport = &credentials{base: base, header: u.cfg.Header, token: u.cfg.Token}
	return &sdk.StreamableClientTransport{Endpoint: u.cfg.URL, HTTPClient: hc, MaxRetries: 2}, nil
}

// childEnv is the environment of a stdio upstream: a few variables programs need to run, and the configured
// ones. The gateway's own environment (which may hold its secrets) is not inherited.
func childEnv(extra map[string]string) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "USER", "SYSTEMROOT"} {
		if _, set := extra[k]; set {
			continue
		}
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	keys := slices.Sorted(maps.Keys(extra))
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// credentials adds the gateway's own credentials to requests to an HTTP upstream.
type credentials struct {
	base   http.RoundTripper
	header http.Header
	token  func(context.Context) (string, error)
}

func (c *credentials) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	for k, vs := range c.header {
		r.Header[k] = slices.Clone(vs)
	}
	if c.token != nil {
		tok, err := c.token(req.Context())
		if err != nil {
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, fmt.Errorf("upstream credentials: %w", err)
		}
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return c.base.RoundTrip(r)
}

// logWriter logs what a stdio upstream writes to stderr, a line at a time, at debug level: an upstream may
// print what it was configured with, secrets included.
type logWriter struct {
	log *slog.Logger
	mu  sync.Mutex
	buf []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			if len(w.buf) > 4096 {
				w.log.Debug("mcp: upstream stderr", "line", truncate(string(w.buf), 1000))
				w.buf = w.buf[:0]
			}
			return len(p), nil
		}
		if line := strings.TrimRight(string(w.buf[:i]), "\r"); line != "" {
			w.log.Debug("mcp: upstream stderr", "line", truncate(line, 1000))
		}
		w.buf = w.buf[i+1:]
	}
}

// current returns the live session and the context of its connection, or nil.
func (u *upstream) current() (*sdk.ClientSession, context.Context) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.connected {
		return nil, nil
	}
	return u.session, u.runCtx
}

// callContext returns the context of a call to the upstream: the connection's (no value of the caller's
// context travels upstream), cancelled when the caller's is, bounded by Timeout.
func (u *upstream) callContext(caller, conn context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(conn, u.cfg.Timeout)
	stop := context.AfterFunc(caller, cancel)
	return ctx, func() { stop(); cancel() }
}

// wireError turns a failed upstream call into a clean JSON-RPC error: the upstream's own JSON-RPC errors
// pass through; transport failures become CodeUpstreamUnavailable without internal detail (logged).
func (u *upstream) wireError(caller context.Context, op string, err error) error {
	var we *jsonrpc.Error
	if errors.As(err, &we) && we.Code != 0 {
		return &jsonrpc.Error{Code: we.Code, Message: we.Message, Data: we.Data}
	}
	if caller.Err() != nil {
		return caller.Err()
	}
	u.log.Warn("mcp: upstream call failed", "op", op, "err", err)
	msg := fmt.Sprintf("upstream %q is unavailable", u.cfg.Name)
	if errors.Is(err, context.DeadlineExceeded) {
		msg = fmt.Sprintf("upstream %q did not answer within %s", u.cfg.Name, u.cfg.Timeout)
	}
	return &jsonrpc.Error{Code: CodeUpstreamUnavailable, Message: msg}
}

func (u *upstream) unavailable() error {
	return &jsonrpc.Error{Code: CodeUpstreamUnavailable, Message: fmt.Sprintf("upstream %q is unavailable", u.cfg.Name)}
}
