// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// A strict reader for the JSON objects inside a proof (JOSE header, jwk, claims), RFC 8259.
//
// encoding/json matches member names case-insensitively ({"TYP":…} would set typ) and takes the last of
// duplicate names silently; JOSE member names are case-sensitive (RFC 7515 §4) and a duplicate of a member we
// act on is a sign of a crafted proof. This reader matches names exactly, refuses duplicates of the members
// it reads, refuses invalid UTF-8 and lone surrogates, bounds nesting, and does not allocate except for the
// strings it returns. It is differential-fuzzed against encoding/json (FuzzJSONReader).

const maxJSONDepth = 16

func errJSON(msg string) error { return errors.New("json: " + msg) }

type jsonReader struct {
	b []byte
	i int
}

func (r *jsonReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// beginObject consumes the opening brace of an object.
func (r *jsonReader) beginObject() error {
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		return errJSON("expected object")
	}
	r.i++
	return nil
}

// end checks that only whitespace follows the top-level value.
func (r *jsonReader) end() error {
	r.ws()
	if r.i != len(r.b) {
		return errJSON("trailing data")
	}
	return nil
}

// member reads the next member name of the object being iterated and the colon after it. It returns
// ok=false once the closing brace has been consumed. The name is a subslice of the input when it has no
// escapes, otherwise it is decoded into scratch.
func (r *jsonReader) member(first *bool, scratch []byte) (name []byte, ok bool, err error) {
	r.ws()
	if r.i >= len(r.b) {
		return nil, false, errJSON("unterminated object")
	}
	if r.b[r.i] == '}' {
		r.i++
		return nil, false, nil
	}
	if !*first {
		if r.b[r.i] != ',' {
			return nil, false, errJSON("expected comma")
		}
		r.i++
		r.ws()
	}
	*first = false
	name, err = r.readString(scratch, true)
	if err != nil {
		return nil, false, err
	}
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != ':' {
		return nil, false, errJSON("expected colon")
	}
	r.i++
	r.ws()
	return name, true, nil
}

// str reads a string value.
func (r *jsonReader) str() (string, error) {
	var scratch [64]byte
	b, err := r.readString(scratch[:0], true)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// strBytes reads a string value into scratch (or as a subslice of the input) without allocating.
func (r *jsonReader) strBytes(scratch []byte) ([]byte, error) {
	return r.readString(scratch, true)
}

// number reads a number value and returns its text.
func (r *jsonReader) number() ([]byte, error) {
	start := r.i
	if r.i < len(r.b) && r.b[r.i] == '-' {
		r.i++
	}
	if r.i >= len(r.b) {
		return nil, errJSON("expected number")
	}
	switch c := r.b[r.i]; {
	case c == '0':
		r.i++
	case c >= '1' && c <= '9':
		r.digits()
	default:
		return nil, errJSON("expected number")
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if r.digits() == 0 {
			return nil, errJSON("bad fraction")
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if r.digits() == 0 {
			return nil, errJSON("bad exponent")
		}
	}
	return r.b[start:r.i], nil
}

func (r *jsonReader) digits() int {
	n := 0
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		r.i++
		n++
	}
	return n
}

// skip consumes any value, checking that it is well-formed.
func (r *jsonReader) skip(depth int) error {
	r.ws()
	if r.i >= len(r.b) {
		return errJSON("expected value")
	}
	switch c := r.b[r.i]; {
	case c == '"':
		_, err := r.readString(nil, false)
		return err
	case c == '{':
		if depth >= maxJSONDepth {
			return errJSON("too deep")
		}
		r.i++
		first := true
		var scratch [64]byte
		for {
			_, ok, err := r.member(&first, scratch[:0])
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
	case c == '[':
		if depth >= maxJSONDepth {
			return errJSON("too deep")
		}
		r.i++
		r.ws()
		if r.i < len(r.b) && r.b[r.i] == ']' {
			r.i++
			return nil
		}
		for {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			r.ws()
			if r.i >= len(r.b) {
				return errJSON("unterminated array")
			}
			switch r.b[r.i] {
			case ',':
				r.i++
			case ']':
				r.i++
				return nil
			default:
				return errJSON("expected comma")
			}
		}
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := r.number()
		return err
	}
	return errJSON("unexpected character")
}

func (r *jsonReader) literal(lit string) error {
	if len(r.b)-r.i < len(lit) || string(r.b[r.i:r.i+len(lit)]) != lit {
		return errJSON("bad literal")
	}
	r.i += len(lit)
	return nil
}

// readString reads a JSON string starting at the opening quote. Without escapes it returns a subslice of
// the input; with escapes it decodes into dst when keep is set (and only validates otherwise).
func (r *jsonReader) readString(dst []byte, keep bool) ([]byte, error) {
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return nil, errJSON("expected string")
	}
	r.i++
	start := r.i
	for r.i < len(r.b) {
		c := r.b[r.i]
		if c == '"' {
			s := r.b[start:r.i]
			r.i++
			if !utf8.Valid(s) {
				return nil, errJSON("invalid UTF-8")
			}
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, errJSON("control character in string")
		}
		r.i++
	}
	// Slow path: escapes.
	seg := start
	flush := func(end int) bool {
		if !utf8.Valid(r.b[seg:end]) {
			return false
		}
		if keep {
			dst = append(dst, r.b[seg:end]...)
		}
		return true
	}
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			if !flush(r.i) {
				return nil, errJSON("invalid UTF-8")
			}
			r.i++
			return dst, nil
		case c < 0x20:
			return nil, errJSON("control character in string")
		case c != '\\':
			r.i++
			continue
		}
		if !flush(r.i) {
			return nil, errJSON("invalid UTF-8")
		}
		r.i++
		if r.i >= len(r.b) {
			break
		}
		e := r.b[r.i]
		r.i++
		var ch rune
		switch e {
		case '"', '\\', '/':
			ch = rune(e)
		case 'b':
			ch = '\b'
		case 'f':
			ch = '\f'
		case 'n':
			ch = '\n'
		case 'r':
			ch = '\r'
		case 't':
			ch = '\t'
		case 'u':
			u, ok := r.hex4()
			if !ok {
				return nil, errJSON("bad \\u escape")
			}
			ch = rune(u)
			if utf16.IsSurrogate(ch) {
				if ch >= 0xDC00 || r.i+1 >= len(r.b) || r.b[r.i] != '\\' || r.b[r.i+1] != 'u' {
					return nil, errJSON("lone surrogate")
				}
				r.i += 2
				u2, ok := r.hex4()
				if !ok {
					return nil, errJSON("bad \\u escape")
				}
				ch = utf16.DecodeRune(ch, rune(u2))
				if ch == utf8.RuneError {
					return nil, errJSON("lone surrogate")
				}
			}
		default:
			return nil, errJSON("bad escape")
		}
		if keep {
			dst = utf8.AppendRune(dst, ch)
		}
		seg = r.i
	}
	return nil, errJSON("unterminated string")
}

func (r *jsonReader) hex4() (uint16, bool) {
	if len(r.b)-r.i < 4 {
		return 0, false
	}
	var v uint16
	for _, c := range r.b[r.i : r.i+4] {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= uint16(c - '0')
		case c >= 'a' && c <= 'f':
			v |= uint16(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v |= uint16(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	r.i += 4
	return v, true
}
