package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ddls/mcpauth/as/store"
)

// --- signing keys ---

// CreateSigningKey stores a key; a duplicate kid is ErrConflict.
func (s *Store) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO signing_keys (kid, alg, public_jwk, private_sealed, created_at, active_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, k.KID, k.Alg, k.PublicJWK, k.PrivateSealed, k.CreatedAt, k.ActiveAt)
	return translate("create signing key", err)
}

// ListSigningKeys returns every key, oldest first (ties by kid).
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT kid, alg, public_jwk, private_sealed, created_at, active_at
		FROM signing_keys ORDER BY created_at, kid COLLATE "C"`)
	if err != nil {
		return nil, translate("list signing keys", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (k store.SigningKey, err error) {
		err = row.Scan(&k.KID, &k.Alg, &k.PublicJWK, &k.PrivateSealed, &k.CreatedAt, &k.ActiveAt)
		k.CreatedAt, k.ActiveAt = k.CreatedAt.UTC(), k.ActiveAt.UTC()
		return k, err
	})
	return out, translate("list signing keys", err)
}

// --- browser sessions ---

// CreateBrowserSession stores a session: a duplicate hash is ErrConflict, an unknown user fosite.ErrNotFound.
func (s *Store) CreateBrowserSession(ctx context.Context, bs store.BrowserSession) error {
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO browser_sessions (id_hash, user_id, auth_time, expires_at)
		VALUES ($1, $2, $3, $4)`, bs.IDHash, bs.UserID, bs.AuthTime, bs.ExpiresAt)
	return translate("create browser session", err)
}

// GetBrowserSession returns a live session; an expired one is fosite.ErrNotFound (Purge deletes it).
func (s *Store) GetBrowserSession(ctx context.Context, idHash string) (store.BrowserSession, error) {
	var (
		bs                 store.BrowserSession
		authTime, expireAt time.Time
	)
	err := s.db(ctx).QueryRow(ctx, `SELECT id_hash, user_id, auth_time, expires_at FROM browser_sessions
		WHERE id_hash = $1 AND expires_at > $2`, idHash, s.now()).Scan(&bs.IDHash, &bs.UserID, &authTime, &expireAt)
	if err != nil {
		return store.BrowserSession{}, translate("get browser session", err)
	}
	bs.AuthTime, bs.ExpiresAt = authTime.UTC(), expireAt.UTC()
	return bs, nil
}

// DeleteBrowserSession deletes a session; deleting a missing one is not an error (logout is idempotent).
func (s *Store) DeleteBrowserSession(ctx context.Context, idHash string) error {
	_, err := s.db(ctx).Exec(ctx, `DELETE FROM browser_sessions WHERE id_hash = $1`, idHash)
	return translate("delete browser session", err)
}

// --- consents ---

// UpsertConsent records a consent; an unknown user or client is fosite.ErrNotFound.
func (s *Store) UpsertConsent(ctx context.Context, c store.Consent) error {
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO consents (user_id, client_id, resource, scopes, org_id, connections, granted_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (user_id, client_id, resource) DO UPDATE SET scopes = EXCLUDED.scopes,
			org_id = EXCLUDED.org_id, connections = EXCLUDED.connections, granted_at = EXCLUDED.granted_at`,
		c.UserID, c.ClientID, c.Resource, arr(c.Scopes), c.OrgID, arr(c.Connections), c.GrantedAt)
	return translate("upsert consent", err)
}

func (s *Store) GetConsent(ctx context.Context, userID, clientID, resource string) (store.Consent, error) {
	var c store.Consent
	err := s.db(ctx).QueryRow(ctx, `SELECT user_id, client_id, resource, scopes, org_id, connections, granted_at
		FROM consents WHERE user_id = $1 AND client_id = $2 AND resource = $3`, userID, clientID, resource).
		Scan(&c.UserID, &c.ClientID, &c.Resource, &c.Scopes, &c.OrgID, &c.Connections, &c.GrantedAt)
	if err != nil {
		return store.Consent{}, translate("get consent", err)
	}
	c.GrantedAt = c.GrantedAt.UTC()
	return c, nil
}

func (s *Store) DeleteConsent(ctx context.Context, userID, clientID, resource string) error {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM consents WHERE user_id = $1 AND client_id = $2 AND resource = $3`,
		userID, clientID, resource)
	if err != nil {
		return translate("delete consent", err)
	}
	if tag.RowsAffected() == 0 {
		return translate("delete consent", pgx.ErrNoRows)
	}
	return nil
}
