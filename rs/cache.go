package rs

import (
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultCacheSize is the default bound of a verifier's token cache.
const DefaultCacheSize = 10_000

// tokenCache remembers verified tokens, keyed by the SHA-256 of the token (the token itself is never
// stored), until a deadline that is never after the token's exp. It is bounded: when full, expired entries
// are swept (at most once a second), and if none has expired an arbitrary entry makes room; a cache miss
// only costs a verification.
type tokenCache struct {
	max int

	mu        sync.RWMutex
	m         map[[sha256.Size]byte]cacheEntry
	lastSweep time.Time
}

type cacheEntry struct {
	p     *Principal
	until time.Time
}

func newTokenCache(max int) *tokenCache {
	if max <= 0 {
		return nil
	}
	return &tokenCache{max: max, m: make(map[[sha256.Size]byte]cacheEntry)}
}

// get returns the principal of a token verified before, unless its entry has expired. A nil cache is empty.
func (c *tokenCache) get(key *[sha256.Size]byte, now time.Time) *Principal {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	e, ok := c.m[*key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil
	}
	return e.p
}

func (c *tokenCache) put(key *[sha256.Size]byte, p *Principal, until, now time.Time) {
	if c == nil || !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[*key]; !ok && len(c.m) >= c.max {
		if now.Sub(c.lastSweep) >= time.Second {
			c.lastSweep = now
			for k, e := range c.m {
				if !now.Before(e.until) {
					delete(c.m, k)
				}
			}
		}
		if len(c.m) >= c.max {
			for k := range c.m { // Go randomizes map iteration: a random victim
				delete(c.m, k)
				break
			}
		}
	}
	c.m[*key] = cacheEntry{p: p, until: until}
}

// clear empties the cache (after the issuer withdrew a key).
func (c *tokenCache) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

func (c *tokenCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
