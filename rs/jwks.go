// https://www.rfc-editor.org/rfc/rfc7517

package rs

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Defaults of the key-set cache.
const (
	// DefaultKeySetRefreshInterval is the least time between two fetches of the JWKS caused by an unknown kid.
	DefaultKeySetRefreshInterval = time.Minute
	// DefaultKeySetMaxAge is how long a fetched JWKS is used before the next verification fetches it again,
	// so that a key the issuer withdrew stops being trusted.
	DefaultKeySetMaxAge = 15 * time.Minute
	// maxKeys bounds the keys kept from one JWKS.
	maxKeys = 100
	// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3: "A key of size 2048 bits or larger
	// MUST be used").
	minRSABits = 2048
)

var (
	errKidUnknown   = errors.New("no key with this kid in the issuer's key set")
	errKidAmbiguous = errors.New("the token has no kid and the key set has several keys")
	errRateLimited  = errors.New("key set was fetched less than the refresh interval ago")
)

// keySet is the issuer's JWKS, cached by kid. An unknown kid (a key rotation) refetches the set, at most once
// per refreshInterval; concurrent misses wait for the same fetch. A set older than maxAge is refetched on
// the next lookup (still at most once per refreshInterval), so withdrawn keys stop verifying; if that fetch
// fails the old set stays in use.
type keySet struct {
	uri             string
	client          *http.Client
	refreshInterval time.Duration
	maxAge          time.Duration
	now             func() time.Time
	log             *slog.Logger
	onRemove        func() // called when a refresh withdraws a key

	mu        sync.RWMutex
	keys      map[string]*verificationKey
	fetched   time.Time // last successful fetch
	attempted time.Time // last fetch started
	inflight  *fetchCall
}

type fetchCall struct {
	done chan struct{}
	err  error
}

// lookup returns the key named kid ("" when the token has none: allowed only if the set holds one key).
func (s *keySet) lookup(ctx context.Context, kid string) (*verificationKey, error) {
	k, n, fresh := s.get(kid)
	if k != nil && fresh {
		return k, nil
	}
	if k == nil && kid == "" && n > 1 {
		return nil, errKidAmbiguous
	}
	// Unknown kid, or a stale set: refetch, rate-limited. A failed or rate-limited refresh keeps the set we
	// have, so a stale but known key still verifies; and with a known key we do not wait for a fetch another
	// request started.
	if err := s.refresh(ctx, k == nil); err != nil && k == nil {
		if errors.Is(err, errRateLimited) {
			return nil, errKidUnknown
		}
		return nil, fmt.Errorf("%w: %w", errKidUnknown, err)
	}
	k, n, _ = s.get(kid)
	if k == nil {
		if kid == "" && n > 1 {
			return nil, errKidAmbiguous
		}
		return nil, errKidUnknown
	}
	return k, nil
}

func (s *keySet) get(kid string) (k *verificationKey, n int, fresh bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n = len(s.keys)
	if kid == "" && n == 1 {
		for _, only := range s.keys {
			k = only
		}
	} else if kid != "" {
		k = s.keys[kid]
	}
	return k, n, s.now().Sub(s.fetched) < s.maxAge
}

// refresh fetches the set unless a fetch started less than refreshInterval ago. A caller arriving while a
// fetch is running waits for it and shares its result if wait is set, and returns errRateLimited otherwise.
func (s *keySet) refresh(ctx context.Context, wait bool) error {
	s.mu.Lock()
	if c := s.inflight; c != nil {
		s.mu.Unlock()
		if !wait {
			return errRateLimited
		}
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	now := s.now()
	if !s.attempted.IsZero() && now.Sub(s.attempted) < s.refreshInterval {
		s.mu.Unlock()
		return errRateLimited
	}
	s.attempted = now
	c := &fetchCall{done: make(chan struct{})}
	s.inflight = c
	s.mu.Unlock()

	// The fetch serves every waiting request: it must not die with the one that started it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultHTTPTimeout)
	keys, err := s.fetch(fctx)
	cancel()

	s.mu.Lock()
	removed := false
	if err == nil {
		for kid := range s.keys {
			if _, ok := keys[kid]; !ok {
				removed = true
			}
		}
		s.keys, s.fetched = keys, s.now()
	}
	s.inflight = nil
	c.err = err
	close(c.done)
	s.mu.Unlock()
	if err != nil {
		s.log.Warn("rs: fetching the issuer's key set failed", slog.String("jwks_uri", s.uri), slog.String("error", err.Error()))
	} else {
		s.log.Debug("rs: fetched the issuer's key set", slog.String("jwks_uri", s.uri), slog.Int("keys", len(keys)))
		if removed && s.onRemove != nil {
			s.onRemove()
		}
	}
	return err
}

// fetch reads the JWKS (RFC 7517 §5) and keeps the public signature keys it can use.
func (s *keySet) fetch(ctx context.Context) (map[string]*verificationKey, error) {
	body, err := fetchJSON(ctx, s.client, s.uri)
	if err != nil {
		return nil, err
	}
	return parseKeySet(body, s.log)
}

// parseKeySet keeps the usable keys of a JWKS document: public, for signatures, of a supported type and
// size. Keys it cannot use are skipped (logged), so one exotic key does not break verification with the
// others; a set with no usable key is an error.
func parseKeySet(body []byte, log *slog.Logger) (map[string]*verificationKey, error) {
	set, err := jwk.Parse(body, jwk.WithIgnoreParseError(true))
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	keys := map[string]*verificationKey{}
	dup := map[string]bool{}
	for i := range min(set.Len(), maxKeys) {
		key, _ := set.Key(i)
		kid, _ := key.KeyID()
		vk, err := importKey(key)
		if err != nil {
			log.Warn("rs: skipping a key of the issuer's key set", slog.String("kid", kid), slog.String("reason", err.Error()))
			continue
		}
		vk.kid = kid
		if _, ok := keys[kid]; ok || dup[kid] {
			// Two keys under one kid: which one the issuer meant is unknowable, so neither is used.
			log.Warn("rs: skipping keys with a duplicate kid in the issuer's key set", slog.String("kid", kid))
			delete(keys, kid)
			dup[kid] = true
			continue
		}
		keys[kid] = vk
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS has no usable signature key")
	}
	if _, ok := keys[""]; ok && len(keys) > 1 {
		// A key without kid in a set of several could be picked for any kid-less token; RFC 7517 §4.5 expects
		// kids to tell keys apart. Drop it rather than guess.
		log.Warn("rs: skipping a key without kid in a key set of several keys")
		delete(keys, "")
	}
	return keys, nil
}

func importKey(key jwk.Key) (*verificationKey, error) {
	// RFC 7517 §4.2: "use" "sig" for signature keys; a key meant for encryption must not verify tokens.
	if use, ok := key.KeyUsage(); ok && use != "sig" {
		return nil, fmt.Errorf("use is %q", use)
	}
	if priv, err := jwk.IsPrivateKey(key); err != nil {
		return nil, err
	} else if priv {
		return nil, errors.New("a private key is published")
	}
	vk := &verificationKey{}
	if a, ok := key.Algorithm(); ok {
		vk.alg = a.String()
		if _, known := algorithms[vk.alg]; !known {
			return nil, fmt.Errorf("alg %q is not a supported signature algorithm", vk.alg)
		}
	}
	var raw any
	if err := jwk.Export(key, &raw); err != nil {
		return nil, err
	}
	switch k := raw.(type) {
	case *ecdsa.PublicKey:
		// Refuses points that are not on the curve.
		if _, err := k.ECDH(); err != nil {
			return nil, fmt.Errorf("EC key: %w", err)
		}
		vk.ec = k
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is too small", k.N.BitLen())
		}
		vk.rsa = k
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 key has the wrong size")
		}
		vk.ed = k
	default:
		return nil, fmt.Errorf("unsupported key type %T", raw)
	}
	return vk, nil
}
