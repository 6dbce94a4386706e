package as

import (
	"log/slog"

	"github.com/ddls/mcpauth/dpop"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options are the optional settings of a Server. The zero value is valid and strict.
type Options struct {
	// KEK is the 32-byte key-encryption key that seals signing keys in the store. Required.
	KEK []byte
	// SigningAlg is the access-token algorithm: ES256 (default), EdDSA or RS256.
	SigningAlg string
	// KeyRetention is how long a key stays published after its successor took over; it must exceed the
	// longest access-token lifetime. Default 25h.
	KeyRetention time.Duration
	// AccessTokenTTL is the default access-token lifetime when a resource sets none. Default 10m.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the refresh-token lifetime. Default 30 days.
	RefreshTokenTTL time.Duration
	// AuthorizeCodeTTL is the authorization-code lifetime. Default 60s (OAuth 2.1 §4.1.2: short-lived).
	AuthorizeCodeTTL time.Duration
	// SessionTTL is how long a browser login lasts. Default 12h.
	SessionTTL time.Duration
	// DefaultResource is used when a request names no resource and the client allows several (RFC 8707).
	DefaultResource string
	// Logger receives structured logs; nil discards them. No token, secret or password is ever logged.
	Logger *slog.Logger
	// Registerer receives the Prometheus metrics; nil: a private registry served at /metrics.
	Registerer prometheus.Registerer
	// Gatherer is served at /metrics; nil: the private registry (or prometheus.DefaultGatherer when
	// Registerer is prometheus.DefaultRegisterer).
	Gatherer prometheus.Gatherer
	// DPoPAlgs are the JWS algorithms accepted in DPoP proofs; empty: ES256, EdDSA, RS256, PS256.
	DPoPAlgs []string
	// DPoPReplay records proof jti values; nil: in memory (per process). Use the PostgreSQL replay store when
	// several replicas share a database, so a proof replayed to another replica is refused too.
	DPoPReplay dpop.ReplayStore
	// DPoPNonces makes the token endpoint demand server nonces in DPoP proofs (RFC 9449 §8).
	DPoPNonces bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxBodyBytes bounds request bodies. Default 64 KiB.
	MaxBodyBytes int64
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.KeyRetention == 0 {
		c.KeyRetention = 25 * time.Hour
	}
	if c.AccessTokenTTL == 0 {
		c.AccessTokenTTL = 10 * time.Minute
	}
	if c.RefreshTokenTTL == 0 {
		c.RefreshTokenTTL = 30 * 24 * time.Hour
	}
	if c.AuthorizeCodeTTL == 0 {
		c.AuthorizeCodeTTL = time.Minute
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 64 << 10
	}
	return c
}
