package postgres

import (
	"context"
	"time"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

// fosite requests (authorization codes, access and refresh tokens, PKCE sessions). Each lookup joins the
// client, so one round trip returns both; a deleted client makes its tokens not found.
// Contract: https://github.com/ory/fosite/blob/master/handler/oauth2/storage.go and as/store doc.go.

// withClient is a fosite.ClientManager that already holds the client read together with the token.
type withClient struct {
	*Store
	client *store.FositeClient
}

func (w withClient) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if id == w.client.ID {
		return w.client, nil
	}
	return w.Store.GetClient(ctx, id)
}

// getRequest runs a "SELECT t.data, <extra…>, clientCols" query for sig and decodes the request.
func (s *Store) getRequest(ctx context.Context, op, query, sig string, session fosite.Session, extra ...any) (*fosite.Request, error) {
	if !storable(sig) {
		return nil, fosite.ErrNotFound
	}
	var (
		data []byte
		cs   clientScan
	)
	dest := make([]any, 0, 1+len(extra)+17)
	dest = append(dest, &data)
	dest = append(dest, extra...)
	dest = append(dest, cs.dest()...)
	if err := s.db(ctx).QueryRow(ctx, query, sig).Scan(dest...); err != nil {
		return nil, translate(op, err)
	}
	return store.DecodeRequest(ctx, data, session, withClient{s, store.NewFositeClient(cs.client())})
}

func (s *Store) exec(ctx context.Context, op, query string, args ...any) (int64, error) {
	tag, err := s.db(ctx).Exec(ctx, query, args...)
	if err != nil {
		return 0, translate(op, err)
	}
	return tag.RowsAffected(), nil
}

// --- authorization codes ---

func (s *Store) CreateAuthorizeCodeSession(ctx context.Context, code string, r fosite.Requester) error {
	data, meta, err := store.EncodeRequest(r, fosite.AuthorizeCode)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "create code", `INSERT INTO oauth2_codes (signature, request_id, client_id, expires_at, data)
		VALUES ($1, $2, $3, $4, $5)`, code, meta.RequestID, meta.ClientID, nullTime(meta.ExpiresAt), data)
	return err
}

func (s *Store) GetAuthorizeCodeSession(ctx context.Context, code string, session fosite.Session) (fosite.Requester, error) {
	var active bool
	req, err := s.getRequest(ctx, "get code", `SELECT t.data, t.active, `+clientCols+`
		FROM oauth2_codes t JOIN clients c ON c.id = t.client_id WHERE t.signature = $1`, code, session, &active)
	if err != nil {
		return nil, err
	}
	if !active {
		// RFC 6749 §4.1.2: the original request comes back so the tokens issued from it can be revoked.
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession marks the code used. RFC 6749 §4.1.2: a code is redeemed once. The
// conditional UPDATE locks the row: a concurrent redemption waits for this transaction and, once it commits,
// matches nothing and gets store.ErrCodeAlreadyUsed.
func (s *Store) InvalidateAuthorizeCodeSession(ctx context.Context, code string) error {
	if !storable(code) {
		return fosite.ErrNotFound
	}
	n, err := s.exec(ctx, "invalidate code", `UPDATE oauth2_codes SET active = false WHERE signature = $1 AND active`, code)
	if err != nil || n == 1 {
		return err
	}
	var exists bool
	if err := s.db(ctx).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM oauth2_codes WHERE signature = $1)`, code).Scan(&exists); err != nil {
		return translate("invalidate code", err)
	}
	if !exists {
		return fosite.ErrNotFound
	}
	return store.ErrCodeAlreadyUsed
}

// --- access tokens ---

// CreateAccessTokenSession is one INSERT: the client-credentials hot path.
func (s *Store) CreateAccessTokenSession(ctx context.Context, sig string, r fosite.Requester) error {
	data, meta, err := store.EncodeRequest(r, fosite.AccessToken)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "create access token", `INSERT INTO oauth2_access_tokens
		(signature, request_id, client_id, subject, expires_at, data) VALUES ($1, $2, $3, $4, $5, $6)`,
		sig, meta.RequestID, meta.ClientID, meta.Subject, nullTime(meta.ExpiresAt), data)
	return err
}

func (s *Store) GetAccessTokenSession(ctx context.Context, sig string, session fosite.Session) (fosite.Requester, error) {
	return s.getRequest(ctx, "get access token", `SELECT t.data, `+clientCols+`
		FROM oauth2_access_tokens t JOIN clients c ON c.id = t.client_id WHERE t.signature = $1`, sig, session)
}

func (s *Store) DeleteAccessTokenSession(ctx context.Context, sig string) error {
	n, err := s.exec(ctx, "delete access token", `DELETE FROM oauth2_access_tokens WHERE signature = $1`, sig)
	if err == nil && n == 0 {
		return fosite.ErrNotFound
	}
	return err
}

// RevokeAccessToken deletes every access token of the grant family requestID (RFC 7009 §2.1).
func (s *Store) RevokeAccessToken(ctx context.Context, requestID string) error {
	_, err := s.exec(ctx, "revoke access tokens", `DELETE FROM oauth2_access_tokens WHERE request_id = $1`, requestID)
	return err
}

// --- refresh tokens ---

func (s *Store) CreateRefreshTokenSession(ctx context.Context, sig, accessSig string, r fosite.Requester) error {
	data, meta, err := store.EncodeRequest(r, fosite.RefreshToken)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "create refresh token", `INSERT INTO oauth2_refresh_tokens
		(signature, request_id, client_id, subject, access_signature, expires_at, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		sig, meta.RequestID, meta.ClientID, meta.Subject, accessSig, nullTime(meta.ExpiresAt), data)
	return err
}

// inGrace reports whether a rotated, not revoked, refresh token may still be presented: a retry by a client
// that refreshed concurrently. A revoked family never is (RFC 6819 §5.2.2.3).
func (s *Store) inGrace(rotatedAt, revokedAt *time.Time) bool {
	return s.grace > 0 && revokedAt == nil && rotatedAt != nil && s.now().Sub(*rotatedAt) <= s.grace
}

// GetRefreshTokenSession returns the request; for a used token outside the grace period, or a revoked one,
// it returns the request together with fosite.ErrInactiveToken, on which fosite revokes the whole family
// (OAuth 2.1 §4.3.1, RFC 6819 §5.2.2.3).
func (s *Store) GetRefreshTokenSession(ctx context.Context, sig string, session fosite.Session) (fosite.Requester, error) {
	var (
		active               bool
		rotatedAt, revokedAt *time.Time
	)
	req, err := s.getRequest(ctx, "get refresh token", `SELECT t.data, t.active, t.rotated_at, t.revoked_at, `+clientCols+`
		FROM oauth2_refresh_tokens t JOIN clients c ON c.id = t.client_id WHERE t.signature = $1`,
		sig, session, &active, &rotatedAt, &revokedAt)
	if err != nil {
		return nil, err
	}
	if active || s.inGrace(rotatedAt, revokedAt) {
		return req, nil
	}
	return req, fosite.ErrInactiveToken
}

// DeleteRefreshTokenSession marks the token revoked; the row stays so later reuse is still recognised.
func (s *Store) DeleteRefreshTokenSession(ctx context.Context, sig string) error {
	n, err := s.exec(ctx, "revoke refresh token", `UPDATE oauth2_refresh_tokens SET active = false, revoked_at = $2
		WHERE signature = $1`, sig, s.now())
	if err == nil && n == 0 {
		return fosite.ErrNotFound
	}
	return err
}

// RotateRefreshToken marks sig used and deletes the access token issued with it, in one statement.
// OAuth 2.1 §4.3.1 / RFC 6819 §5.2.2.3: a refresh token is used once. The conditional UPDATE locks the row,
// so of two concurrent rotations the second waits and then matches nothing: it succeeds only inside the grace
// period after the first (and never once the family was revoked), else it gets fosite.ErrInactiveToken.
func (s *Store) RotateRefreshToken(ctx context.Context, requestID, sig string) error {
	if !storable(requestID) || !storable(sig) {
		return fosite.ErrNotFound
	}
	var n int64
	err := s.db(ctx).QueryRow(ctx, `WITH r AS (
			UPDATE oauth2_refresh_tokens SET active = false, rotated_at = $3
			WHERE signature = $1 AND request_id = $2 AND active
			RETURNING access_signature
		), a AS (
			DELETE FROM oauth2_access_tokens WHERE signature IN (SELECT access_signature FROM r)
		)
		SELECT count(*) FROM r`, sig, requestID, s.now()).Scan(&n)
	if err != nil || n > 0 {
		return translate("rotate refresh token", err)
	}
	var rotatedAt, revokedAt *time.Time
	err = s.db(ctx).QueryRow(ctx, `SELECT rotated_at, revoked_at FROM oauth2_refresh_tokens
		WHERE signature = $1 AND request_id = $2 AND NOT active`, sig, requestID).Scan(&rotatedAt, &revokedAt)
	if err != nil {
		return translate("rotate refresh token", err) // no row: unknown token or another family
	}
	if s.inGrace(rotatedAt, revokedAt) {
		return nil
	}
	return fosite.ErrInactiveToken
}

// RevokeRefreshToken revokes every refresh token of the grant family requestID (RFC 7009 §2.1).
func (s *Store) RevokeRefreshToken(ctx context.Context, requestID string) error {
	_, err := s.exec(ctx, "revoke refresh tokens", `UPDATE oauth2_refresh_tokens SET active = false, revoked_at = $2
		WHERE request_id = $1 AND revoked_at IS NULL`, requestID, s.now())
	return err
}

// --- PKCE (RFC 7636) ---

func (s *Store) CreatePKCERequestSession(ctx context.Context, sig string, r fosite.Requester) error {
	data, meta, err := store.EncodeRequest(r, fosite.AuthorizeCode)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "create pkce", `INSERT INTO oauth2_pkce (signature, request_id, client_id, expires_at, data)
		VALUES ($1, $2, $3, $4, $5)`, sig, meta.RequestID, meta.ClientID, nullTime(meta.ExpiresAt), data)
	return err
}

func (s *Store) GetPKCERequestSession(ctx context.Context, sig string, session fosite.Session) (fosite.Requester, error) {
	return s.getRequest(ctx, "get pkce", `SELECT t.data, `+clientCols+`
		FROM oauth2_pkce t JOIN clients c ON c.id = t.client_id WHERE t.signature = $1`, sig, session)
}

// DeletePKCERequestSession deletes the session; a missing one is not an error (as in the memory store).
func (s *Store) DeletePKCERequestSession(ctx context.Context, sig string) error {
	_, err := s.exec(ctx, "delete pkce", `DELETE FROM oauth2_pkce WHERE signature = $1`, sig)
	return err
}
