package bootstrap

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ddls/mcpauth/as/password"
	"github.com/ddls/mcpauth/internal/oauthuri"
)

// Limits and vocabularies of the file.
const (
	maxIDLen       = 128
	maxClientIDLen = 255
	maxTextLen     = 200
	// minSecretLen: a client secret is stored as one unsalted SHA-256 (SPEC "Clients": secrets are not
	// passwords, a slow hash would cap token throughput), which protects only a high-entropy value.
	minSecretLen = 16
	// minPasswordLen follows NIST SP 800-63B §5.1.1.2 ("at least 8 characters in length").
	minPasswordLen = 8
	maxPasswordLen = 1024
	maxTokenTTL    = 24 * time.Hour

	scopeOfflineAccess = "offline_access"

	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantClientCredentials = "client_credentials"

	authNone              = "none"
	authClientSecretBasic = "client_secret_basic"
	authClientSecretPost  = "client_secret_post"
	authPrivateKeyJWT     = "private_key_jwt"

	roleAdmin  = "admin"
	roleMember = "member"
)

type validator struct {
	ps *problems
	f  *File
	// resources maps canonical URI → the declared resource.
	resources map[string]*Resource
	// badResourceURIs are declared URIs (as written) that failed to canonicalise: already reported, so
	// references to them stay silent.
	badResourceURIs map[string]bool
	orgs            map[string]*Organization
	conns           map[string]*Connection
	connOrg         map[string]string
}

// validate checks the whole file and normalises it in place. It is idempotent.
func (f *File) validate(ps *problems) {
	v := &validator{
		ps:              ps,
		f:               f,
		resources:       map[string]*Resource{},
		badResourceURIs: map[string]bool{},
		orgs:            map[string]*Organization{},
		conns:           map[string]*Connection{},
		connOrg:         map[string]string{},
	}
	for i := range f.Resources {
		v.resource(fmt.Sprintf("resources[%d]", i), &f.Resources[i])
	}
	for i := range f.Organizations {
		v.organization(fmt.Sprintf("organizations[%d]", i), &f.Organizations[i])
	}
	usernames := map[string]string{}
	for i := range f.Users {
		v.user(fmt.Sprintf("users[%d]", i), &f.Users[i], usernames)
	}
	clientIDs := map[string]string{}
	for i := range f.Clients {
		v.client(fmt.Sprintf("clients[%d]", i), &f.Clients[i], clientIDs)
	}
}

func (v *validator) add(path, format string, args ...any) { v.ps.add(path, format, args...) }

// id checks an identifier: 1 to max visible ASCII characters (RFC 6749 Appendix A's VSCHAR without space).
func (v *validator) id(path, what, s string, max int) bool {
	switch {
	case s == "":
		v.add(path, "%s is required", what)
		return false
	case len(s) > max:
		v.add(path, "%s is longer than %d characters", what, max)
		return false
	}
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7e {
			v.add(path, "%s must be visible ASCII characters without spaces", what)
			return false
		}
	}
	return true
}

// text checks a display string: UTF-8, no control characters, bounded.
func (v *validator) text(path, s string) {
	if !utf8.ValidString(s) {
		v.add(path, "must be valid UTF-8")
		return
	}
	if utf8.RuneCountInString(s) > maxTextLen {
		v.add(path, "is longer than %d characters", maxTextLen)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		v.add(path, "must not contain control characters")
	}
}

// isScopeToken implements RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c != 0x21 && (c < 0x23 || c > 0x5b) && (c < 0x5d || c > 0x7e) {
			return false
		}
	}
	return true
}

// dup reports a duplicate within one list and returns true for it.
func dup(v *validator, seen map[string]string, key, path, what string) bool {
	if first, ok := seen[key]; ok {
		v.add(path, "duplicate %s %q (first at %s)", what, key, first)
		return true
	}
	seen[key] = path
	return false
}

func (v *validator) resource(path string, r *Resource) {
	if r.URI == "" {
		v.add(path+".uri", "uri is required")
	} else if canon, err := oauthuri.CanonicalResource(r.URI); err != nil {
		// RFC 8707 §2: an absolute URI without a fragment; canonical form per SPEC "Resource indicators".
		v.add(path+".uri", "%s", err)
		v.badResourceURIs[r.URI] = true
	} else {
		r.URI = canon
		if _, ok := v.resources[canon]; ok {
			v.add(path+".uri", "duplicate resource %q (URIs are compared in canonical form)", canon)
		} else {
			v.resources[canon] = r
		}
	}
	v.text(path+".name", r.Name)
	seen := map[string]string{}
	for i, s := range r.Scopes {
		p := fmt.Sprintf("%s.scopes[%d]", path, i)
		switch {
		case s.Name == "":
			v.add(p+".name", "scope name is required")
		case !isScopeToken(s.Name):
			v.add(p+".name", "scope %q is not an RFC 6749 §3.3 scope-token (visible ASCII except space, \" and \\)", s.Name)
		case s.Name == scopeOfflineAccess:
			v.add(p+".name", "offline_access is reserved: it asks for a refresh token and is not declared by resources")
		default:
			dup(v, seen, s.Name, p+".name", "scope")
		}
	}
	_, ttlGiven := v.ps.lines[path+".access_token_ttl"]
	if r.AccessTokenTTL < 0 || (r.AccessTokenTTL == 0 && ttlGiven) {
		v.add(path+".access_token_ttl", "must be greater than zero")
	} else if r.AccessTokenTTL > maxTokenTTL {
		v.add(path+".access_token_ttl", "must be at most 24h: access tokens are short-lived (SPEC: default 10m)")
	}
}

// resourceRef canonicalises a reference to a resource and checks it was declared.
func (v *validator) resourceRef(path, raw string) (string, bool) {
	if raw == "" {
		v.add(path, "resource must not be empty")
		return "", false
	}
	if v.badResourceURIs[raw] {
		return "", false
	}
	canon, err := oauthuri.CanonicalResource(raw)
	if err != nil {
		v.add(path, "%s", err)
		return "", false
	}
	if _, ok := v.resources[canon]; !ok {
		v.add(path, "resource %q is not declared under resources", canon)
		return "", false
	}
	return canon, true
}

// resourceRefs canonicalises a list of resource references in place, reporting duplicates.
func (v *validator) resourceRefs(path string, list []string) {
	seen := map[string]string{}
	for i, raw := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		if canon, ok := v.resourceRef(p, raw); ok {
			list[i] = canon
			dup(v, seen, canon, p, "resource")
		}
	}
}

func (v *validator) organization(path string, o *Organization) {
	if v.id(path+".id", "id", o.ID, maxIDLen) {
		if _, ok := v.orgs[o.ID]; ok {
			v.add(path+".id", "duplicate organization id %q", o.ID)
		} else {
			v.orgs[o.ID] = o
		}
	}
	if o.Name == "" {
		o.Name = o.ID
	}
	v.text(path+".name", o.Name)
	for i := range o.Connections {
		c := &o.Connections[i]
		p := fmt.Sprintf("%s.connections[%d]", path, i)
		if v.id(p+".id", "id", c.ID, maxIDLen) {
			// Connection ids are global: a token's ddls:connections names them without their organization.
			if _, ok := v.conns[c.ID]; ok {
				v.add(p+".id", "duplicate connection id %q (connection ids are global, not per organization)", c.ID)
			} else {
				v.conns[c.ID] = c
				v.connOrg[c.ID] = o.ID
			}
		}
		if c.Name == "" {
			c.Name = c.ID
		}
		v.text(p+".name", c.Name)
		if c.Kind == "" {
			v.add(p+".kind", "kind is required (for example github, postgres, http)")
		} else if !isKind(c.Kind) {
			v.add(p+".kind", "kind must be lowercase letters, digits, '.', '_' or '-' (for example github)")
		}
		v.resourceRefs(p+".resources", c.Resources)
		seen := map[string]string{}
		for j, intent := range c.Contract {
			q := fmt.Sprintf("%s.contract[%d]", p, j)
			if !v.id(q, "intent", intent, maxIDLen) {
				continue
			}
			dup(v, seen, intent, q, "intent")
		}
	}
}

func isKind(s string) bool {
	if len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (v *validator) user(path string, u *User, usernames map[string]string) {
	switch {
	case u.Username == "":
		v.add(path+".username", "username is required")
	case len(u.Username) > maxIDLen:
		v.add(path+".username", "username is longer than %d bytes", maxIDLen)
	case !utf8.ValidString(u.Username) || strings.IndexFunc(u.Username, unicode.IsControl) >= 0:
		v.add(path+".username", "username must be UTF-8 without control characters")
	case strings.TrimSpace(u.Username) != u.Username:
		v.add(path+".username", "username must not start or end with white space")
	default:
		// Compared case-insensitively: "Alice" and "alice" side by side is a mistake waiting to happen.
		dup(v, usernames, strings.ToLower(u.Username), path+".username", "username")
	}
	switch {
	case u.Password != "" && u.PasswordHash != "":
		v.add(path+".password_hash", "set password or password_hash, not both")
	case u.Password == "" && u.PasswordHash == "":
		if !v.ps.bad[path+".password"] && !v.ps.bad[path+".password_hash"] {
			v.add(path, "password or password_hash is required")
		}
	case u.Password != "":
		if n := utf8.RuneCountInString(string(u.Password)); n < minPasswordLen {
			v.add(path+".password", "password must be at least %d characters (NIST SP 800-63B §5.1.1.2)", minPasswordLen)
		} else if len(u.Password) > maxPasswordLen {
			v.add(path+".password", "password is longer than %d bytes", maxPasswordLen)
		}
	default:
		if _, err := password.ParamsOf(u.PasswordHash); err != nil {
			// The error names the defect, never the hash.
			v.add(path+".password_hash", "not a usable argon2id PHC string: %s",
				strings.TrimPrefix(err.Error(), "password: invalid argon2id hash: "))
		}
	}
	seen := map[string]string{}
	for i := range u.Organizations {
		m := &u.Organizations[i]
		p := fmt.Sprintf("%s.organizations[%d]", path, i)
		if m.ID == "" {
			v.add(p+".id", "organization id is required")
		} else if _, ok := v.orgs[m.ID]; !ok {
			v.add(p+".id", "organization %q is not declared under organizations", m.ID)
		} else {
			dup(v, seen, m.ID, p+".id", "membership of organization")
		}
		switch m.Role {
		case "":
			m.Role = roleMember
		case roleAdmin, roleMember:
		default:
			v.add(p+".role", "role must be admin or member")
		}
	}
}
