package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/ddls/mcpauth/internal/cli"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ddls/mcpauth/as"
	"github.com/ddls/mcpauth/as/bootstrap"
	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/as/store/memory"
	"github.com/ddls/mcpauth/as/store/postgres"
	"github.com/ddls/mcpauth/dpop/pgreplay"
	"github.com/ddls/mcpauth/internal/oauthuri"
	"github.com/ddls/mcpauth/migrations"
)

type serveConfig struct {
	addr, issuer, databaseURL, bootstrap string
	noMigrate, insecureHTTP, dpopNonces  bool
	grace, accessTTL                     time.Duration
	signingAlg, defaultResource          string
	tlsCert, tlsKey                      string
	logFormat, logLevel                  string
}

func serveFlags(args []string, stderr io.Writer) (*serveConfig, error) {
	c := &serveConfig{}
	fs := newFlags("serve", stderr)
	fs.StringVar(&c.addr, "addr", cli.EnvOr("AUTHD_ADDR", "127.0.0.1:9000"), "listen address (AUTHD_ADDR)")
	fs.StringVar(&c.issuer, "issuer", cli.EnvOr("AUTHD_ISSUER", "http://localhost:9000"), "issuer URL; https unless loopback (AUTHD_ISSUER)")
	fs.StringVar(&c.databaseURL, "database-url", cli.EnvOr("DATABASE_URL", ""), "PostgreSQL URL; empty: in-memory store (DATABASE_URL)")
	fs.StringVar(&c.bootstrap, "bootstrap", cli.EnvOr("AUTHD_BOOTSTRAP", ""), "bootstrap file (YAML or JSON) applied at start (AUTHD_BOOTSTRAP)")
	fs.BoolVar(&c.noMigrate, "no-migrate", cli.EnvBool("AUTHD_NO_MIGRATE"), "do not apply migrations at start (AUTHD_NO_MIGRATE)")
	fs.BoolVar(&c.insecureHTTP, "insecure-http-issuer", cli.EnvBool("AUTHD_INSECURE_HTTP_ISSUER"), "allow an http issuer on a non-loopback host; MUST NOT be used in production (AUTHD_INSECURE_HTTP_ISSUER)")
	fs.BoolVar(&c.dpopNonces, "dpop-nonces", cli.EnvBool("AUTHD_DPOP_NONCES"), "require server nonces in DPoP proofs at the token endpoint, RFC 9449 §8 (AUTHD_DPOP_NONCES)")
	fs.DurationVar(&c.grace, "refresh-grace", cli.EnvDuration("AUTHD_REFRESH_GRACE", 10*time.Second), "how long a rotated refresh token may be retried (AUTHD_REFRESH_GRACE)")
	fs.DurationVar(&c.accessTTL, "access-token-ttl", cli.EnvDuration("AUTHD_ACCESS_TOKEN_TTL", 10*time.Minute), "default access-token lifetime (AUTHD_ACCESS_TOKEN_TTL)")
	fs.StringVar(&c.signingAlg, "signing-alg", cli.EnvOr("AUTHD_SIGNING_ALG", as.AlgES256), "access-token algorithm: ES256, EdDSA or RS256 (AUTHD_SIGNING_ALG)")
	fs.StringVar(&c.defaultResource, "default-resource", cli.EnvOr("AUTHD_DEFAULT_RESOURCE", ""), "resource used when a request names none and the client has several (AUTHD_DEFAULT_RESOURCE)")
	fs.StringVar(&c.tlsCert, "tls-cert", cli.EnvOr("AUTHD_TLS_CERT", ""), "TLS certificate file (AUTHD_TLS_CERT)")
	fs.StringVar(&c.tlsKey, "tls-key", cli.EnvOr("AUTHD_TLS_KEY", ""), "TLS key file (AUTHD_TLS_KEY)")
	fs.StringVar(&c.logFormat, "log-format", cli.EnvOr("AUTHD_LOG_FORMAT", "json"), "log format: json or text (AUTHD_LOG_FORMAT)")
	fs.StringVar(&c.logLevel, "log-level", cli.EnvOr("AUTHD_LOG_LEVEL", "info"), "log level: debug, info, warn, error (AUTHD_LOG_LEVEL)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: authd serve [flags]\n\nThe key-encryption key comes from AUTHD_KEK (32 bytes, base64); it is required with PostgreSQL.\n\n")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	return c, nil
}

// checkIssuer refuses an http issuer outside loopback unless explicitly allowed (OAuth 2.1 §1.5: TLS).
func checkIssuer(issuer string, insecure bool) error {
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("--issuer %q is not an absolute URL", issuer)
	}
	if u.Scheme == "http" && !oauthuri.IsLoopbackHost(u.Hostname()) && !insecure {
		return fmt.Errorf("--issuer %q uses http on a non-loopback host; use https or pass --insecure-http-issuer (never in production)", issuer)
	}
	return nil
}

// openStore returns the configured store and the key-encryption key to seal signing keys with.
func openStore(ctx context.Context, c *serveConfig, log *slog.Logger) (store.Store, []byte, error) {
	opts := store.Options{RefreshGracePeriod: c.grace}
	if c.databaseURL == "" {
		log.Warn("NO DATABASE_URL: using the IN-MEMORY store. Everything (clients, users, tokens, signing keys) is lost on exit. Development and demos only.")
		kek := make([]byte, 32)
		_, _ = rand.Read(kek)
		if v := cli.EnvOr("AUTHD_KEK", ""); v != "" {
			k, err := as.ParseKEK(v)
			if err != nil {
				return nil, nil, fmt.Errorf("AUTHD_KEK: %w", err)
			}
			kek = k
		}
		return memory.New(opts), kek, nil
	}
	kekText := cli.EnvOr("AUTHD_KEK", "")
	if kekText == "" {
		return nil, nil, errors.New("AUTHD_KEK is required with PostgreSQL: 32 random bytes, base64 (e.g. `openssl rand -base64 32`); every replica needs the same value")
	}
	kek, err := as.ParseKEK(kekText)
	if err != nil {
		return nil, nil, fmt.Errorf("AUTHD_KEK: %w", err)
	}
	if !c.noMigrate {
		if err := migrations.MigrateURL(ctx, c.databaseURL); err != nil {
			return nil, nil, redactURLError(err)
		}
	}
	st, err := postgres.Open(ctx, c.databaseURL, opts)
	if err != nil {
		return nil, nil, err
	}
	return st, kek, nil
}

// redactURLError keeps connection errors from echoing a database password.
func redactURLError(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "@") && strings.Contains(msg, "://") {
		return errors.New("cannot reach or migrate the database (check DATABASE_URL)")
	}
	return err
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := serveFlags(args, stderr)
	if err != nil {
		return err
	}
	log, err := cli.NewLogger(stderr, c.logFormat, c.logLevel)
	if err != nil {
		return err
	}
	if err := checkIssuer(c.issuer, c.insecureHTTP); err != nil {
		return err
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	start := time.Now()
	st, kek, err := openStore(ctx, c, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if c.bootstrap != "" {
		f, err := bootstrap.Load(c.bootstrap)
		if err != nil {
			return err
		}
		if err := bootstrap.Apply(ctx, st, f, bootstrap.ApplyOptions{}); err != nil {
			return fmt.Errorf("bootstrap %s: %w", c.bootstrap, err)
		}
		log.Info("bootstrap applied", "file", c.bootstrap)
	}
	opts := &as.Options{
		KEK: kek, SigningAlg: c.signingAlg, AccessTokenTTL: c.accessTTL, DefaultResource: c.defaultResource, Logger: log,
		DPoPNonces: c.dpopNonces,
	}
	if pg, ok := st.(*postgres.Store); ok {
		// Proof jti values are shared by every replica on this database (RFC 9449 §11.1).
		if opts.DPoPReplay, err = pgreplay.New(pg.Pool(), nil); err != nil {
			return err
		}
	}
	srv, err := as.New(ctx, c.issuer, st, opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if p, ok := st.(interface {
		Purge(context.Context) (int64, error)
	}); ok {
		go purgeLoop(ctx, p, log)
	}
	errc := make(chan error, 1)
	go func() {
		if c.tlsCert != "" {
			errc <- hs.ServeTLS(ln, c.tlsCert, c.tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	log.Info("authd ready", "issuer", srv.Issuer(), "addr", ln.Addr().String(), "store", storeKind(c), "startup", time.Since(start).String())
	fmt.Fprintf(stdout, "authd listening on %s (issuer %s)\n", ln.Addr(), srv.Issuer())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

func storeKind(c *serveConfig) string {
	if c.databaseURL == "" {
		return "memory"
	}
	return "postgres"
}

func purgeLoop(ctx context.Context, p interface {
	Purge(context.Context) (int64, error)
}, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := p.Purge(ctx); err != nil {
				log.Warn("purge expired rows", "err", err)
			} else if n > 0 {
				log.Info("purged expired rows", "rows", n)
			}
		}
	}
}

func cmdMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("migrate", stdout)
	dbURL := fs.String("database-url", cli.EnvOr("DATABASE_URL", ""), "PostgreSQL URL (DATABASE_URL)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dbURL == "" {
		return errors.New("--database-url or DATABASE_URL is required")
	}
	if err := migrations.MigrateURL(ctx, *dbURL); err != nil {
		return redactURLError(err)
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}
