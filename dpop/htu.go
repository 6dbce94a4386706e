// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import "strings"

// stripQueryFragment drops the query and fragment: RFC 9449 §4.3 compares htu "ignoring any query and
// fragment parts".
func stripQueryFragment(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[:i]
	}
	return s
}

// appendNormalizedHTU appends the normalized form of an absolute http or https URI, without query and
// fragment, to dst. RFC 9449 §4.3: servers "SHOULD employ Syntax-Based Normalization (Section 6.2.2 of
// RFC 3986) and Scheme-Based Normalization (Section 6.2.3 of RFC 3986) before comparing the htu claim".
// That is: lowercase scheme and host, percent-encoding in uppercase hex with unreserved characters decoded,
// dot segments removed, the default port and an empty port dropped, and an empty path written as "/".
// Userinfo is refused (RFC 9110 §4.2.4: a sender "MUST NOT generate the userinfo subcomponent"), as is
// anything that is not a valid URI.
func appendNormalizedHTU(dst []byte, s string) ([]byte, bool) {
	s = stripQueryFragment(s)
	i := strings.Index(s, "://")
	if i < 0 {
		return dst, false
	}
	var defaultPort string
	switch scheme := s[:i]; {
	case strings.EqualFold(scheme, "https"):
		dst, defaultPort = append(dst, "https://"...), "443"
	case strings.EqualFold(scheme, "http"):
		dst, defaultPort = append(dst, "http://"...), "80"
	default:
		return dst, false
	}
	rest := s[i+3:]
	authority, path := rest, ""
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		authority, path = rest[:j], rest[j:]
	}
	if strings.IndexByte(authority, '@') >= 0 {
		return dst, false
	}
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return dst, false
		}
		host, port = authority[:end+1], authority[end+1:]
		if port != "" && port[0] != ':' {
			return dst, false
		}
		if port != "" {
			port = port[1:]
		}
		for k := 1; k < len(host)-1; k++ {
			c := host[k]
			if !(isHex(c) || c == ':' || c == '.') {
				return dst, false
			}
		}
		if len(host) < 3 {
			return dst, false
		}
	} else if k := strings.LastIndexByte(authority, ':'); k >= 0 {
		host, port = authority[:k], authority[k+1:]
	}
	if host == "" {
		return dst, false
	}
	var ok bool
	if host[0] == '[' {
		for k := 0; k < len(host); k++ {
			dst = append(dst, lower(host[k]))
		}
	} else if dst, ok = appendNormalizedComponent(dst, host, true, false); !ok {
		return dst, false
	}
	// RFC 3986 §6.2.3: an empty port, or the scheme's default, is omitted.
	if port != "" {
		p := 0
		for k := 0; k < len(port); k++ {
			c := port[k]
			if c < '0' || c > '9' {
				return dst, false
			}
			p = p*10 + int(c-'0')
			if p > 65535 {
				return dst, false
			}
		}
		port = strings.TrimLeft(port, "0")
		if port == "" {
			port = "0"
		}
		if port != defaultPort {
			dst = append(dst, ':')
			dst = append(dst, port...)
		}
	}
	// RFC 3986 §6.2.3: an empty path is equivalent to "/".
	if path == "" {
		return append(dst, '/'), true
	}
	start := len(dst)
	if dst, ok = appendNormalizedComponent(dst, path, false, true); !ok {
		return dst, false
	}
	if hasDotSegment(dst[start:]) {
		dst = removeDotSegments(dst, start)
	}
	return dst, true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isSubDelim(c byte) bool {
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}

// appendNormalizedComponent copies a host (reg-name) or path, RFC 3986 §3.2.2 and §3.3, applying the
// percent-encoding normalization of §6.2.2.2 ("%7e" → "~", "%2f" → "%2F") and, for the host, the case
// normalization of §6.2.2.1.
func appendNormalizedComponent(dst []byte, s string, isHost, isPath bool) ([]byte, bool) {
	for k := 0; k < len(s); k++ {
		c := s[k]
		switch {
		case c == '%':
			if k+2 >= len(s) || !isHex(s[k+1]) || !isHex(s[k+2]) {
				return dst, false
			}
			v := unhex(s[k+1])<<4 | unhex(s[k+2])
			k += 2
			if isUnreserved(v) {
				if isHost {
					v = lower(v)
				}
				dst = append(dst, v)
			} else {
				dst = append(dst, '%', upper(s[k-1]), upper(s[k]))
			}
		case isUnreserved(c) || isSubDelim(c):
			if isHost {
				c = lower(c)
			}
			dst = append(dst, c)
		case isPath && (c == ':' || c == '@' || c == '/'):
			dst = append(dst, c)
		default:
			return dst, false
		}
	}
	return dst, true
}

func hasDotSegment(p []byte) bool {
	for k := 0; k < len(p); k++ {
		if p[k] == '.' && (k == 0 || p[k-1] == '/') {
			// "." or ".." as a whole segment
			rest := p[k:]
			if len(rest) == 1 || rest[1] == '/' || (rest[1] == '.' && (len(rest) == 2 || rest[2] == '/')) {
				return true
			}
		}
	}
	return false
}

// removeDotSegments applies RFC 3986 §5.2.4 to the absolute path dst[start:], in place.
func removeDotSegments(dst []byte, start int) []byte {
	in := string(dst[start:]) // a copy: the output overwrites dst
	out := dst[:start]
	for len(in) > 0 {
		switch {
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			out = dropLastSegment(out, start)
		case in == "/..":
			in = "/"
			out = dropLastSegment(out, start)
		default:
			// Move the first segment, with its leading "/", to the output.
			j := strings.IndexByte(in[1:], '/')
			if j < 0 {
				out = append(out, in...)
				in = ""
			} else {
				out = append(out, in[:j+1]...)
				in = in[j+1:]
			}
		}
	}
	if len(out) == start {
		out = append(out, '/')
	}
	return out
}

func dropLastSegment(out []byte, start int) []byte {
	for k := len(out) - 1; k >= start; k-- {
		if out[k] == '/' {
			return out[:k]
		}
	}
	return out[:start]
}
