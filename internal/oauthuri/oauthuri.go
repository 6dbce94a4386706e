// Package oauthuri canonicalises resource indicators and validates redirect URIs.
//
// Resource indicators follow RFC 8707 §2 (https://www.rfc-editor.org/rfc/rfc8707#section-2): an absolute
// URI without a fragment. mcpauth's canonical form (SPEC "Resource indicators") lowercases scheme and host,
// drops a default port and one trailing slash, so `HTTP://Example.com:443/mcp/` names the same resource as
// `https://example.com/mcp` only when scheme and port agree. Redirect URIs follow OAuth 2.1 §2.3.1 / RFC 8252
// §7.3: absolute, no fragment, https, or http only on a loopback host.
package oauthuri

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// CanonicalResource returns the canonical form of a resource indicator or an error saying what is wrong.
func CanonicalResource(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("resource is empty")
	}
	if len(raw) > 2048 {
		return "", errors.New("resource is too long")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("resource is not a valid URI")
	}
	// RFC 8707 §2: "MUST be an absolute URI" and "MUST NOT include a fragment component".
	if !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", errors.New("resource must be an absolute URI with a host")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "", errors.New("resource must not contain a fragment")
	}
	if u.User != nil {
		return "", errors.New("resource must not contain user information")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", errors.New("resource must be an http or https URI")
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	path := u.EscapedPath()
	path = strings.TrimSuffix(path, "/")
	out := scheme + "://" + host + path
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out, nil
}

// IsLoopbackHost reports whether host (without port) is localhost or a loopback IP literal.
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ValidateRedirectURI checks a redirect URI a client registers.
func ValidateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("redirect URI %q is not an absolute URI", raw)
	}
	// OAuth 2.1 §2.3.1: "The redirect URI MUST NOT include a fragment component."
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("redirect URI %q must not contain a fragment", raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("redirect URI %q has no host", raw)
		}
	case "http":
		// OAuth 2.1 §1.5 / RFC 8252 §7.3: plain http only for loopback redirects.
		if !IsLoopbackHost(u.Hostname()) {
			return fmt.Errorf("redirect URI %q uses http on a non-loopback host; use https", raw)
		}
	case "javascript", "data", "file", "vbscript":
		return fmt.Errorf("redirect URI %q uses a forbidden scheme", raw)
	default:
		// RFC 8252 §7.1: private-use URI schemes for native apps, which must contain a period.
		if !strings.Contains(u.Scheme, ".") {
			return fmt.Errorf("redirect URI %q: a private-use scheme must be reverse-domain (contain a period)", raw)
		}
	}
	return nil
}
