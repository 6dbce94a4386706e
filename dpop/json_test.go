// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestReadClaims(t *testing.T) {
	good := []string{
		`{"jti":"a","htm":"GET","htu":"https://x/","iat":1}`,
		` { "jti" : "a\u0062\"\\\/\b\f\n\r\t" , "iat" : 1.5e3 , "other" : [ {}, [], null, true, false, -0.1E-2, "s" ] } `,
		`{"jti":"\ud83d\ude00"}`,
		`{}`,
	}
	for _, s := range good {
		if _, err := readClaims([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	c, _ := readClaims([]byte(good[1]))
	if c.jti != "ab\"\\/\b\f\n\r\t" || c.iat != 1500 || !c.hasIAT {
		t.Errorf("decoded %+v", c)
	}
	c, _ = readClaims([]byte(good[2]))
	if c.jti != "😀" {
		t.Errorf("surrogate pair: %q", c.jti)
	}
	bad := []string{
		``, `[]`, `{`, `{"jti":"a"`, `{"jti":"a",}`, `{,}`, `{"jti" "a"}`, `{"jti":'a'}`, `{jti:"a"}`,
		`{"jti":"a"}x`, `{"jti":"a"}{}`, `{"jti":"\ud83d"}`, `{"jti":"\ude00"}`, `{"jti":"\x"}`, `{"jti":"\u12"}`,
		"{\"jti\":\"a\x01\"}", "{\"jti\":\"\xff\"}", `{"iat":01}`, `{"iat":1.}`, `{"iat":-}`, `{"iat":1e}`, `{"iat":+1}`,
		`{"x":tru}`, `{"x":nul}`, `{"x":[1,]}`, `{"x":[1 2]}`, `{"jti":"a","jti":"a"}`,
		`{"x":[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]}`,
	}
	for _, s := range bad {
		if _, err := readClaims([]byte(s)); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	// Wrong types fail the claim's own check.
	for s, want := range map[string]Check{
		`{"jti":1}`: CheckJTI, `{"htm":null}`: CheckHTM, `{"htu":{}}`: CheckHTU, `{"ath":true}`: CheckATH,
		`{"nonce":[]}`: CheckNonce, `{"iat":"1"}`: CheckIAT, `{"iat":null}`: CheckIAT,
	} {
		_, err := readClaims([]byte(s))
		ce, ok := err.(*claimError)
		if !ok || ce.check != want {
			t.Errorf("%s: %v, want %v", s, err, want)
		}
	}
}

// checkJSONReaderAgainstStdlib is the differential property: whatever our reader accepts, encoding/json
// accepts with the same values; whatever encoding/json accepts as a plain, unique-keyed object of valid
// UTF-8 without escapes, ours accepts too.
func checkJSONReaderAgainstStdlib(t *testing.T, data []byte) {
	c, err := readClaims(data)
	var m map[string]any
	stdErr := json.Unmarshal(data, &m)
	if err == nil {
		if stdErr != nil || m == nil {
			t.Fatalf("we accept %q, encoding/json does not: %v", data, stdErr)
		}
		for k, got := range map[string]string{"jti": c.jti, "htm": c.htm, "htu": c.htu, "ath": c.ath, "nonce": c.nonce} {
			if v, ok := m[k]; ok && v != got {
				t.Fatalf("%q: %s = %q, encoding/json says %q", data, k, got, v)
			}
		}
		if v, ok := m["iat"]; ok && v != c.iat {
			t.Fatalf("%q: iat = %v, encoding/json says %v", data, c.iat, v)
		}
		return
	}
	if _, isClaimErr := err.(*claimError); isClaimErr {
		return
	}
	if stdErr == nil && m != nil && !hasEscapeOrDup(data) {
		t.Fatalf("encoding/json accepts %q, we refuse: %v", data, err)
	}
}

// hasEscapeOrDup is a conservative filter for inputs where the readers legitimately differ: escapes (lone
// surrogates), invalid UTF-8 (encoding/json replaces it), nesting (depth limits) and duplicate names (we
// refuse duplicates of the claims we read). Only flat objects without those go through the
// "must accept" direction.
func hasEscapeOrDup(data []byte) bool {
	if bytes.ContainsAny(data, "\\[") || bytes.Count(data, []byte("{")) != 1 {
		return true
	}
	for _, b := range data {
		if b >= 0x80 {
			return true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // {
		return true
	}
	seen := map[string]bool{}
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			return true
		}
		if seen[name.(string)] {
			return true
		}
		seen[name.(string)] = true
		if _, err := dec.Token(); err != nil { // flat value
			return true
		}
	}
	return false
}
