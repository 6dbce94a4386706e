package bootstrap

import (
	"log/slog"
	"slices"
	"time"
)

// File is a bootstrap file. After Parse it is validated and normalised: resource URIs are canonical, defaults
// are filled in (token endpoint auth method, grant types, client scopes, membership roles, names).
type File struct {
	// Name is the file name problems are reported against.
	Name          string
	Resources     []Resource
	Organizations []Organization
	Users         []User
	Clients       []Client

	// lines maps a path (clients[1].redirect_uris[0]) to the line it was read from.
	lines map[string]int
}

// Resource is a protected resource (an RFC 8707 target, the audience of its tokens).
type Resource struct {
	URI            string
	Name           string
	Scopes         []Scope
	RequireDPoP    bool
	AccessTokenTTL time.Duration // zero: the server default
}

// Scope is a scope a resource declares.
type Scope struct {
	Name    string
	Default bool
}

// Organization groups users, confidential clients and connections.
type Organization struct {
	ID          string
	Name        string
	Connections []Connection
}

// Connection is an org-owned handle to a downstream credential.
type Connection struct {
	ID        string
	Name      string
	Kind      string
	Resources []string
	Contract  []string
}

// User is a local user. Exactly one of Password and PasswordHash is set.
type User struct {
	Username      string
	Password      Secret
	PasswordHash  string // argon2id PHC string
	Organizations []Membership
}

// Membership places a user in an organization.
type Membership struct {
	ID   string // organization id
	Role string
}

// Client is an admin-declared OAuth client.
type Client struct {
	ClientID                string
	ClientName              string
	Public                  bool
	ClientSecret            Secret
	ClientSecretHash        string // lowercase hex SHA-256 of the secret
	TokenEndpointAuthMethod string
	RedirectURIs            []string
	GrantTypes              []string
	Resources               []string
	Scopes                  []string
	Organization            string
	Connections             []string
	JWKS                    []byte // a JWK Set as JSON; nil when absent
	JWKSURI                 string
	DPoPBoundAccessTokens   bool
}

// Secret is a password or client secret from the file. It formats, logs and marshals as "[redacted]", so a
// File can be printed or logged without leaking it; string(s) gives the value.
type Secret string

const redacted = "[redacted]"

func (s Secret) String() string { return redactedIfSet(s) }

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return redactedIfSet(s) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redactedIfSet(s)) }

// MarshalText keeps encoders (JSON, YAML) from writing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redactedIfSet(s)), nil }

func redactedIfSet(s Secret) string {
	if s == "" {
		return ""
	}
	return redacted
}

// clone returns a deep copy, so Apply can validate and normalise without touching the caller's File.
func (f *File) clone() *File {
	g := &File{Name: f.Name, lines: f.lines}
	for _, r := range f.Resources {
		r.Scopes = slices.Clone(r.Scopes)
		g.Resources = append(g.Resources, r)
	}
	for _, o := range f.Organizations {
		conns := make([]Connection, 0, len(o.Connections))
		for _, c := range o.Connections {
			c.Resources = slices.Clone(c.Resources)
			c.Contract = slices.Clone(c.Contract)
			conns = append(conns, c)
		}
		o.Connections = conns
		g.Organizations = append(g.Organizations, o)
	}
	for _, u := range f.Users {
		u.Organizations = slices.Clone(u.Organizations)
		g.Users = append(g.Users, u)
	}
	for _, c := range f.Clients {
		c.RedirectURIs = slices.Clone(c.RedirectURIs)
		c.GrantTypes = slices.Clone(c.GrantTypes)
		c.Resources = slices.Clone(c.Resources)
		c.Scopes = slices.Clone(c.Scopes)
		c.Connections = slices.Clone(c.Connections)
		c.JWKS = slices.Clone(c.JWKS)
		g.Clients = append(g.Clients, c)
	}
	return g
}
