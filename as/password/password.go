package password

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

const (
	// SaltLen is the length in bytes of the random salt Hash generates (RFC 9106 §3.1: 16 bytes suffice).
	SaltLen = 16
	// KeyLen is the length in bytes of the derived key (the "tag") Hash stores.
	KeyLen = 32

	// dummyHash is a fixed hash with DefaultParams whose password nobody knows. DummyVerify checks against it
	// so that a login for an unknown user costs what a login for a known one costs.
	dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$bWNwYXV0aC1kdW1teS1zYQ$QSCNTEcsZmQX3h2cuyhoIbVEIOunDCdllE4zOf+ujiU"
)

// ErrInvalidHash is wrapped by every error about a stored hash that cannot be used: malformed, another
// Argon2 variant or version, or parameters out of bounds.
var ErrInvalidHash = errors.New("password: invalid argon2id hash")

// Params are the Argon2id cost parameters (RFC 9106 §3.1).
type Params struct {
	// Memory is the memory size m in KiB.
	Memory uint32
	// Iterations is the number of passes t.
	Iterations uint32
	// Parallelism is the number of lanes p.
	Parallelism uint8
}

// DefaultParams are the parameters Hash uses: m = 19 MiB, t = 2, p = 1.
//
// Why these and not RFC 9106 §4's second recommended option (m = 64 MiB, t = 3, p = 4): that option takes
// about 95 ms and both cores of a 2-core VM for one login, and 64 MiB per concurrent login, which a small
// authd (idle RSS target 60 MB) cannot afford under a burst of logins. m = 19 MiB, t = 2, p = 1 is the OWASP
// Password Storage Cheat Sheet's Argon2id configuration, which OWASP rates as equivalent in strength to its
// higher-memory options; it takes about 20 ms and one core here, so a login stays well under 100 ms even
// when both cores are busy. RFC 9106 §4 itself says to pick the largest memory the deployment can afford.
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1}
}

// MaxParams are the largest parameters Verify and HashWithParams accept: 256 MiB, 16 passes, 16 lanes.
// Anything larger is refused as a denial-of-service risk (a hash planted in the store or a bootstrap file
// would otherwise make every login attempt allocate and compute without bound).
func MaxParams() Params {
	return Params{Memory: 256 * 1024, Iterations: 16, Parallelism: 16}
}

func (p Params) validate() error {
	max := MaxParams()
	switch {
	case p.Iterations < 1:
		return errors.New("t must be at least 1")
	case p.Parallelism < 1:
		return errors.New("p must be at least 1")
	// RFC 9106 §3.1: "Memory size m MUST be an integer number of kibibytes from 8*p to 2^32-1."
	case p.Memory < 8*uint32(p.Parallelism):
		return errors.New("m must be at least 8*p KiB")
	case p.Memory > max.Memory:
		return fmt.Errorf("m above the limit of %d KiB", max.Memory)
	case p.Iterations > max.Iterations:
		return fmt.Errorf("t above the limit of %d", max.Iterations)
	case p.Parallelism > max.Parallelism:
		return fmt.Errorf("p above the limit of %d", max.Parallelism)
	}
	return nil
}

// Hash returns the PHC string of password under DefaultParams with a fresh random salt.
func Hash(password string) (string, error) {
	return HashWithParams(password, DefaultParams())
}

// HashWithParams is Hash with explicit parameters; tests use tiny ones to stay fast.
func HashWithParams(password string, p Params) (string, error) {
	if password == "" {
		return "", errors.New("password: empty password")
	}
	if err := p.validate(); err != nil {
		return "", fmt.Errorf("password: parameters: %s", err)
	}
	salt := make([]byte, SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	h := phc{params: p, salt: salt}
	h.key = derive(password, h.salt, p, KeyLen)
	return h.String(), nil
}

func derive(password string, salt []byte, p Params, keyLen int) []byte {
	return argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, uint32(keyLen))
}

// Verify reports whether password matches the PHC string. A hash that cannot be used (malformed, not
// Argon2id v=19, parameters out of bounds) is an error wrapping ErrInvalidHash, never a match.
func Verify(password, hash string) (bool, error) {
	h, err := parse(hash)
	if err != nil {
		return false, err
	}
	got := derive(password, h.salt, h.params, len(h.key))
	// Constant-time comparison: the time taken must not depend on how many leading bytes match.
	return subtle.ConstantTimeCompare(got, h.key) == 1, nil
}

// DummyVerify does the work of Verify with DefaultParams against a fixed hash and discards the result.
// Call it when the user does not exist, so that response time does not reveal which usernames exist
// (RFC 6819 §5.1.4.2.2 spirit; OWASP Authentication Cheat Sheet).
func DummyVerify(password string) {
	_, _ = Verify(password, dummyHash)
}

// ParamsOf returns the parameters of a valid Argon2id hash, or an error wrapping ErrInvalidHash.
func ParamsOf(hash string) (Params, error) {
	h, err := parse(hash)
	if err != nil {
		return Params{}, err
	}
	return h.params, nil
}

// NeedsRehash reports whether hash should be replaced by Hash(password) after a successful Verify: it is
// invalid, or its parameters, salt or key length differ from DefaultParams, SaltLen and KeyLen.
func NeedsRehash(hash string) bool {
	return NeedsRehashWithParams(hash, DefaultParams())
}

// NeedsRehashWithParams is NeedsRehash against explicit target parameters.
func NeedsRehashWithParams(hash string, p Params) bool {
	h, err := parse(hash)
	if err != nil {
		return true
	}
	return h.params != p || len(h.salt) != SaltLen || len(h.key) != KeyLen
}
