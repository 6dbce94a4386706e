// https://www.rfc-editor.org/rfc/rfc9068

package rs

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ddls/mcpauth/internal/oauthuri"
)

// Verifier checks an access token presented to a resource and describes its caller. Verify returns an *Error
// for a refused token (any other error is treated as invalid_token); the Principal it returns may be shared
// between calls and must not be modified. Implementations must be safe for concurrent use.
type Verifier interface {
	// Verify checks token and returns the caller it describes.
	Verify(ctx context.Context, token string) (*Principal, error)
	// Resource returns the canonical URI of the resource the verifier accepts tokens for (their aud).
	Resource() string
	// Issuer returns the issuer identifier of the authorization server whose tokens it accepts.
	Issuer() string
}

var (
	_ Verifier = (*JWTVerifier)(nil)
	_ Verifier = (*IntrospectionVerifier)(nil)
)

// JWTOptions configures a JWTVerifier. The zero value is strict and safe: ES256, EdDSA, RS256 and PS256
// tokens; 30 s of clock skew; the JWKS discovered from the issuer's RFC 8414 metadata, over https (or http to
// a loopback host); a 10,000-entry verified-token cache.
type JWTOptions struct {
	// AllowedAlgs restricts the token signature algorithms (RFC 9068 §4: the resource server "MUST validate
	// the signature ... using the algorithm specified in the JWT alg Header Parameter" and must not accept
	// none). Empty means ES256, EdDSA, RS256, PS256. none and HMAC algorithms are refused.
	AllowedAlgs []string
	// Skew is the clock skew allowed for exp, nbf and iat; 0 means DefaultSkew. At most 5 minutes.
	Skew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// HTTPClient fetches the metadata and the JWKS; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// JWKSURI, when set, is used instead of discovering jwks_uri from the issuer's metadata.
	JWKSURI string
	// KeySetRefreshInterval is the least time between two JWKS fetches caused by an unknown kid; 0 means
	// DefaultKeySetRefreshInterval.
	KeySetRefreshInterval time.Duration
	// KeySetMaxAge is how long a JWKS is trusted before it is fetched again; 0 means DefaultKeySetMaxAge.
	KeySetMaxAge time.Duration
	// CacheSize bounds the verified-token cache; 0 means DefaultCacheSize, negative disables the cache.
	CacheSize int
	// Logger receives key-set events; nil means slog.Default().
	Logger *slog.Logger
	// DiscoveryTimeout is how long NewJWTVerifier keeps retrying the issuer's metadata and first key set
	// (with backoff) before failing, so a resource server may start before its authorization server. Zero
	// means 30 s; negative means one attempt.
	DiscoveryTimeout time.Duration
	// InsecureAllowHTTP allows an issuer and a JWKS URI over plain http on any host. Anyone on the network
	// path could then substitute their own keys and forge tokens: it MUST NOT be used outside development
	// and tests. (http to a loopback host is allowed without it.)
	InsecureAllowHTTP bool
}

// JWTVerifier verifies RFC 9068 JWT access tokens locally, with the issuer's published keys. It is safe for
// concurrent use.
type JWTVerifier struct {
	issuer, resource string
	algs             algSet
	rules            claimRules
	now              func() time.Time
	keys             *keySet
	cache            *tokenCache
}

// NewJWTVerifier returns a verifier of tokens that issuer issues for resource. It fetches the issuer's
// metadata (RFC 8414 §3) and key set now, so an unreachable issuer is an error here rather than at the
// first request. resource is canonicalized (see internal/oauthuri); it must be the URI clients connect to.
func NewJWTVerifier(ctx context.Context, issuer, resource string, opts *JWTOptions) (*JWTVerifier, error) {
	var o JWTOptions
	if opts != nil {
		o = *opts
	}
	if err := checkServerURL("issuer", issuer, true, o.InsecureAllowHTTP); err != nil {
		return nil, err
	}
	res, err := oauthuri.CanonicalResource(resource)
	if err != nil {
		return nil, fmt.Errorf("rs: resource: %w", err)
	}
	algs, err := newAlgSet(o.AllowedAlgs)
	if err != nil {
		return nil, err
	}
	switch {
	case o.Skew < 0 || o.Skew > 5*time.Minute:
		return nil, errors.New("rs: Skew must be between 0 and 5 minutes")
	case o.Skew == 0:
		o.Skew = DefaultSkew
	}
	if o.KeySetRefreshInterval < 0 || o.KeySetMaxAge < 0 {
		return nil, errors.New("rs: key set intervals must not be negative")
	}
	if o.KeySetRefreshInterval == 0 {
		o.KeySetRefreshInterval = DefaultKeySetRefreshInterval
	}
	if o.KeySetMaxAge == 0 {
		o.KeySetMaxAge = DefaultKeySetMaxAge
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DiscoveryTimeout == 0 {
		o.DiscoveryTimeout = 30 * time.Second
	}
	var v *JWTVerifier
	err = retryStartup(ctx, o.DiscoveryTimeout, o.Logger, issuer, func() error {
		var err error
		v, err = newJWTVerifier(ctx, issuer, res, algs, o)
		return err
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// newJWTVerifier discovers the key set and fetches it once.
func newJWTVerifier(ctx context.Context, issuer, res string, algs algSet, o JWTOptions) (*JWTVerifier, error) {
	jwksURI := o.JWKSURI
	if jwksURI == "" {
		md, err := discover(ctx, o.HTTPClient, issuer)
		if err != nil {
			return nil, err
		}
		if md.JWKSURI == "" {
			return nil, fmt.Errorf("rs: the metadata of %s has no jwks_uri", issuer)
		}
		jwksURI = md.JWKSURI
	}
	if err := checkServerURL("jwks_uri", jwksURI, false, o.InsecureAllowHTTP); err != nil {
		return nil, err
	}
	v := &JWTVerifier{
		issuer: issuer, resource: res, algs: algs, now: o.Now,
		rules: claimRules{issuer: issuer, resource: res, skew: o.Skew, jwt: true},
		cache: newTokenCache(o.CacheSize),
	}
	v.keys = &keySet{
		uri: jwksURI, client: o.HTTPClient, now: o.Now, log: o.Logger,
		refreshInterval: o.KeySetRefreshInterval, maxAge: o.KeySetMaxAge,
		onRemove: v.cache.clear,
	}
	if err := v.keys.refresh(ctx, true); err != nil {
		return nil, fmt.Errorf("rs: key set: %w", err)
	}
	return v, nil
}

// retryStartup calls try until it succeeds, ctx ends or timeout passes, backing off from 200 ms to 5 s.
// Only network errors (the server is not up yet) are retried; a misconfiguration fails at once.
func retryStartup(ctx context.Context, timeout time.Duration, log *slog.Logger, issuer string, try func() error) error {
	if timeout < 0 {
		return try()
	}
	deadline := time.Now().Add(timeout)
	wait := 200 * time.Millisecond
	for {
		err := try()
		var ne net.Error
		if err == nil || !errors.As(err, &ne) || time.Now().Add(wait).After(deadline) {
			return err
		}
		log.Warn("rs: authorization server not reachable yet; retrying", "issuer", issuer, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// Resource implements Verifier.
func (v *JWTVerifier) Resource() string { return v.resource }

// Issuer implements Verifier.
func (v *JWTVerifier) Issuer() string { return v.issuer }

// Verify implements Verifier: RFC 9068 §4 validation, answered from the cache when the token was verified
// before and has not expired.
func (v *JWTVerifier) Verify(ctx context.Context, token string) (*Principal, error) {
	key := sha256.Sum256([]byte(token))
	now := v.now()
	if p := v.cache.get(&key, now); p != nil {
		return p, nil
	}
	p, err := v.verify(ctx, token, now)
	if err != nil {
		return nil, err
	}
	// Never beyond exp: a cached token stops being accepted from the cache exactly when it expires.
	v.cache.put(&key, p, p.Expiry, now)
	return p, nil
}

func (v *JWTVerifier) verify(ctx context.Context, token string, now time.Time) (*Principal, *Error) {
	if len(token) > maxTokenSize {
		return nil, errInvalidToken("token_size", "The access token is too large.", nil)
	}
	j, e := parseCompactJWS(token)
	if e != nil {
		return nil, e
	}
	// RFC 9068 §4: "Resource servers MUST verify that the typ header value is "at+jwt" or
	// "application/at+jwt" and reject tokens carrying any other value." (Media types: case-insensitive.)
	if typ := j.header.Typ; !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, errInvalidToken("typ", "The token is not a JWT access token (typ at+jwt).", nil)
	}
	// RFC 9068 §4: "The resource server MUST validate the signature of all incoming JWT access tokens ...
	// using the algorithm specified in the JWT alg Header Parameter" and "MUST reject any JWT in which the
	// value of alg is none". RFC 8725 §3.1: only algorithms we allow, so HS256 with the public key as the
	// HMAC secret (algorithm confusion) never gets near a key.
	alg, ok := v.algs[j.header.Alg]
	if !ok {
		return nil, errInvalidToken("alg", "The access token's signature algorithm is not accepted.", nil)
	}
	// RFC 9068 §4: keys from the issuer's metadata jwks_uri, found by kid (RFC 7515 §4.1.4).
	k, err := v.keys.lookup(ctx, j.header.Kid)
	if err != nil {
		return nil, errInvalidToken("kid_unknown", "The access token is signed with an unknown key.", err)
	}
	if !k.fits(alg) {
		return nil, errInvalidToken("alg_key", "The access token's algorithm does not match its key.", nil)
	}
	if !k.verify(alg, j.signingInput, j.signature) {
		return nil, errInvalidToken("signature", "The access token's signature is not valid.", nil)
	}
	var c tokenClaims
	if e := decodeClaims(j.payload, &c); e != nil {
		return nil, e
	}
	return c.check(now, &v.rules, j.payload)
}
