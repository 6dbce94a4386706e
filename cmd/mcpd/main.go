// Command mcpd is mcpauth's MCP server and gateway: an MCP server (Streamable HTTP, every protocol version
// of the Go SDK) protected by package rs against authd's tokens, with the built-in whoami tool, fronting
// the MCP servers its configuration file declares.
//
//	mcpd [--addr 127.0.0.1:8000] [--issuer http://localhost:9000] [--resource http://localhost:8000/mcp] [--config FILE]
//
// The MCP endpoint is the path of --resource; the protected resource metadata is at
// /.well-known/oauth-protected-resource and its path-suffixed form. Every flag has an MCPD_… environment
// variable. Logs are JSON on stderr, never with a token.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/ddls/mcpauth/internal/cli"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/ddls/mcpauth/internal/oauthuri"
	"github.com/ddls/mcpauth/mcp"
	"github.com/ddls/mcpauth/rs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type flags struct {
	addr, issuer, resource, configFile string
	connectIssuer                      string
	requireDPoP, insecureHTTPIssuer    bool
	issuerWait, shutdownGrace          time.Duration
	logFormat, logLevel                string
}

// errUsage means the flag package already printed the problem.
var errUsage = errors.New("usage")

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("mcpd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", cli.EnvOr("MCPD_ADDR", "127.0.0.1:8000"), "listen address (MCPD_ADDR)")
	fs.StringVar(&f.issuer, "issuer", cli.EnvOr("MCPD_ISSUER", "http://localhost:9000"), "issuer of the access tokens: authd's URL (MCPD_ISSUER)")
	fs.StringVar(&f.resource, "resource", cli.EnvOr("MCPD_RESOURCE", "http://localhost:8000/mcp"), "canonical URI of this MCP server, the URL clients connect to and the tokens' audience; the MCP endpoint is its path (MCPD_RESOURCE)")
	fs.StringVar(&f.configFile, "config", cli.EnvOr("MCPD_CONFIG", ""), "configuration file: tool policies, upstreams, origins; see mcp/CONFIG.md (MCPD_CONFIG)")
	fs.StringVar(&f.connectIssuer, "connect-issuer", cli.EnvOr("MCPD_CONNECT_ISSUER", ""), "host:port to connect to for the issuer's host, e.g. authd:9000 inside docker compose, while the issuer stays http://localhost:9000 (MCPD_CONNECT_ISSUER)")
	fs.BoolVar(&f.requireDPoP, "require-dpop", cli.EnvBool("MCPD_REQUIRE_DPOP"), "accept DPoP-bound tokens only, RFC 9449 §7.2 (MCPD_REQUIRE_DPOP)")
	fs.BoolVar(&f.insecureHTTPIssuer, "insecure-http-issuer", cli.EnvBool("MCPD_INSECURE_HTTP_ISSUER"), "allow an http issuer on a non-loopback host; anyone on the path could forge tokens: MUST NOT be used in production (MCPD_INSECURE_HTTP_ISSUER)")
	fs.DurationVar(&f.issuerWait, "issuer-wait", cli.EnvDuration("MCPD_ISSUER_WAIT", time.Minute), "how long to wait at start for the issuer's metadata and keys (MCPD_ISSUER_WAIT)")
	fs.DurationVar(&f.shutdownGrace, "shutdown-grace", cli.EnvDuration("MCPD_SHUTDOWN_GRACE", 5*time.Second), "how long requests in flight may finish at shutdown (MCPD_SHUTDOWN_GRACE)")
	fs.StringVar(&f.logFormat, "log-format", cli.EnvOr("MCPD_LOG_FORMAT", "json"), "log format: json or text (MCPD_LOG_FORMAT)")
	fs.StringVar(&f.logLevel, "log-level", cli.EnvOr("MCPD_LOG_LEVEL", "info"), "log level: debug, info, warn, error (MCPD_LOG_LEVEL)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: mcpd [flags]\n\nAn MCP server and gateway protected by mcpauth's tokens.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return nil, errUsage
	}
	return f, nil
}

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	if err := serve(ctx, f, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "mcpd: %v\n", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, f *flags, stdout, stderr io.Writer) error {
	log, err := cli.NewLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	resource, err := oauthuri.CanonicalResource(f.resource)
	if err != nil {
		return fmt.Errorf("--resource: %w", err)
	}
	cfg := &mcp.Config{}
	if f.configFile != "" {
		if cfg, err = mcp.LoadConfig(f.configFile); err != nil {
			return err
		}
	}
	hc, err := issuerClient(f.issuer, f.connectIssuer)
	if err != nil {
		return err
	}
	v, err := waitVerifier(ctx, log, f, resource, hc)
	if err != nil {
		return err
	}
	auth, err := rs.New(v, &rs.Options{RequireDPoP: f.requireDPoP || cfg.RequireDPoP, Logger: log})
	if err != nil {
		return err
	}
	opts := cfg.Options()
	opts.Logger, opts.Version = log, version()
	srv, err := mcp.New(auth, opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := cfg.Apply(srv); err != nil {
		return err
	}
	mux := http.NewServeMux()
	// Liveness for orchestrators; it says nothing about upstreams or callers.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("/", srv.Handler())

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		// No WriteTimeout: responses are SSE streams that last as long as a tool call or a session.
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("mcpd ready", "addr", ln.Addr().String(), "resource", resource, "issuer", f.issuer,
		"config", f.configFile, "upstreams", len(cfg.Upstreams), "require_dpop", f.requireDPoP || cfg.RequireDPoP)
	fmt.Fprintf(stdout, "mcpd listening on %s (resource %s, issuer %s)\n", ln.Addr(), resource, f.issuer)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	return shutdown(hs, srv, f.shutdownGrace)
}

// shutdown stops accepting connections and lets requests in flight finish for grace; then it closes the MCP
// sessions (their SSE streams never end by themselves) and the upstreams, and what is left.
func shutdown(hs *http.Server, srv *mcp.Server, grace time.Duration) error {
	gctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- hs.Shutdown(gctx) }()
	select {
	case err := <-done:
		_ = srv.Close()
		return err
	case <-gctx.Done():
	}
	_ = srv.Close()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		_ = hs.Close()
	}
	return nil
}

// waitVerifier builds the token verifier; rs retries while the issuer is not up yet (compose starts both),
// for at most --issuer-wait.
func waitVerifier(ctx context.Context, log *slog.Logger, f *flags, resource string, hc *http.Client) (*rs.JWTVerifier, error) {
	wctx, cancel := context.WithTimeout(ctx, f.issuerWait)
	defer cancel()
	v, err := rs.NewJWTVerifier(wctx, f.issuer, resource, &rs.JWTOptions{HTTPClient: hc, Logger: log, InsecureAllowHTTP: f.insecureHTTPIssuer})
	if err != nil {
		return nil, fmt.Errorf("issuer %s: %w", f.issuer, err)
	}
	return v, nil
}

// issuerClient returns the HTTP client for the issuer's metadata and keys. With connect, connections to the
// issuer's host:port go to connect instead (a container reaching authd by its service name while the
// issuer identifier, checked in every token, stays the URL users see).
func issuerClient(issuer, connect string) (*http.Client, error) {
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("--issuer %q is not an absolute URL", issuer)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if connect != "" {
		if _, _, err := net.SplitHostPort(connect); err != nil {
			return nil, fmt.Errorf("--connect-issuer %q: want host:port", connect)
		}
		target := u.Host
		if u.Port() == "" {
			target = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
		}
		d := &net.Dialer{Timeout: 10 * time.Second}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.EqualFold(addr, target) {
				addr = connect
			}
			return d.DialContext(ctx, network, addr)
		}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
