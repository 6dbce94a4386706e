package password

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Bounds on the decoded salt and key of hashes Verify accepts. The PHC format recommends salts of at least
// 8 bytes (RFC 9106 §3.1 allows 8 to 2^32-1; 16 is recommended); keys of 16 to 64 bytes cover what libraries
// emit. Larger values would only cost memory, so they are refused.
const (
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
	// maxHashLen bounds the input before any parsing work.
	maxHashLen = 256
)

// b64 is unpadded standard base64, strict: non-zero trailing bits are refused, so every hash has exactly
// one spelling.
func b64() *base64.Encoding { return base64.RawStdEncoding.Strict() }

// decodeB64 decodes unpadded standard base64. encoding/base64 skips CR and LF anywhere in its input; they
// are refused here so that a hash has one spelling only.
func decodeB64(s string) ([]byte, error) {
	for _, c := range []byte(s) {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, fmt.Errorf("invalid base64 character")
		}
	}
	return b64().DecodeString(s)
}

// phc is a parsed $argon2id$ PHC string.
type phc struct {
	params Params
	salt   []byte
	key    []byte
}

func (h phc) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		0x13, h.params.Memory, h.params.Iterations, h.params.Parallelism,
		b64().EncodeToString(h.salt), b64().EncodeToString(h.key))
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidHash}, args...)...)
}

// parse reads $argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<hash>. Error messages name the problem, never echo
// the input (a hash is not a password, but there is no reason to copy it into logs either).
func parse(s string) (phc, error) {
	var h phc
	if len(s) > maxHashLen {
		return h, invalid("too long")
	}
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	if len(parts) != 6 || parts[0] != "" {
		return h, invalid("not a PHC string of the form $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	switch parts[1] {
	case "argon2id":
	case "argon2i", "argon2d":
		// RFC 9106 §4: Argon2id is the variant to use; the others are refused rather than silently accepted.
		return h, invalid("variant %s is not supported; only argon2id", parts[1])
	default:
		return h, invalid("not an argon2id hash")
	}
	if parts[2] != "v=19" {
		return h, invalid("only version 19 (0x13) is supported")
	}
	p, err := parseParams(parts[3])
	if err != nil {
		return h, err
	}
	h.params = p
	if h.salt, err = decodeB64(parts[4]); err != nil {
		return h, invalid("salt is not unpadded base64")
	}
	if len(h.salt) < minSaltLen || len(h.salt) > maxSaltLen {
		return h, invalid("salt must be %d to %d bytes", minSaltLen, maxSaltLen)
	}
	if h.key, err = decodeB64(parts[5]); err != nil {
		return h, invalid("hash is not unpadded base64")
	}
	if len(h.key) < minKeyLen || len(h.key) > maxKeyLen {
		return h, invalid("hash must be %d to %d bytes", minKeyLen, maxKeyLen)
	}
	return h, nil
}

// parseParams reads "m=<m>,t=<t>,p=<p>" in that order (the order the reference implementation writes).
func parseParams(s string) (Params, error) {
	var p Params
	kv := strings.Split(s, ",")
	if len(kv) != 3 {
		return p, invalid("parameters must be exactly m=…,t=…,p=…")
	}
	var vals [3]uint32
	for i, name := range []string{"m", "t", "p"} {
		k, v, ok := strings.Cut(kv[i], "=")
		if !ok || k != name {
			return p, invalid("parameters must be exactly m=…,t=…,p=…")
		}
		n, err := parseDecimal(v)
		if err != nil {
			return p, invalid("parameter %s: %s", name, err)
		}
		vals[i] = n
	}
	if vals[2] > 255 {
		return p, invalid("parameters: p above the limit of %d", MaxParams().Parallelism)
	}
	p = Params{Memory: vals[0], Iterations: vals[1], Parallelism: uint8(vals[2])}
	if err := p.validate(); err != nil {
		return p, invalid("parameters: %s", err)
	}
	return p, nil
}

// parseDecimal accepts the PHC decimal form: digits only, no sign, no leading zero, fits in 32 bits.
func parseDecimal(s string) (uint32, error) {
	if s == "" || len(s) > 10 {
		return 0, fmt.Errorf("not a decimal number")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("leading zero")
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a decimal number")
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("out of range")
	}
	return uint32(n), nil
}
