package password

import (
	"errors"
	"strings"
	"testing"
)

// tiny keeps tests fast; Verify reads the parameters from the hash, so nothing else changes.
var tiny = Params{Memory: 64, Iterations: 1, Parallelism: 1}

func mustHash(t *testing.T, pw string, p Params) string {
	t.Helper()
	h, err := HashWithParams(pw, p)
	if err != nil {
		t.Fatalf("HashWithParams: %v", err)
	}
	return h
}

func TestHashVerify(t *testing.T) {
	h := mustHash(t, "correct horse battery staple", tiny)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("unexpected PHC prefix: %s", h)
	}
	ok, err := Verify("correct horse battery staple", h)
	if err != nil || !ok {
		t.Fatalf("Verify(right password) = %v, %v; want true, nil", ok, err)
	}
	p, err := ParamsOf(h)
	if err != nil || p != tiny {
		t.Fatalf("ParamsOf = %+v, %v; want %+v", p, err, tiny)
	}
	h2 := mustHash(t, "correct horse battery staple", tiny)
	if h == h2 {
		t.Fatal("two hashes of the same password are equal: salt is not random")
	}
}

func TestVerifyWrongPassword(t *testing.T) {
	h := mustHash(t, "correct horse battery staple", tiny)
	for _, pw := range []string{"", "correct horse battery stapl", "Correct horse battery staple", "correct horse battery staple "} {
		ok, err := Verify(pw, h)
		if err != nil || ok {
			t.Errorf("Verify(%q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
}

func TestDefaultHash(t *testing.T) {
	if testing.Short() {
		t.Skip("default parameters cost ~20 ms")
	}
	h, err := Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	if NeedsRehash(h) {
		t.Errorf("NeedsRehash(fresh default hash) = true")
	}
	if ok, err := Verify("pw", h); !ok || err != nil {
		t.Errorf("Verify = %v, %v", ok, err)
	}
	if p, err := ParamsOf(dummyHash); err != nil || p != DefaultParams() {
		t.Errorf("dummy hash must use DefaultParams so DummyVerify costs what a real login costs: %+v, %v", p, err)
	}
	DummyVerify("pw")
}

func TestHashWithParamsRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		pw string
		p  Params
	}{
		"empty_password":         {"", tiny},
		"zero_params":            {"pw", Params{}},
		"rfc9106_3.1_m_below_8p": {"pw", Params{Memory: 15, Iterations: 1, Parallelism: 2}},
		"huge_memory":            {"pw", Params{Memory: MaxParams().Memory + 1, Iterations: 1, Parallelism: 1}},
		"huge_iterations":        {"pw", Params{Memory: 64, Iterations: MaxParams().Iterations + 1, Parallelism: 1}},
		"huge_parallelism":       {"pw", Params{Memory: 4096, Iterations: 1, Parallelism: MaxParams().Parallelism + 1}},
	} {
		t.Run(name, func(t *testing.T) {
			if h, err := HashWithParams(tc.pw, tc.p); err == nil {
				t.Fatalf("HashWithParams = %s, nil; want an error", h)
			}
		})
	}
}

const (
	goodSalt = "c29tZXNhbHRzb21lc2FsdA"                      // 16 bytes
	goodKey  = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI" // 32 bytes
)

func TestVerifyMalformed(t *testing.T) {
	cases := map[string]string{
		"empty":                      "",
		"not_phc":                    "hunter2",
		"bcrypt":                     "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
		"rfc9106_4_argon2i_refused":  "$argon2i$v=19$m=64,t=1,p=1$" + goodSalt + "$" + goodKey,
		"rfc9106_4_argon2d_refused":  "$argon2d$v=19$m=64,t=1,p=1$" + goodSalt + "$" + goodKey,
		"uppercase_variant":          "$Argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$" + goodKey,
		"version_16":                 "$argon2id$v=16$m=64,t=1,p=1$" + goodSalt + "$" + goodKey,
		"version_missing":            "$argon2id$m=64,t=1,p=1$" + goodSalt + "$" + goodKey,
		"params_reordered":           "$argon2id$v=19$t=1,m=64,p=1$" + goodSalt + "$" + goodKey,
		"params_missing_p":           "$argon2id$v=19$m=64,t=1$" + goodSalt + "$" + goodKey,
		"params_extra_keyid":         "$argon2id$v=19$m=64,t=1,p=1,keyid=abc$" + goodSalt + "$" + goodKey,
		"params_negative":            "$argon2id$v=19$m=-64,t=1,p=1$" + goodSalt + "$" + goodKey,
		"params_plus_sign":           "$argon2id$v=19$m=+64,t=1,p=1$" + goodSalt + "$" + goodKey,
		"params_leading_zero":        "$argon2id$v=19$m=064,t=1,p=1$" + goodSalt + "$" + goodKey,
		"params_overflow":            "$argon2id$v=19$m=4294967296,t=1,p=1$" + goodSalt + "$" + goodKey,
		"t_zero":                     "$argon2id$v=19$m=64,t=0,p=1$" + goodSalt + "$" + goodKey,
		"p_zero":                     "$argon2id$v=19$m=64,t=1,p=0$" + goodSalt + "$" + goodKey,
		"rfc9106_3.1_m_below_8p":     "$argon2id$v=19$m=7,t=1,p=1$" + goodSalt + "$" + goodKey,
		"dos_huge_memory":            "$argon2id$v=19$m=4194304,t=1,p=1$" + goodSalt + "$" + goodKey,
		"dos_huge_iterations":        "$argon2id$v=19$m=64,t=1000000,p=1$" + goodSalt + "$" + goodKey,
		"dos_huge_parallelism":       "$argon2id$v=19$m=65536,t=1,p=255$" + goodSalt + "$" + goodKey,
		"dos_p_over_255":             "$argon2id$v=19$m=65536,t=1,p=256$" + goodSalt + "$" + goodKey,
		"salt_padded":                "$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "==$" + goodKey,
		"salt_not_base64":            "$argon2id$v=19$m=64,t=1,p=1$!!!!!!!!!!!!$" + goodKey,
		"salt_too_short":             "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + goodKey,
		"salt_with_newline":          "$argon2id$v=19$m=64,t=1,p=1$c29tZXNh\nbHRzb21lc2FsdA$" + goodKey,
		"salt_non_canonical_bits":    "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdB$" + goodKey,
		"key_too_short":              "$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$c2hvcnQ",
		"key_empty":                  "$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$",
		"trailing_field":             "$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$" + goodKey + "$",
		"leading_garbage":            "x$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$" + goodKey,
		"too_long":                   "$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$" + strings.Repeat("A", 300),
		"whitespace":                 " $argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$" + goodKey,
		"url_safe_base64_in_the_key": "$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMT-_",
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			ok, err := Verify("pw", h)
			if ok || !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("Verify = %v, %v; want false, ErrInvalidHash", ok, err)
			}
			if !NeedsRehash(h) {
				t.Errorf("NeedsRehash(invalid) = false")
			}
			if _, err := ParamsOf(h); err == nil {
				t.Errorf("ParamsOf accepted it")
			}
		})
	}
	// The well-formed control case parses (it does not verify "pw").
	if ok, err := Verify("pw", "$argon2id$v=19$m=64,t=1,p=1$"+goodSalt+"$"+goodKey); ok || err != nil {
		t.Fatalf("control: Verify = %v, %v; want false, nil", ok, err)
	}
}

func TestVerifyForeignHash(t *testing.T) {
	// Made by the reference implementation (libargon2 20171227, argon2id_hash_encoded), with an 8-byte salt
	// and a 24-byte key in the first case: Verify uses whatever lengths the hash carries.
	for _, tc := range []struct{ pw, hash string }{
		{"password", "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$F1jG2CV3/Nr+yRuIsPKw0J9r4s7cJHBU"},
		{"correct horse battery staple", "$argon2id$v=19$m=32,t=3,p=1$MDEyMzQ1Njc4OWFiY2RlZg$xZijIXOwqJIcHroNH2nOpP/O3lujqcUcr3wkMOV8dfc"},
	} {
		ok, err := Verify(tc.pw, tc.hash)
		if err != nil || !ok {
			t.Errorf("Verify(reference vector %s) = %v, %v; want true, nil", tc.hash, ok, err)
		}
		if !NeedsRehash(tc.hash) {
			t.Errorf("NeedsRehash(foreign parameters) = false; want true")
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	h := mustHash(t, "pw", tiny)
	if NeedsRehashWithParams(h, tiny) {
		t.Error("NeedsRehashWithParams(same params) = true")
	}
	if !NeedsRehashWithParams(h, Params{Memory: 128, Iterations: 1, Parallelism: 1}) {
		t.Error("NeedsRehashWithParams(other params) = false")
	}
	if !NeedsRehash(h) {
		t.Error("NeedsRehash(tiny params vs defaults) = false")
	}
}

func TestErrorsDoNotEchoInput(t *testing.T) {
	secretish := "$argon2id$v=19$m=64,t=1,p=1$" + goodSalt + "$SECRETSECRETSECRET!"
	_, err := Verify("pw", secretish)
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("error %v echoes the input", err)
	}
}
