// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// Nonce sizes: 128 bits of HMAC output, 22 base64url characters.
const (
	nonceMACSize   = 16
	nonceLen       = 22
	minNonceSecret = 32
)

// NonceOptions configures a NonceSource. The zero value is usable.
type NonceOptions struct {
	// Window is the time a nonce is issued for; a nonce stays valid through the following window too, so it
	// lives between one and two windows. 0 means 5 minutes; less than a second is refused.
	Window time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NonceSource issues and checks server nonces (RFC 9449 §8 and §9) without storing anything: a nonce is an
// HMAC-SHA256, truncated to 128 bits, of the number of the current time window under a shared secret, so
// every replica holding the secret accepts every replica's nonces. The nonce of the previous window is also
// accepted, so a nonce issued just before a window ends still works.
//
// Secrets rotate: the first secret issues, every secret verifies. To rotate, deploy [new, old] everywhere,
// then, two windows later, [new].
type NonceSource struct {
	secrets [][]byte
	window  time.Duration
	now     func() time.Time
}

// NewNonceSource returns a NonceSource. Each secret must be at least 32 bytes of random data; the first one
// issues nonces.
func NewNonceSource(secrets [][]byte, opts *NonceOptions) (*NonceSource, error) {
	if len(secrets) == 0 {
		return nil, errors.New("dpop: NonceSource needs at least one secret")
	}
	var o NonceOptions
	if opts != nil {
		o = *opts
	}
	if o.Window == 0 {
		o.Window = 5 * time.Minute
	}
	if o.Window < time.Second {
		return nil, errors.New("dpop: nonce window must be at least one second")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &NonceSource{window: o.Window, now: o.Now}
	for _, k := range secrets {
		if len(k) < minNonceSecret {
			return nil, errors.New("dpop: nonce secrets must be at least 32 bytes")
		}
		s.secrets = append(s.secrets, append([]byte(nil), k...))
	}
	return s, nil
}

func (s *NonceSource) windowAt(t time.Time) int64 {
	n := t.UnixNano()
	w := n / int64(s.window)
	if n < 0 && n%int64(s.window) != 0 {
		w--
	}
	return w
}

func (s *NonceSource) mac(dst *[sha256.Size]byte, secret []byte, window int64) {
	m := hmac.New(sha256.New, secret)
	var msg [len("mcpauth-dpop-nonce\x00") + 8]byte
	n := copy(msg[:], "mcpauth-dpop-nonce\x00")
	binary.BigEndian.PutUint64(msg[n:], uint64(window))
	m.Write(msg[:])
	m.Sum(dst[:0])
}

// Issue returns the nonce for the current window, to send in a DPoP-Nonce header (RFC 9449 §8.1).
func (s *NonceSource) Issue() string {
	var sum [sha256.Size]byte
	s.mac(&sum, s.secrets[0], s.windowAt(s.now()))
	return base64.RawURLEncoding.EncodeToString(sum[:nonceMACSize])
}

// Valid reports whether nonce was issued, under any of the secrets, for the current or the previous window.
// The comparison is constant-time.
func (s *NonceSource) Valid(nonce string) bool {
	if len(nonce) != nonceLen {
		return false
	}
	var got [nonceMACSize]byte
	if b, ok := decodeB64(got[:], nonce); !ok || len(b) != nonceMACSize {
		return false
	}
	w := s.windowAt(s.now())
	ok := 0
	var sum [sha256.Size]byte
	for _, k := range s.secrets {
		for _, win := range [2]int64{w, w - 1} {
			s.mac(&sum, k, win)
			if hmac.Equal(sum[:nonceMACSize], got[:]) {
				ok = 1
			}
		}
	}
	return ok == 1
}
