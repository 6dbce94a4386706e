package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

// Lists sort with COLLATE "C" (byte order), the order the memory store uses, whatever the database locale.

// --- resources ---

func (s *Store) UpsertResource(ctx context.Context, r store.Resource) error {
	scopes := r.Scopes
	if scopes == nil {
		scopes = []store.Scope{}
	}
	b, err := json.Marshal(scopes)
	if err != nil {
		return fmt.Errorf("postgres: encode scopes: %w", err)
	}
	_, err = s.db(ctx).Exec(ctx, `INSERT INTO resources (uri, name, scopes, require_dpop, access_token_ttl)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (uri) DO UPDATE SET name = EXCLUDED.name, scopes = EXCLUDED.scopes,
			require_dpop = EXCLUDED.require_dpop, access_token_ttl = EXCLUDED.access_token_ttl`,
		r.URI, r.Name, b, r.RequireDPoP, int64(r.AccessTokenTTL))
	return translate("upsert resource", err)
}

const resourceCols = `uri, name, scopes, require_dpop, access_token_ttl`

func scanResource(row pgx.Row) (store.Resource, error) {
	var (
		r   store.Resource
		ttl int64
	)
	if err := row.Scan(&r.URI, &r.Name, &r.Scopes, &r.RequireDPoP, &ttl); err != nil {
		return store.Resource{}, err
	}
	r.AccessTokenTTL = time.Duration(ttl)
	return r, nil
}

func (s *Store) GetResource(ctx context.Context, uri string) (store.Resource, error) {
	if !storable(uri) {
		return store.Resource{}, fosite.ErrNotFound
	}
	r, err := scanResource(s.db(ctx).QueryRow(ctx, `SELECT `+resourceCols+` FROM resources WHERE uri = $1`, uri))
	return r, translate("get resource", err)
}

func (s *Store) ListResources(ctx context.Context) ([]store.Resource, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+resourceCols+` FROM resources ORDER BY uri COLLATE "C"`)
	if err != nil {
		return nil, translate("list resources", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Resource, error) { return scanResource(row) })
	return out, translate("list resources", err)
}

// --- organizations ---

func (s *Store) UpsertOrganization(ctx context.Context, o store.Organization) error {
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO organizations (id, name) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name`, o.ID, o.Name)
	return translate("upsert organization", err)
}

func (s *Store) GetOrganization(ctx context.Context, id string) (store.Organization, error) {
	var o store.Organization
	err := s.db(ctx).QueryRow(ctx, `SELECT id, name FROM organizations WHERE id = $1`, id).Scan(&o.ID, &o.Name)
	return o, translate("get organization", err)
}

func (s *Store) ListOrganizations(ctx context.Context) ([]store.Organization, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT id, name FROM organizations ORDER BY id COLLATE "C"`)
	if err != nil {
		return nil, translate("list organizations", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (o store.Organization, err error) {
		err = row.Scan(&o.ID, &o.Name)
		return o, err
	})
	return out, translate("list organizations", err)
}

// DeleteOrganization deletes the organization with its connections and memberships; it refuses (ErrConflict)
// while clients still belong to it (clients.org_id is ON DELETE RESTRICT).
func (s *Store) DeleteOrganization(ctx context.Context, id string) error {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM organizations WHERE id = $1`, id)
	if pgCode(err) == codeForeignKeyViolation {
		return store.ErrConflict
	}
	if err != nil {
		return translate("delete organization", err)
	}
	if tag.RowsAffected() == 0 {
		return fosite.ErrNotFound
	}
	return nil
}

// --- connections ---

// UpsertConnection creates or updates a connection. Connection ids are global: one cannot move to another
// organization (ErrConflict); an unknown organization is fosite.ErrNotFound.
func (s *Store) UpsertConnection(ctx context.Context, c store.Connection) error {
	db := s.db(ctx)
	tag, err := db.Exec(ctx, `INSERT INTO connections (id, org_id, name, kind, resources, contract)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
			resources = EXCLUDED.resources, contract = EXCLUDED.contract
		WHERE connections.org_id = EXCLUDED.org_id`,
		c.ID, c.OrgID, c.Name, c.Kind, arr(c.Resources), arr(c.Contract))
	if err != nil {
		return translate("upsert connection", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// The id exists in another organization. Report a missing organization first, as the memory store does.
	var orgExists bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1)`, c.OrgID).Scan(&orgExists); err != nil {
		return translate("upsert connection", err)
	}
	if !orgExists {
		return fosite.ErrNotFound
	}
	return store.ErrConflict
}

const connectionCols = `id, org_id, name, kind, resources, contract`

func scanConnection(row pgx.Row) (c store.Connection, err error) {
	err = row.Scan(&c.ID, &c.OrgID, &c.Name, &c.Kind, &c.Resources, &c.Contract)
	return c, err
}

func (s *Store) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	c, err := scanConnection(s.db(ctx).QueryRow(ctx, `SELECT `+connectionCols+` FROM connections WHERE id = $1`, id))
	return c, translate("get connection", err)
}

// ListConnections lists the connections of orgID, or all of them when orgID is empty.
func (s *Store) ListConnections(ctx context.Context, orgID string) ([]store.Connection, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+connectionCols+` FROM connections
		WHERE $1 = '' OR org_id = $1 ORDER BY id COLLATE "C"`, orgID)
	if err != nil {
		return nil, translate("list connections", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Connection, error) { return scanConnection(row) })
	return out, translate("list connections", err)
}

func (s *Store) DeleteConnection(ctx context.Context, id string) error {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM connections WHERE id = $1`, id)
	if err != nil {
		return translate("delete connection", err)
	}
	if tag.RowsAffected() == 0 {
		return fosite.ErrNotFound
	}
	return nil
}
