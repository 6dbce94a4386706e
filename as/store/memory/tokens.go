package memory

import (
	"context"
	"time"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

// purgeEvery is how many token writes pass between sweeps of expired rows.
const purgeEvery = 4096

func (s *Store) getRow(ctx context.Context, m map[string]tokenRow, sig string) (tokenRow, bool) {
	_, unlock := s.lock(ctx)
	defer unlock()
	row, ok := m[sig]
	return row, ok
}

func (s *Store) createRow(ctx context.Context, m map[string]tokenRow, sig, accessSig string, r fosite.Requester, tt fosite.TokenType) error {
	data, meta, err := store.EncodeRequest(r, tt)
	if err != nil {
		return err
	}
	t, unlock := s.lock(ctx)
	defer unlock()
	if _, ok := m[sig]; ok {
		return store.ErrConflict
	}
	put(t, m, sig, tokenRow{data: data, requestID: meta.RequestID, accessSig: accessSig, active: true, expiresAt: meta.ExpiresAt})
	s.wrote(t)
	return nil
}

// wrote counts a write and purges every purgeEvery writes, so memory stays bounded without a sweeper.
func (s *Store) wrote(t *tx) {
	s.writes++
	if s.writes%purgeEvery == 0 {
		s.purgeLocked(t)
	}
}

// PurgeAfter is how long expired authorization codes, PKCE sessions and access tokens are kept.
const PurgeAfter = time.Hour

// Purge deletes rows that can no longer matter and returns how many went, with the semantics of the
// PostgreSQL store's Purge: codes, PKCE sessions and access tokens expired more than PurgeAfter ago; refresh
// tokens whose expiry passed (reuse detection needs rotated ones until then; RFC 6819 §5.2.2.3); client
// assertion jtis past their expiry (RFC 7523 §3); expired browser sessions. The store also purges by itself
// every purgeEvery writes.
func (s *Store) Purge(ctx context.Context) (int64, error) {
	t, unlock := s.lock(ctx)
	defer unlock()
	return s.purgeLocked(t), nil
}

func (s *Store) purgeLocked(t *tx) int64 {
	now := s.now()
	var n int64
	drop := func(m map[string]tokenRow, before time.Time) {
		for k, row := range m {
			if !row.expiresAt.IsZero() && row.expiresAt.Before(before) {
				del(t, m, k)
				n++
			}
		}
	}
	drop(s.codes, now.Add(-PurgeAfter))
	drop(s.pkce, now.Add(-PurgeAfter))
	drop(s.access, now.Add(-PurgeAfter))
	drop(s.refresh, now)
	for k, exp := range s.jtis {
		if !exp.After(now) {
			del(t, s.jtis, k)
			n++
		}
	}
	for k, bs := range s.sessions {
		if !bs.ExpiresAt.After(now) {
			del(t, s.sessions, k)
			n++
		}
	}
	return n
}

// --- authorization codes ---

func (s *Store) CreateAuthorizeCodeSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.createRow(ctx, s.codes, code, "", r, fosite.AuthorizeCode)
}

func (s *Store) GetAuthorizeCodeSession(ctx context.Context, code string, session fosite.Session) (fosite.Requester, error) {
	row, ok := s.getRow(ctx, s.codes, code)
	if !ok {
		return nil, fosite.ErrNotFound
	}
	req, err := store.DecodeRequest(ctx, row.data, session, s)
	if err != nil {
		return nil, err
	}
	if !row.active {
		// RFC 6749 §4.1.2: the original request comes back so its tokens can be revoked.
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

func (s *Store) InvalidateAuthorizeCodeSession(ctx context.Context, code string) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	row, ok := s.codes[code]
	if !ok {
		return fosite.ErrNotFound
	}
	if !row.active {
		return store.ErrCodeAlreadyUsed
	}
	row.active = false
	put(t, s.codes, code, row)
	return nil
}

// --- access tokens ---

func (s *Store) CreateAccessTokenSession(ctx context.Context, sig string, r fosite.Requester) error {
	return s.createRow(ctx, s.access, sig, "", r, fosite.AccessToken)
}

func (s *Store) GetAccessTokenSession(ctx context.Context, sig string, session fosite.Session) (fosite.Requester, error) {
	row, ok := s.getRow(ctx, s.access, sig)
	if !ok {
		return nil, fosite.ErrNotFound
	}
	return store.DecodeRequest(ctx, row.data, session, s)
}

func (s *Store) DeleteAccessTokenSession(ctx context.Context, sig string) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	if _, ok := s.access[sig]; !ok {
		return fosite.ErrNotFound
	}
	del(t, s.access, sig)
	return nil
}

// RevokeAccessToken deletes every access token of the grant family requestID.
func (s *Store) RevokeAccessToken(ctx context.Context, requestID string) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	for k, row := range s.access {
		if row.requestID == requestID {
			del(t, s.access, k)
		}
	}
	return nil
}

// --- refresh tokens ---

func (s *Store) CreateRefreshTokenSession(ctx context.Context, sig, accessSig string, r fosite.Requester) error {
	return s.createRow(ctx, s.refresh, sig, accessSig, r, fosite.RefreshToken)
}

// inGrace reports whether a rotated (not revoked) refresh token may still be presented.
func (s *Store) inGrace(row tokenRow) bool {
	return s.opts.RefreshGracePeriod > 0 && row.revokedAt.IsZero() && !row.rotatedAt.IsZero() &&
		s.now().Sub(row.rotatedAt) <= s.opts.RefreshGracePeriod
}

func (s *Store) GetRefreshTokenSession(ctx context.Context, sig string, session fosite.Session) (fosite.Requester, error) {
	row, ok := s.getRow(ctx, s.refresh, sig)
	if !ok {
		return nil, fosite.ErrNotFound
	}
	req, err := store.DecodeRequest(ctx, row.data, session, s)
	if err != nil {
		return nil, err
	}
	if row.active || s.inGrace(row) {
		return req, nil
	}
	// OAuth 2.1 §4.3.1: reuse of a rotated token; fosite revokes the family on this error.
	return req, fosite.ErrInactiveToken
}

// DeleteRefreshTokenSession marks the token revoked; the row stays so later reuse is still recognised.
func (s *Store) DeleteRefreshTokenSession(ctx context.Context, sig string) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	row, ok := s.refresh[sig]
	if !ok {
		return fosite.ErrNotFound
	}
	row.active = false
	row.revokedAt = s.now()
	put(t, s.refresh, sig, row)
	return nil
}

// RotateRefreshToken marks sig used and drops the access token issued with it. A second rotation of the same
// token succeeds only inside the grace period; otherwise it fails, so of two concurrent refreshes outside the
// grace period exactly one rotates.
func (s *Store) RotateRefreshToken(ctx context.Context, requestID, sig string) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	row, ok := s.refresh[sig]
	if !ok || row.requestID != requestID {
		return fosite.ErrNotFound
	}
	if !row.active {
		if s.inGrace(row) {
			return nil
		}
		return fosite.ErrInactiveToken
	}
	row.active = false
	row.rotatedAt = s.now()
	put(t, s.refresh, sig, row)
	if row.accessSig != "" {
		del(t, s.access, row.accessSig)
	}
	return nil
}

// RevokeRefreshToken revokes every refresh token of the grant family requestID.
func (s *Store) RevokeRefreshToken(ctx context.Context, requestID string) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	now := s.now()
	for k, row := range s.refresh {
		if row.requestID == requestID && row.revokedAt.IsZero() {
			row.active = false
			row.revokedAt = now
			put(t, s.refresh, k, row)
		}
	}
	return nil
}

// --- PKCE ---

func (s *Store) CreatePKCERequestSession(ctx context.Context, sig string, r fosite.Requester) error {
	return s.createRow(ctx, s.pkce, sig, "", r, fosite.AuthorizeCode)
}

func (s *Store) GetPKCERequestSession(ctx context.Context, sig string, session fosite.Session) (fosite.Requester, error) {
	row, ok := s.getRow(ctx, s.pkce, sig)
	if !ok {
		return nil, fosite.ErrNotFound
	}
	return store.DecodeRequest(ctx, row.data, session, s)
}

func (s *Store) DeletePKCERequestSession(ctx context.Context, sig string) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	del(t, s.pkce, sig)
	return nil
}
