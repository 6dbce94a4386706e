package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

// clientCols is selected by GetClient and joined into every token lookup, so a token and its client come
// back in one round trip. Keep it in step with clientDest.
const clientCols = `c.id, c.name, c.secret_hash, c.public, c.token_endpoint_auth_method,
	c.token_endpoint_auth_signing_alg, c.redirect_uris, c.grant_types, c.response_types, c.scopes, c.resources,
	coalesce(c.org_id, ''), c.connections, c.jwks, c.jwks_uri, c.dpop_bound_access_tokens, c.created_at`

// clientScan receives clientCols.
type clientScan struct {
	c         store.Client
	jwks      []byte
	createdAt time.Time
}

func (cs *clientScan) dest() []any {
	c := &cs.c
	return []any{&c.ID, &c.Name, &c.SecretHash, &c.Public, &c.TokenEndpointAuthMethod,
		&c.TokenEndpointAuthSigningAlg, &c.RedirectURIs, &c.GrantTypes, &c.ResponseTypes, &c.Scopes, &c.Resources,
		&c.OrgID, &c.Connections, &cs.jwks, &c.JWKSURI, &c.DPoPBoundAccessTokens, &cs.createdAt}
}

func (cs *clientScan) client() store.Client {
	c := cs.c
	if len(cs.jwks) > 0 {
		c.JWKS = cs.jwks
	}
	c.CreatedAt = cs.createdAt.UTC()
	return c
}

func scanClient(row pgx.Row) (store.Client, error) {
	var cs clientScan
	if err := row.Scan(cs.dest()...); err != nil {
		return store.Client{}, err
	}
	return cs.client(), nil
}

func clientArgs(c store.Client) []any {
	var jwks []byte // nil: NULL
	if len(c.JWKS) > 0 {
		jwks = c.JWKS
	}
	var org any
	if c.OrgID != "" {
		org = c.OrgID
	}
	return []any{c.ID, c.Name, c.SecretHash, c.Public, c.TokenEndpointAuthMethod, c.TokenEndpointAuthSigningAlg,
		arr(c.RedirectURIs), arr(c.GrantTypes), arr(c.ResponseTypes), arr(c.Scopes), arr(c.Resources), org,
		arr(c.Connections), jwks, c.JWKSURI, c.DPoPBoundAccessTokens, c.CreatedAt}
}

const clientInsert = `INSERT INTO clients (id, name, secret_hash, public, token_endpoint_auth_method,
		token_endpoint_auth_signing_alg, redirect_uris, grant_types, response_types, scopes, resources, org_id,
		connections, jwks, jwks_uri, dpop_bound_access_tokens, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`

// CreateClient inserts a client: a taken id is ErrConflict, an unknown organization fosite.ErrNotFound.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.now().UTC()
	}
	_, err := s.db(ctx).Exec(ctx, clientInsert, clientArgs(c)...)
	return translate("create client", err)
}

// UpsertClient creates or replaces a client; an existing client keeps its CreatedAt.
func (s *Store) UpsertClient(ctx context.Context, c store.Client) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.now().UTC()
	}
	_, err := s.db(ctx).Exec(ctx, clientInsert+`
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, secret_hash = EXCLUDED.secret_hash,
			public = EXCLUDED.public, token_endpoint_auth_method = EXCLUDED.token_endpoint_auth_method,
			token_endpoint_auth_signing_alg = EXCLUDED.token_endpoint_auth_signing_alg,
			redirect_uris = EXCLUDED.redirect_uris, grant_types = EXCLUDED.grant_types,
			response_types = EXCLUDED.response_types, scopes = EXCLUDED.scopes, resources = EXCLUDED.resources,
			org_id = EXCLUDED.org_id, connections = EXCLUDED.connections, jwks = EXCLUDED.jwks,
			jwks_uri = EXCLUDED.jwks_uri, dpop_bound_access_tokens = EXCLUDED.dpop_bound_access_tokens`,
		clientArgs(c)...)
	return translate("upsert client", err)
}

func (s *Store) GetClientRecord(ctx context.Context, id string) (store.Client, error) {
	if !storable(id) {
		return store.Client{}, fosite.ErrNotFound
	}
	c, err := scanClient(s.db(ctx).QueryRow(ctx, `SELECT `+clientCols+` FROM clients c WHERE c.id = $1`, id))
	return c, translate("get client", err)
}

// GetClient implements fosite.ClientManager: one statement, on the token endpoint's hot path.
func (s *Store) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := s.GetClientRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	return store.NewFositeClient(c), nil
}

func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+clientCols+` FROM clients c ORDER BY c.id COLLATE "C"`)
	if err != nil {
		return nil, translate("list clients", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Client, error) { return scanClient(row) })
	return out, translate("list clients", err)
}

// DeleteClient deletes the client and its consents. Its tokens stay until purged but are not found any more:
// token lookups join the client.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
	if err != nil {
		return translate("delete client", err)
	}
	if tag.RowsAffected() == 0 {
		return fosite.ErrNotFound
	}
	return nil
}

// ClientAssertionJWTValid implements fosite.ClientManager: RFC 7523 §3 item 7, a jti is accepted once until
// its assertion expires.
func (s *Store) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	if !storable(jti) {
		return nil // never recorded; SetClientAssertionJWT will refuse it
	}
	var known bool
	err := s.db(ctx).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM client_assertion_jtis WHERE jti = $1 AND expires_at > $2)`,
		jti, s.now()).Scan(&known)
	if err != nil {
		return translate("check jti", err)
	}
	if known {
		return fosite.ErrJTIKnown
	}
	return nil
}

// SetClientAssertionJWT implements fosite.ClientManager. The conditional upsert makes check-and-record one
// atomic step: of two concurrent uses of one jti exactly one succeeds (RFC 7523 §3); an expired entry is
// reused in place.
func (s *Store) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	tag, err := s.db(ctx).Exec(ctx, `INSERT INTO client_assertion_jtis (jti, expires_at) VALUES ($1, $2)
		ON CONFLICT (jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
		WHERE client_assertion_jtis.expires_at <= $3`, jti, exp, s.now())
	if err != nil {
		return translate("record jti", err)
	}
	if tag.RowsAffected() == 0 {
		return fosite.ErrJTIKnown
	}
	return nil
}
