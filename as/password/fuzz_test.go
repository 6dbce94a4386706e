package password

import (
	"errors"
	"testing"
)

// FuzzParse checks the PHC parser never panics, only fails with ErrInvalidHash, and accepts only canonical
// strings: whatever it parses re-encodes to exactly the input, within the parameter bounds.
func FuzzParse(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$" + goodKey)
	f.Add("$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$F1jG2CV3/Nr+yRuIsPKw0J9r4s7cJHBU")
	f.Add(dummyHash)
	f.Add("$argon2i$v=19$m=64,t=1,p=1$" + goodSalt + "$" + goodKey)
	f.Add("$argon2id$v=19$m=064,t=1,p=1$$")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("error does not wrap ErrInvalidHash: %v", err)
			}
			return
		}
		if got := h.String(); got != s {
			t.Fatalf("non-canonical input accepted:\n in  %q\n out %q", s, got)
		}
		if err := h.params.validate(); err != nil {
			t.Fatalf("out-of-bounds parameters accepted: %v", err)
		}
	})
}
