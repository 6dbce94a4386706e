// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ReplayStore records proof identifiers so a proof is accepted once (RFC 9449 §11.1: the server
// "MUST ... ensure that the same proof is not used more than once" within the time window).
//
// Use records key until the given time. It returns nil when key was not recorded or its record has expired
// (it is recorded anew), an error matching CheckReplay (errors.Is(err, dpop.CheckReplay); returning
// dpop.CheckReplay itself is fine) when key is recorded and live, and any other error when it cannot tell or
// cannot record: the Verifier then refuses the proof (CheckReplayStore), never accepts it unchecked. Of many
// concurrent calls with one key, at most one may return nil. Implementations must be safe for concurrent use.
type ReplayStore interface {
	Use(ctx context.Context, key string, until time.Time) error
}

// A ReplayStore in PostgreSQL, shared by replicas, is in package dpop/pgreplay, so that verifying proofs does
// not link a database driver; package dpop/dpoptest has the conformance suite every ReplayStore passes.
var _ ReplayStore = (*MemoryReplayStore)(nil)

// replayKey is the store key for a (jkt, jti) pair: a SHA-256 over both, so its length is bounded whatever
// the client sends, and a jti is scoped to its key (two clients may pick the same jti).
func replayKey(jkt, jti string) string {
	h := sha256.New()
	h.Write([]byte("mcpauth-dpop-jti\x00"))
	h.Write([]byte(jkt))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0]))
}

// DefaultMemoryReplayEntries is the default bound of a MemoryReplayStore. An entry lives at most twice the
// iat window (2 minutes by default), so this allows about 4,000 proofs a second sustained in the worst case
// (about 9,000 with honest clocks), in roughly 80 MB at most.
const DefaultMemoryReplayEntries = 1 << 19

// MemoryReplayOptions configures a MemoryReplayStore. The zero value is usable.
type MemoryReplayOptions struct {
	// MaxEntries bounds the number of live records; 0 means DefaultMemoryReplayEntries.
	MaxEntries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// MemoryReplayStore is a ReplayStore for a single process: a map plus a min-heap by expiry. Expired records
// are dropped as time passes (the soonest-expiring first). When MaxEntries live records exist, Use refuses
// new keys with an error (the Verifier turns it into CheckReplayStore) instead of evicting a live record:
// evicting one would let that proof be replayed.
type MemoryReplayStore struct {
	max int
	now func() time.Time

	mu   sync.Mutex
	live map[string]int64 // key → expiry, UnixNano
	heap []replayEntry    // min-heap on exp; holds exactly the keys of live
}

type replayEntry struct {
	exp int64
	key string
}

// NewMemoryReplayStore returns an in-memory store.
func NewMemoryReplayStore(opts *MemoryReplayOptions) (*MemoryReplayStore, error) {
	var o MemoryReplayOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxEntries < 0 {
		return nil, fmt.Errorf("dpop: MaxEntries must not be negative")
	}
	if o.MaxEntries == 0 {
		o.MaxEntries = DefaultMemoryReplayEntries
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &MemoryReplayStore{max: o.MaxEntries, now: o.Now, live: make(map[string]int64)}, nil
}

// Use implements ReplayStore.
func (s *MemoryReplayStore) Use(ctx context.Context, key string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now().UnixNano()
	exp := until.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if _, ok := s.live[key]; ok {
		return CheckReplay
	}
	if exp <= now {
		// Already past its lifetime: a proof this old fails the iat check, so there is nothing to guard.
		return nil
	}
	if len(s.live) >= s.max {
		return errors.New("dpop: memory replay store is full of live entries")
	}
	s.live[key] = exp
	s.push(replayEntry{exp: exp, key: key})
	return nil
}

// Len returns the number of live records.
func (s *MemoryReplayStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(s.now().UnixNano())
	return len(s.live)
}

// expire drops records whose expiry is not after now. Each record is popped once, so the cost is amortized.
func (s *MemoryReplayStore) expire(now int64) {
	for len(s.heap) > 0 && s.heap[0].exp <= now {
		delete(s.live, s.heap[0].key)
		s.pop()
	}
}

func (s *MemoryReplayStore) push(e replayEntry) {
	s.heap = append(s.heap, e)
	i := len(s.heap) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s.heap[p].exp <= s.heap[i].exp {
			break
		}
		s.heap[p], s.heap[i] = s.heap[i], s.heap[p]
		i = p
	}
}

func (s *MemoryReplayStore) pop() {
	n := len(s.heap) - 1
	s.heap[0] = s.heap[n]
	s.heap[n] = replayEntry{}
	s.heap = s.heap[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s.heap[l].exp < s.heap[m].exp {
			m = l
		}
		if r < n && s.heap[r].exp < s.heap[m].exp {
			m = r
		}
		if m == i {
			return
		}
		s.heap[m], s.heap[i] = s.heap[i], s.heap[m]
		i = m
	}
}
