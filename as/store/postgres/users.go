package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

// A user and its memberships are read in one query (memberships aggregated in position order) and written
// in one statement (data-modifying CTEs), so a user is never seen with half of its memberships.

const userSelect = `SELECT u.id, u.username, u.password_hash, u.created_at,
		coalesce(array_agg(m.org_id ORDER BY m.position, m.org_id) FILTER (WHERE m.org_id IS NOT NULL), '{}'),
		coalesce(array_agg(m.role ORDER BY m.position, m.org_id) FILTER (WHERE m.org_id IS NOT NULL), '{}')
	FROM users u LEFT JOIN memberships m ON m.user_id = u.id`

func scanUser(row pgx.Row) (store.User, error) {
	var (
		u           store.User
		orgs, roles []string
		createdAt   time.Time
	)
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &createdAt, &orgs, &roles); err != nil {
		return store.User{}, err
	}
	u.CreatedAt = createdAt.UTC()
	if len(orgs) > 0 {
		u.Organizations = make([]store.Membership, len(orgs))
		for i := range orgs {
			u.Organizations[i] = store.Membership{OrgID: orgs[i], Role: roles[i]}
		}
	}
	return u, nil
}

// memberships splits u's memberships into parallel arrays; an organization listed twice is ErrConflict.
func memberships(u store.User) (orgs, roles []string, err error) {
	orgs = make([]string, len(u.Organizations))
	roles = make([]string, len(u.Organizations))
	seen := make(map[string]struct{}, len(u.Organizations))
	for i, m := range u.Organizations {
		if _, dup := seen[m.OrgID]; dup {
			return nil, nil, store.ErrConflict
		}
		seen[m.OrgID] = struct{}{}
		orgs[i], roles[i] = m.OrgID, m.Role
	}
	return orgs, roles, nil
}

// CreateUser inserts a user and its memberships. A taken username or id is ErrConflict; an unknown
// organization is fosite.ErrNotFound.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	orgs, roles, err := memberships(u)
	if err != nil {
		return err
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now().UTC()
	}
	_, err = s.db(ctx).Exec(ctx, `WITH u AS (
			INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id
		)
		INSERT INTO memberships (user_id, org_id, role, position)
		SELECT u.id, m.org_id, m.role, m.ord FROM u, unnest($5::text[], $6::text[]) WITH ORDINALITY AS m(org_id, role, ord)`,
		u.ID, u.Username, u.PasswordHash, u.CreatedAt, orgs, roles)
	return translate("create user", err)
}

// UpsertUser matches on Username: an existing user keeps its ID and CreatedAt, its password hash and
// memberships are replaced. A new user whose ID is taken is ErrConflict.
func (s *Store) UpsertUser(ctx context.Context, u store.User) (store.User, error) {
	orgs, roles, err := memberships(u)
	if err != nil {
		return store.User{}, err
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now().UTC()
	}
	// The DELETE and the INSERT … ON CONFLICT touch disjoint membership rows (organizations dropped vs kept),
	// so running them in one statement is well defined.
	var createdAt time.Time
	err = s.db(ctx).QueryRow(ctx, `WITH u AS (
			INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash
			RETURNING id, created_at
		), dropped AS (
			DELETE FROM memberships d USING u WHERE d.user_id = u.id AND d.org_id <> ALL ($5::text[])
		), kept AS (
			INSERT INTO memberships (user_id, org_id, role, position)
			SELECT u.id, m.org_id, m.role, m.ord
			FROM u, unnest($5::text[], $6::text[]) WITH ORDINALITY AS m(org_id, role, ord)
			ON CONFLICT (user_id, org_id) DO UPDATE SET role = EXCLUDED.role, position = EXCLUDED.position
		)
		SELECT id, created_at FROM u`,
		u.ID, u.Username, u.PasswordHash, u.CreatedAt, orgs, roles).Scan(&u.ID, &createdAt)
	if err != nil {
		return store.User{}, translate("upsert user", err)
	}
	u.CreatedAt = createdAt.UTC()
	if len(u.Organizations) > 0 {
		u.Organizations = append([]store.Membership(nil), u.Organizations...)
	}
	return u, nil
}

func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.db(ctx).QueryRow(ctx, userSelect+` WHERE u.id = $1 GROUP BY u.id`, id))
	return u, translate("get user", err)
}

func (s *Store) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	if !storable(username) {
		return store.User{}, fosite.ErrNotFound
	}
	u, err := scanUser(s.db(ctx).QueryRow(ctx, userSelect+` WHERE u.username = $1 GROUP BY u.id`, username))
	return u, translate("get user", err)
}

func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.db(ctx).Query(ctx, userSelect+` GROUP BY u.id ORDER BY u.username COLLATE "C"`)
	if err != nil {
		return nil, translate("list users", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.User, error) { return scanUser(row) })
	return out, translate("list users", err)
}
