package as

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
)

// Token prefixes make leaked codes and refresh tokens recognisable to secret scanners.
const (
	codePrefix    = "mcpa_ac_"
	refreshPrefix = "mcpa_rt_"
)

// tokenStrategy issues RFC 9068 JWT access tokens and opaque authorization codes and refresh tokens.
//
// Opaque values are 256 random bits; the store keeps only their SHA-256 (the "signature"), so a read of the
// database yields nothing usable, and no shared HMAC secret has to be distributed to replicas. Access tokens
// are looked up by the SHA-256 of the whole JWT for introspection and revocation.
type tokenStrategy struct {
	issuer string
	keys   *keyRing
	now    func() time.Time
}

var _ oauth2.CoreStrategy = (*tokenStrategy)(nil)

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomToken(prefix string) (token, signature string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	token = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token), nil
}

func (s *tokenStrategy) validateOpaque(r fosite.Requester, token, prefix string, tt fosite.TokenType) error {
	if !strings.HasPrefix(token, prefix) {
		return fosite.ErrInvalidTokenFormat
	}
	if exp := r.GetSession().GetExpiresAt(tt); !exp.IsZero() && !s.now().Before(exp) {
		return fosite.ErrTokenExpired.WithHintf("The %s expired.", strings.ReplaceAll(string(tt), "_", " "))
	}
	return nil
}

func (s *tokenStrategy) AuthorizeCodeSignature(_ context.Context, token string) string {
	return hashToken(token)
}

func (s *tokenStrategy) GenerateAuthorizeCode(context.Context, fosite.Requester) (string, string, error) {
	return randomToken(codePrefix)
}

func (s *tokenStrategy) ValidateAuthorizeCode(_ context.Context, r fosite.Requester, token string) error {
	return s.validateOpaque(r, token, codePrefix, fosite.AuthorizeCode)
}

func (s *tokenStrategy) RefreshTokenSignature(_ context.Context, token string) string {
	return hashToken(token)
}

func (s *tokenStrategy) GenerateRefreshToken(context.Context, fosite.Requester) (string, string, error) {
	return randomToken(refreshPrefix)
}

func (s *tokenStrategy) ValidateRefreshToken(_ context.Context, r fosite.Requester, token string) error {
	return s.validateOpaque(r, token, refreshPrefix, fosite.RefreshToken)
}

func (s *tokenStrategy) AccessTokenSignature(_ context.Context, token string) string {
	return hashToken(token)
}

// accessClaims is the RFC 9068 §2.2 claim set plus mcpauth's claims (SPEC "Access tokens").
type accessClaims struct {
	Issuer          string   `json:"iss"`
	Subject         string   `json:"sub"`
	Audience        string   `json:"aud"` // the single resource (RFC 8707 §2, SPEC)
	ClientID        string   `json:"client_id"`
	Scope           string   `json:"scope,omitempty"`
	IssuedAt        int64    `json:"iat"`
	ExpiresAt       int64    `json:"exp"`
	JTI             string   `json:"jti"`
	AuthTime        int64    `json:"auth_time,omitempty"`
	Cnf             *cnf     `json:"cnf,omitempty"`
	OrgID           string   `json:"org_id,omitempty"`
	Connections     []string `json:"ddls:connections"`
	UserDelegations []string `json:"ddls:user_delegations,omitempty"`
}

type cnf struct {
	JKT string `json:"jkt"`
}

func sessionOf(r fosite.Requester) (*Session, error) {
	s, ok := r.GetSession().(*Session)
	if !ok || s == nil {
		return nil, errors.New("as: request carries no mcpauth session")
	}
	return s, nil
}

func (s *tokenStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	sess, err := sessionOf(r)
	if err != nil {
		return "", "", err
	}
	aud := r.GetGrantedAudience()
	if len(aud) != 1 {
		// RFC 8707 §2 + SPEC: every token is for exactly one resource.
		return "", "", fmt.Errorf("as: token must have exactly one audience, has %d", len(aud))
	}
	now := s.now()
	exp := sess.GetExpiresAt(fosite.AccessToken)
	if exp.IsZero() {
		return "", "", errors.New("as: access token has no expiry")
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", "", err
	}
	sub := sess.Subject
	if sub == "" {
		sub = r.GetClient().GetID() // RFC 9068 §2.2: client credentials use the client as subject
	}
	c := accessClaims{
		Issuer:          s.issuer,
		Subject:         sub,
		Audience:        aud[0],
		ClientID:        r.GetClient().GetID(),
		Scope:           strings.Join(r.GetGrantedScopes(), " "),
		IssuedAt:        now.Unix(),
		ExpiresAt:       exp.Unix(),
		JTI:             base64.RawURLEncoding.EncodeToString(jti[:]),
		OrgID:           sess.OrgID,
		Connections:     sess.Connections,
		UserDelegations: sess.UserDelegations,
	}
	if c.Connections == nil {
		c.Connections = []string{}
	}
	if !sess.AuthTime.IsZero() {
		c.AuthTime = sess.AuthTime.Unix()
	}
	if sess.JKT != "" {
		c.Cnf = &cnf{JKT: sess.JKT}
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", "", err
	}
	key, err := s.keys.current(ctx)
	if err != nil {
		return "", "", err
	}
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, key.kid)
	_ = hdr.Set(jws.TypeKey, "at+jwt") // RFC 9068 §2.1
	tok, err := jws.Sign(payload, jws.WithKey(key.alg, key.signer, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", "", fmt.Errorf("as: sign access token: %w", err)
	}
	token := string(tok)
	return token, hashToken(token), nil
}

// ValidateAccessToken verifies a token this server issued: signature by one of our keys, typ, expiry.
func (s *tokenStrategy) ValidateAccessToken(_ context.Context, _ fosite.Requester, token string) error {
	_, err := s.verifyAccessToken(token)
	return err
}

// verifyAccessToken returns the verified claims as a JSON object.
func (s *tokenStrategy) verifyAccessToken(token string) (map[string]any, error) {
	msg, err := jws.Parse([]byte(token))
	if err != nil || len(msg.Signatures()) != 1 {
		return nil, fosite.ErrInvalidTokenFormat
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	kid, _ := h.KeyID()
	typ, _ := h.Type()
	if !strings.EqualFold(typ, "at+jwt") { // RFC 9068 §4: typ MUST be at+jwt
		return nil, fosite.ErrInvalidTokenFormat
	}
	key := s.keys.lookup(kid)
	if key == nil {
		return nil, fosite.ErrTokenSignatureMismatch
	}
	payload, err := jws.Verify([]byte(token), jws.WithKey(key.alg, key.public))
	if err != nil {
		return nil, fosite.ErrTokenSignatureMismatch
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fosite.ErrInvalidTokenFormat
	}
	exp, _ := claims["exp"].(float64)
	if !s.now().Before(time.Unix(int64(exp), 0)) {
		return nil, fosite.ErrTokenExpired
	}
	return claims, nil
}
