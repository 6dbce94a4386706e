// https://www.rfc-editor.org/rfc/rfc7662

package rs

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ddls/mcpauth/internal/oauthuri"
)

// DefaultIntrospectionCacheTTL is how long an active introspection result is reused by default.
const DefaultIntrospectionCacheTTL = 10 * time.Second

// IntrospectionOptions configures an IntrospectionVerifier. The zero value is strict and safe: the endpoint
// discovered from the issuer's metadata over https (or http to a loopback host), 30 s of clock skew, active
// results reused for 10 seconds (never beyond the token's exp), at most 10,000 of them.
type IntrospectionOptions struct {
	// Endpoint, when set, is used instead of discovering introspection_endpoint from the issuer's metadata.
	Endpoint string
	// HTTPClient calls the endpoint; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// CacheTTL is how long an active result is reused; 0 means DefaultIntrospectionCacheTTL, negative
	// disables the cache (every request asks the authorization server, and sees a revocation at once).
	CacheTTL time.Duration
	// CacheSize bounds the cache; 0 means DefaultCacheSize.
	CacheSize int
	// Skew is the clock skew allowed for exp, nbf and iat; 0 means DefaultSkew. At most 5 minutes.
	Skew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives endpoint failures; nil means slog.Default().
	Logger *slog.Logger
	// InsecureAllowHTTP allows an issuer and an endpoint over plain http on any host, which sends the
	// client secret and the tokens in clear text: it MUST NOT be used outside development and tests.
	InsecureAllowHTTP bool
}

// IntrospectionVerifier asks the authorization server about each token (RFC 7662), authenticating as a
// confidential client with client_secret_basic. It is the alternative to JWTVerifier for opaque tokens and
// for resources that must see revocation at once (with CacheTTL negative). It is safe for concurrent use.
type IntrospectionVerifier struct {
	issuer, resource string
	endpoint         string
	authorization    string // the Basic credentials header value
	client           *http.Client
	rules            claimRules
	ttl              time.Duration
	now              func() time.Time
	log              *slog.Logger
	cache            *tokenCache
}

// NewIntrospectionVerifier returns a verifier that introspects tokens at issuer's introspection endpoint
// (discovered now, per RFC 8414 §3, unless opts.Endpoint is set) as client clientID.
func NewIntrospectionVerifier(ctx context.Context, issuer, resource, clientID, clientSecret string, opts *IntrospectionOptions) (*IntrospectionVerifier, error) {
	var o IntrospectionOptions
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
	if clientID == "" || clientSecret == "" {
		return nil, errors.New("rs: introspection needs a client id and secret (RFC 7662 §2.1)")
	}
	switch {
	case o.Skew < 0 || o.Skew > 5*time.Minute:
		return nil, errors.New("rs: Skew must be between 0 and 5 minutes")
	case o.Skew == 0:
		o.Skew = DefaultSkew
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultIntrospectionCacheTTL
	}
	if o.CacheSize < 0 {
		return nil, errors.New("rs: CacheSize must not be negative (a negative CacheTTL disables the cache)")
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.CacheTTL < 0 {
		o.CacheSize = 0
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
	if o.Endpoint == "" {
		md, err := discover(ctx, o.HTTPClient, issuer)
		if err != nil {
			return nil, err
		}
		if md.IntrospectionEndpoint == "" {
			return nil, fmt.Errorf("rs: the metadata of %s has no introspection_endpoint", issuer)
		}
		o.Endpoint = md.IntrospectionEndpoint
	}
	if err := checkServerURL("introspection_endpoint", o.Endpoint, false, o.InsecureAllowHTTP); err != nil {
		return nil, err
	}
	// RFC 6749 §2.3.1: the client id and secret are form-urlencoded before they go into Basic credentials.
	req := &http.Request{Header: http.Header{}}
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
	return &IntrospectionVerifier{
		issuer: issuer, resource: res, endpoint: o.Endpoint, client: o.HTTPClient,
		authorization: req.Header.Get("Authorization"),
		rules:         claimRules{issuer: issuer, resource: res, skew: o.Skew},
		ttl:           o.CacheTTL, now: o.Now, log: o.Logger,
		cache: newTokenCache(o.CacheSize),
	}, nil
}

// Resource implements Verifier.
func (v *IntrospectionVerifier) Resource() string { return v.resource }

// Issuer implements Verifier.
func (v *IntrospectionVerifier) Issuer() string { return v.issuer }

// introspection is an RFC 7662 §2.2 response.
type introspection struct {
	tokenClaims
	Active    bool   `json:"active"`
	TokenType string `json:"token_type"`
}

// Verify implements Verifier.
func (v *IntrospectionVerifier) Verify(ctx context.Context, token string) (*Principal, error) {
	if len(token) > maxTokenSize {
		return nil, errInvalidToken("token_size", "The access token is too large.", nil)
	}
	key := sha256.Sum256([]byte(token))
	now := v.now()
	if p := v.cache.get(&key, now); p != nil {
		return p, nil
	}
	p, e := v.introspect(ctx, token, now)
	if e != nil {
		return nil, e
	}
	// Only active results are cached, for a short time and never beyond exp.
	until := now.Add(v.ttl)
	if p.Expiry.Before(until) {
		until = p.Expiry
	}
	v.cache.put(&key, p, until, now)
	return p, nil
}

func (v *IntrospectionVerifier) introspect(ctx context.Context, token string, now time.Time) (*Principal, *Error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, errUnavailable("introspection", "The access token could not be checked; retry later.", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", v.authorization)
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, v.unavailable(err)
	}
	body, err := readJSONResponse(resp)
	if err != nil {
		return nil, v.unavailable(err)
	}
	var r introspection
	if e := decodeClaims(body, &r); e != nil {
		return nil, v.unavailable(e)
	}
	// RFC 7662 §2.2: active is REQUIRED; anything but true means the token must not be accepted.
	if !r.Active {
		return nil, errInvalidToken("inactive", "The access token is not active.", nil)
	}
	p, e := r.check(now, &v.rules, body)
	if e != nil {
		return nil, e
	}
	// RFC 9449 §6.2: token_type DPoP says the token is bound; then cnf.jkt must say to which key.
	if strings.EqualFold(r.TokenType, "DPoP") && p.JKT == "" {
		return nil, errInvalidToken("cnf", "The introspection response says DPoP but has no cnf.jkt.", nil)
	}
	return p, nil
}

func (v *IntrospectionVerifier) unavailable(err error) *Error {
	v.log.Warn("rs: token introspection failed", slog.String("endpoint", v.endpoint), slog.String("error", err.Error()))
	return errUnavailable("introspection", "The access token could not be checked; retry later.", err)
}
