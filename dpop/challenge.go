// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"errors"
	"sort"
	"strings"
)

// Challenge is one challenge of a WWW-Authenticate header (RFC 9110 §11.6.1), e.g. the
// DPoP error="use_dpop_nonce" challenge of RFC 9449 §9.
type Challenge struct {
	// Scheme is the auth-scheme as sent; compare it with strings.EqualFold.
	Scheme string
	// Params holds the auth-params, names lowercased (they are case-insensitive), values unquoted.
	Params map[string]string
	// Token68 is the token68 form of credentials, if the challenge used it instead of parameters.
	Token68 string
}

// maxChallengeParams bounds the work a hostile header can cause.
const maxChallengeParams = 64

// ParseChallenges parses one WWW-Authenticate field value, which may hold several challenges
// (RFC 9110 §11.6.1: challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]). Parameter values may be
// tokens or quoted strings with backslash escapes. A parameter name that occurs twice in one challenge is an
// error (RFC 9110 §11.2: "Each parameter name MUST only occur once per challenge"). On error the challenges
// parsed so far are returned with it.
func ParseChallenges(header string) ([]Challenge, error) {
	p := challengeParser{s: header}
	var out []Challenge
	for {
		p.skipListSeparators()
		if p.i >= len(p.s) {
			return out, nil
		}
		scheme := p.token()
		if scheme == "" {
			return out, errors.New("dpop: WWW-Authenticate: expected an auth-scheme")
		}
		c := Challenge{Scheme: scheme}
		// A scheme alone, followed by the end or a comma.
		sp := p.ows()
		if p.i >= len(p.s) || p.s[p.i] == ',' {
			out = append(out, c)
			continue
		}
		if sp == 0 {
			return out, errors.New("dpop: WWW-Authenticate: expected a space after the auth-scheme")
		}
		// token68: followed by the end or a comma, not by "=" and a value.
		if t, ok := p.token68(); ok {
			c.Token68 = t
			out = append(out, c)
			continue
		}
		// auth-params, separated by commas, until a token not followed by "=" (the next challenge's scheme).
		for {
			save := p.i
			name := p.token()
			if name == "" {
				return out, errors.New("dpop: WWW-Authenticate: expected an auth-param")
			}
			p.ows()
			if p.i >= len(p.s) || p.s[p.i] != '=' {
				// The start of the next challenge.
				p.i = save
				break
			}
			p.i++
			p.ows()
			var val string
			if p.i < len(p.s) && p.s[p.i] == '"' {
				v, err := p.quoted()
				if err != nil {
					return out, err
				}
				val = v
			} else if val = p.token(); val == "" {
				return out, errors.New("dpop: WWW-Authenticate: expected a token or quoted-string value")
			}
			if c.Params == nil {
				c.Params = make(map[string]string, 4)
			}
			key := strings.ToLower(name)
			if _, dup := c.Params[key]; dup {
				return out, errors.New("dpop: WWW-Authenticate: parameter repeated in one challenge")
			}
			if len(c.Params) >= maxChallengeParams {
				return out, errors.New("dpop: WWW-Authenticate: too many parameters")
			}
			c.Params[key] = val
			p.ows()
			if p.i >= len(p.s) {
				break
			}
			if p.s[p.i] != ',' {
				return out, errors.New("dpop: WWW-Authenticate: expected a comma")
			}
			// Empty list elements are allowed (RFC 9110 §5.6.1).
			p.skipListSeparators()
			if p.i >= len(p.s) {
				break
			}
		}
		out = append(out, c)
	}
}

type challengeParser struct {
	s string
	i int
}

func (p *challengeParser) ows() int {
	n := 0
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
		n++
	}
	return n
}

func (p *challengeParser) skipListSeparators() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

// isTchar reports whether c is a tchar (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (p *challengeParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// token68 reads a token68 (RFC 9110 §11.2) if the text at the cursor is one: 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=", then OWS and the end of the value or a comma. Otherwise it leaves the cursor.
func (p *challengeParser) token68() (string, bool) {
	start, j := p.i, p.i
	for j < len(p.s) {
		c := p.s[j]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0 {
			j++
			continue
		}
		break
	}
	if j == start {
		return "", false
	}
	for j < len(p.s) && p.s[j] == '=' {
		j++
	}
	end := j
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	if j < len(p.s) && p.s[j] != ',' {
		return "", false
	}
	// "name=" followed by the end or a comma is an auth-param with an empty value only if quoted, which it
	// is not here, so a trailing "=" run belongs to the token68.
	p.i = j
	return p.s[start:end], true
}

// quoted reads a quoted-string (RFC 9110 §5.6.4), resolving quoted-pairs.
func (p *challengeParser) quoted() (string, error) {
	p.i++ // opening quote
	var b strings.Builder
	start := p.i
	simple := true
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			if simple {
				return p.s[start : p.i-1], nil
			}
			return b.String(), nil
		case c == '\\':
			if p.i+1 >= len(p.s) || !isQuotedPairChar(p.s[p.i+1]) {
				return "", errors.New("dpop: WWW-Authenticate: bad quoted-pair")
			}
			if simple {
				b.WriteString(p.s[start:p.i])
				simple = false
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case c == '\t' || c == ' ' || c >= 0x21 && c != 0x7f:
			if !simple {
				b.WriteByte(c)
			}
			p.i++
		default:
			return "", errors.New("dpop: WWW-Authenticate: control character in quoted-string")
		}
	}
	return "", errors.New("dpop: WWW-Authenticate: unterminated quoted-string")
}

// isQuotedPairChar: quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ).
func isQuotedPairChar(c byte) bool { return c == '\t' || c == ' ' || c >= 0x21 && c != 0x7f }

// String formats the challenge (parameters sorted by name, values always quoted), so that
// ParseChallenges(c.String()) gives c back.
func (c Challenge) String() string {
	var b strings.Builder
	b.WriteString(c.Scheme)
	if c.Token68 != "" {
		b.WriteByte(' ')
		b.WriteString(c.Token68)
		return b.String()
	}
	names := make([]string, 0, len(c.Params))
	for k := range c.Params {
		names = append(names, k)
	}
	sort.Strings(names)
	for i, k := range names {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteString(`="`)
		v := c.Params[k]
		for j := 0; j < len(v); j++ {
			if v[j] == '"' || v[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(v[j])
		}
		b.WriteByte('"')
	}
	return b.String()
}
