package as

import (
	"maps"
	"slices"
	"time"

	"github.com/ory/fosite"
)

// Session is what fosite carries through a grant and persists with every code and token: the subject and
// the mcpauth claims that end up in RFC 9068 access tokens.
type Session struct {
	Subject         string                         `json:"sub"`
	Username        string                         `json:"username,omitempty"`
	AuthTime        time.Time                      `json:"auth_time,omitzero"`
	Resource        string                         `json:"resource,omitempty"` // RFC 8707 target = aud
	OrgID           string                         `json:"org_id,omitempty"`
	Connections     []string                       `json:"connections,omitempty"`
	UserDelegations []string                       `json:"user_delegations,omitempty"`
	JKT             string                         `json:"jkt,omitempty"`         // RFC 9449 §6: cnf.jkt of the access token
	RefreshJKT      string                         `json:"refresh_jkt,omitempty"` // RFC 9449 §5: key a public client's refresh token is bound to
	CodeJKT         string                         `json:"code_jkt,omitempty"`    // RFC 9449 §10: dpop_jkt of the authorization request
	ExpiresAt       map[fosite.TokenType]time.Time `json:"expires_at,omitempty"`
}

var _ fosite.Session = (*Session)(nil)

func (s *Session) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if s.ExpiresAt == nil {
		s.ExpiresAt = map[fosite.TokenType]time.Time{}
	}
	s.ExpiresAt[key] = exp
}

func (s *Session) GetExpiresAt(key fosite.TokenType) time.Time {
	if s.ExpiresAt == nil {
		return time.Time{}
	}
	return s.ExpiresAt[key]
}

func (s *Session) GetUsername() string { return s.Username }
func (s *Session) GetSubject() string  { return s.Subject }

func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := *s
	c.Connections = slices.Clone(s.Connections)
	c.UserDelegations = slices.Clone(s.UserDelegations)
	c.ExpiresAt = maps.Clone(s.ExpiresAt)
	return &c
}
