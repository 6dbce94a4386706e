// Command protected-api is a small HTTP API protected by mcpauth's rs middleware: it publishes RFC 9728
// metadata for its resource and serves two routes under the resource's path,
//
//	GET <path>/hello  needs mcp:tools
//	GET <path>/admin  needs mcp:admin
//
// both answering {"sub","client_id","scope","org_id","connections","jkt"} from the verified token.
//
// With authd running (go run ./cmd/authd serve --bootstrap examples/bootstrap.yaml):
//
//	go run ./examples/protected-api --issuer http://localhost:9000 --resource http://localhost:8000/mcp --addr 127.0.0.1:8000
//	TOKEN=$(curl -s -u svc-reporter:s3cr3t-given-only-in-bootstrap -d grant_type=client_credentials \
//	    -d resource=http://localhost:8000/mcp http://localhost:9000/token | jq -r .access_token)
//	curl -i -H "Authorization: Bearer $TOKEN" http://localhost:8000/mcp/hello   # 200
//	curl -i -H "Authorization: Bearer $TOKEN" http://localhost:8000/mcp/admin   # 403 insufficient_scope
//	curl -i http://localhost:8000/mcp/hello                                     # 401 with resource_metadata
//	curl -s http://localhost:8000/.well-known/oauth-protected-resource/mcp
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ddls/mcpauth/prm"
	"github.com/ddls/mcpauth/rs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "protected-api:", err)
		os.Exit(1)
	}
}

// config is the command line.
type config struct {
	addr, issuer, resource string
	requireDPoP            bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("protected-api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&c.issuer, "issuer", "http://localhost:9000", "issuer identifier of the authorization server (authd)")
	fs.StringVar(&c.resource, "resource", "http://127.0.0.1:8080/api", "canonical URI of this API: the token audience and the URL clients use")
	fs.BoolVar(&c.requireDPoP, "require-dpop", false, "accept DPoP-bound tokens only")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return c, nil
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	h, err := newHandler(ctx, c, log)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: c.addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("protected-api listening", "addr", c.addr, "resource", c.resource, "issuer", c.issuer)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// newHandler builds the API: metadata, and the two routes behind rs.
func newHandler(ctx context.Context, c config, log *slog.Logger) (http.Handler, error) {
	// The verifier checks the issuer and canonicalizes the resource (the aud authd writes).
	v, err := rs.NewJWTVerifier(ctx, c.issuer, c.resource, &rs.JWTOptions{Logger: log})
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(v.Resource())
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" || strings.ContainsAny(u.Path, "{}") {
		return nil, errors.New("--resource: use a URI without query or braces")
	}
	mw, err := rs.New(v, &rs.Options{RequireDPoP: c.requireDPoP, Logger: log})
	if err != nil {
		return nil, err
	}
	md := mw.Metadata()
	md.ScopesSupported = []string{"mcp:tools", "mcp:admin"}
	md.ResourceName = "Protected API example"
	meta, err := prm.NewHandler(md)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, p := range meta.Paths() {
		mux.Handle(p, meta)
	}
	mux.Handle("GET "+u.Path+"/hello", mw.Require("mcp:tools")(http.HandlerFunc(whoami)))
	mux.Handle("GET "+u.Path+"/admin", mw.Require("mcp:admin")(http.HandlerFunc(whoami)))
	return mux, nil
}

// whoami answers with the caller, from the principal rs put in the context.
func whoami(w http.ResponseWriter, r *http.Request) {
	p := rs.PrincipalFrom(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		Sub         string   `json:"sub"`
		ClientID    string   `json:"client_id"`
		Scope       string   `json:"scope"`
		OrgID       string   `json:"org_id"`
		Connections []string `json:"connections"`
		JKT         string   `json:"jkt"`
	}{p.Subject, p.ClientID, strings.Join(p.Scopes, " "), p.OrgID, p.Connections, p.JKT})
}
