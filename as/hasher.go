package as

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"

	"github.com/ory/fosite"
)

// sha256Hasher hashes client secrets. Secrets are ≥ 256-bit server-generated values, not passwords, so a
// fast hash loses nothing, and a slow one would cap the token endpoint at tens of requests a second (SPEC
// "Grants and rules"). Comparison is constant-time.
type sha256Hasher struct{}

var _ fosite.Hasher = sha256Hasher{}

func (sha256Hasher) Compare(_ context.Context, hash, data []byte) error {
	sum := sha256.Sum256(data)
	if len(hash) != len(sum) || subtle.ConstantTimeCompare(hash, sum[:]) != 1 {
		return fosite.ErrInvalidClient
	}
	return nil
}

func (sha256Hasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	return sum[:], nil
}

// HashClientSecret is how client secrets are stored.
func HashClientSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}
