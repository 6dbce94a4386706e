package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

func runOrgs(t *testing.T, h harness) {
	h.run(t, []testCase{
		{name: "rfc8707_resource_upsert_get_list", run: func(t *testing.T, e *env) {
			r := store.Resource{URI: resourceURI, Name: "Demo", RequireDPoP: true, AccessTokenTTL: 5 * time.Minute,
				Scopes: []store.Scope{{Name: "mcp:tools", Default: true}, {Name: "mcp:admin"}}}
			must(t, e.s.UpsertResource(e.ctx, store.Resource{URI: resourceURI, Name: "old"}))
			must(t, e.s.UpsertResource(e.ctx, r))
			must(t, e.s.UpsertResource(e.ctx, store.Resource{URI: "https://a.example.com/mcp"}))
			got, err := e.s.GetResource(e.ctx, resourceURI)
			must(t, err)
			if got.Name != r.Name || !got.RequireDPoP || got.AccessTokenTTL != r.AccessTokenTTL || !slices.Equal(got.Scopes, r.Scopes) {
				t.Fatalf("resource = %+v, want %+v", got, r)
			}
			list, err := e.s.ListResources(e.ctx)
			must(t, err)
			if len(list) != 2 || list[0].URI != "https://a.example.com/mcp" || list[1].URI != resourceURI {
				t.Fatalf("resources = %+v, want sorted by URI", list)
			}
		}},
		{name: "rfc8707_resource_unknown_is_not_found", run: func(t *testing.T, e *env) {
			_, err := e.s.GetResource(e.ctx, "https://unknown.example.com")
			is(t, err, fosite.ErrNotFound, "get unknown resource")
		}},
		{name: "organization_upsert_get_list", run: func(t *testing.T, e *env) {
			must(t, e.s.UpsertOrganization(e.ctx, store.Organization{ID: "org_acme", Name: "Acme Inc"}))
			must(t, e.s.UpsertOrganization(e.ctx, store.Organization{ID: "Org_B", Name: "B"}))
			got, err := e.s.GetOrganization(e.ctx, "org_acme")
			must(t, err)
			if got.Name != "Acme Inc" {
				t.Fatalf("organization = %+v", got)
			}
			list, err := e.s.ListOrganizations(e.ctx)
			must(t, err)
			if len(list) != 2 || list[0].ID != "Org_B" || list[1].ID != "org_acme" {
				t.Fatalf("organizations = %+v, want byte order", list)
			}
		}},
		{name: "organization_unknown_is_not_found", run: func(t *testing.T, e *env) {
			_, err := e.s.GetOrganization(e.ctx, "org_nope")
			is(t, err, fosite.ErrNotFound, "get")
			is(t, e.s.DeleteOrganization(e.ctx, "org_nope"), fosite.ErrNotFound, "delete")
		}},
		{name: "organization_with_clients_cannot_be_deleted", run: func(t *testing.T, e *env) {
			must(t, e.s.CreateClient(e.ctx, store.Client{ID: "svc", OrgID: e.org.ID}))
			is(t, e.s.DeleteOrganization(e.ctx, e.org.ID), store.ErrConflict, "delete org with a client")
			_, err := e.s.GetOrganization(e.ctx, e.org.ID)
			is(t, err, nil, "organization still there")
		}},
		{name: "organization_delete_removes_connections_and_memberships", run: func(t *testing.T, e *env) {
			must(t, e.s.UpsertConnection(e.ctx, store.Connection{ID: "conn_github", OrgID: e.org.ID}))
			must(t, e.s.DeleteOrganization(e.ctx, e.org.ID))
			_, err := e.s.GetConnection(e.ctx, "conn_github")
			is(t, err, fosite.ErrNotFound, "connection of deleted org")
			u, err := e.s.GetUser(e.ctx, e.user.ID)
			must(t, err)
			if len(u.Organizations) != 0 {
				t.Fatalf("memberships = %+v after the organization was deleted", u.Organizations)
			}
		}},
		{name: "connection_upsert_get_list_delete", run: func(t *testing.T, e *env) {
			must(t, e.s.UpsertOrganization(e.ctx, store.Organization{ID: "org_b"}))
			c := store.Connection{ID: "conn_github", OrgID: e.org.ID, Name: "GitHub", Kind: "github",
				Resources: []string{resourceURI}, Contract: []string{"issues.read", "issues.write"}}
			must(t, e.s.UpsertConnection(e.ctx, store.Connection{ID: c.ID, OrgID: c.OrgID, Name: "old"}))
			must(t, e.s.UpsertConnection(e.ctx, c))
			must(t, e.s.UpsertConnection(e.ctx, store.Connection{ID: "conn_a", OrgID: "org_b"}))
			got, err := e.s.GetConnection(e.ctx, c.ID)
			must(t, err)
			if got.Name != c.Name || got.Kind != c.Kind || got.OrgID != c.OrgID || !slices.Equal(got.Resources, c.Resources) ||
				!slices.Equal(got.Contract, c.Contract) {
				t.Fatalf("connection = %+v, want %+v", got, c)
			}
			all, err := e.s.ListConnections(e.ctx, "")
			must(t, err)
			mine, err := e.s.ListConnections(e.ctx, e.org.ID)
			must(t, err)
			if len(all) != 2 || all[0].ID != "conn_a" || len(mine) != 1 || mine[0].ID != c.ID {
				t.Fatalf("all = %+v, acme = %+v", all, mine)
			}
			must(t, e.s.DeleteConnection(e.ctx, c.ID))
			_, err = e.s.GetConnection(e.ctx, c.ID)
			is(t, err, fosite.ErrNotFound, "deleted connection")
		}},
		{name: "connection_for_missing_org_is_not_found", run: func(t *testing.T, e *env) {
			is(t, e.s.UpsertConnection(e.ctx, store.Connection{ID: "conn_x", OrgID: "org_nope"}), fosite.ErrNotFound, "upsert")
			_, err := e.s.GetConnection(e.ctx, "conn_x")
			is(t, err, fosite.ErrNotFound, "nothing stored")
		}},
		{name: "connection_cannot_move_between_organizations", run: func(t *testing.T, e *env) {
			must(t, e.s.UpsertOrganization(e.ctx, store.Organization{ID: "org_b"}))
			must(t, e.s.UpsertConnection(e.ctx, store.Connection{ID: "conn_x", OrgID: e.org.ID, Name: "x"}))
			is(t, e.s.UpsertConnection(e.ctx, store.Connection{ID: "conn_x", OrgID: "org_b"}), store.ErrConflict, "move")
			is(t, e.s.UpsertConnection(e.ctx, store.Connection{ID: "conn_x", OrgID: "org_nope"}), fosite.ErrNotFound, "move to missing org")
			got, err := e.s.GetConnection(e.ctx, "conn_x")
			must(t, err)
			if got.OrgID != e.org.ID || got.Name != "x" {
				t.Fatalf("connection changed: %+v", got)
			}
		}},
		{name: "connection_unknown_is_not_found", run: func(t *testing.T, e *env) {
			_, err := e.s.GetConnection(e.ctx, "conn_nope")
			is(t, err, fosite.ErrNotFound, "get")
			is(t, e.s.DeleteConnection(e.ctx, "conn_nope"), fosite.ErrNotFound, "delete")
			list, err := e.s.ListConnections(e.ctx, "org_nope")
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("connections of unknown org = %+v", list)
			}
		}},
	})
}

func memberships(pairs ...string) []store.Membership {
	var out []store.Membership
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, store.Membership{OrgID: pairs[i], Role: pairs[i+1]})
	}
	return out
}

func checkUser(t *testing.T, got, want store.User) {
	t.Helper()
	if got.ID != want.ID || got.Username != want.Username || got.PasswordHash != want.PasswordHash ||
		!got.CreatedAt.Equal(want.CreatedAt) || !slices.Equal(got.Organizations, want.Organizations) {
		t.Fatalf("user = %+v, want %+v", got, want)
	}
}

func runUsers(t *testing.T, h harness) {
	h.run(t, []testCase{
		{name: "user_create_get_keeps_membership_order", run: func(t *testing.T, e *env) {
			for _, id := range []string{"org_z", "org_b"} {
				must(t, e.s.UpsertOrganization(e.ctx, store.Organization{ID: id}))
			}
			u := store.User{ID: "usr_bob", Username: "bob", PasswordHash: "h", CreatedAt: epoch().Add(time.Second),
				Organizations: memberships("org_z", "member", "org_acme", "admin", "org_b", "viewer")}
			must(t, e.s.CreateUser(e.ctx, u))
			got, err := e.s.GetUser(e.ctx, u.ID)
			must(t, err)
			checkUser(t, got, u)
			got, err = e.s.GetUserByUsername(e.ctx, "bob")
			must(t, err)
			checkUser(t, got, u)
		}},
		{name: "user_username_taken_conflicts", run: func(t *testing.T, e *env) {
			is(t, e.s.CreateUser(e.ctx, store.User{ID: "usr_other", Username: e.user.Username}), store.ErrConflict, "same username")
			got, err := e.s.GetUserByUsername(e.ctx, e.user.Username)
			must(t, err)
			checkUser(t, got, e.user)
		}},
		{name: "user_id_taken_conflicts", run: func(t *testing.T, e *env) {
			is(t, e.s.CreateUser(e.ctx, store.User{ID: e.user.ID, Username: "mallory"}), store.ErrConflict, "create")
			_, err := e.s.UpsertUser(e.ctx, store.User{ID: e.user.ID, Username: "mallory"})
			is(t, err, store.ErrConflict, "upsert new username with taken id")
			_, err = e.s.GetUserByUsername(e.ctx, "mallory")
			is(t, err, fosite.ErrNotFound, "nothing stored")
		}},
		{name: "user_membership_in_missing_org_is_not_found", run: func(t *testing.T, e *env) {
			bad := store.User{ID: "usr_bob", Username: "bob", Organizations: memberships("org_nope", "member")}
			is(t, e.s.CreateUser(e.ctx, bad), fosite.ErrNotFound, "create")
			_, err := e.s.UpsertUser(e.ctx, bad)
			is(t, err, fosite.ErrNotFound, "upsert new")
			_, err = e.s.GetUserByUsername(e.ctx, "bob")
			is(t, err, fosite.ErrNotFound, "no half-created user")
			changed := e.user
			changed.PasswordHash = "new"
			changed.Organizations = memberships("org_nope", "member")
			_, err = e.s.UpsertUser(e.ctx, changed)
			is(t, err, fosite.ErrNotFound, "upsert existing")
			got, err := e.s.GetUser(e.ctx, e.user.ID)
			must(t, err)
			checkUser(t, got, e.user) // unchanged: no half-applied upsert
		}},
		{name: "user_duplicate_membership_conflicts", run: func(t *testing.T, e *env) {
			dup := store.User{ID: "usr_bob", Username: "bob", Organizations: memberships("org_acme", "member", "org_acme", "admin")}
			is(t, e.s.CreateUser(e.ctx, dup), store.ErrConflict, "create")
			_, err := e.s.UpsertUser(e.ctx, dup)
			is(t, err, store.ErrConflict, "upsert")
		}},
		{name: "user_upsert_keeps_id_and_replaces_memberships_in_order", run: func(t *testing.T, e *env) {
			for _, id := range []string{"org_z", "org_b"} {
				must(t, e.s.UpsertOrganization(e.ctx, store.Organization{ID: id}))
			}
			e.clock.Advance(time.Hour)
			in := store.User{ID: "usr_ignored", Username: e.user.Username, PasswordHash: "new-hash",
				Organizations: memberships("org_z", "member", "org_b", "admin")}
			got, err := e.s.UpsertUser(e.ctx, in)
			must(t, err)
			want := store.User{ID: e.user.ID, Username: e.user.Username, PasswordHash: "new-hash", CreatedAt: e.user.CreatedAt,
				Organizations: in.Organizations}
			checkUser(t, got, want)
			stored, err := e.s.GetUser(e.ctx, e.user.ID)
			must(t, err)
			checkUser(t, stored, want)
			_, err = e.s.GetUser(e.ctx, "usr_ignored")
			is(t, err, fosite.ErrNotFound, "no second user")

			in.Organizations = memberships("org_acme", "viewer", "org_z", "admin") // reorder, drop, add
			got, err = e.s.UpsertUser(e.ctx, in)
			must(t, err)
			want.Organizations = in.Organizations
			checkUser(t, got, want)
			stored, err = e.s.GetUser(e.ctx, e.user.ID)
			must(t, err)
			checkUser(t, stored, want)
		}},
		{name: "user_upsert_creates_new_user", run: func(t *testing.T, e *env) {
			got, err := e.s.UpsertUser(e.ctx, store.User{ID: "usr_bob", Username: "bob", PasswordHash: "h"})
			must(t, err)
			want := store.User{ID: "usr_bob", Username: "bob", PasswordHash: "h", CreatedAt: epoch()}
			checkUser(t, got, want)
			stored, err := e.s.GetUserByUsername(e.ctx, "bob")
			must(t, err)
			checkUser(t, stored, want)
		}},
		{name: "user_unknown_is_not_found", run: func(t *testing.T, e *env) {
			_, err := e.s.GetUser(e.ctx, "usr_nope")
			is(t, err, fosite.ErrNotFound, "by id")
			_, err = e.s.GetUserByUsername(e.ctx, "nope")
			is(t, err, fosite.ErrNotFound, "by username")
		}},
		{name: "user_list_sorted_by_username", run: func(t *testing.T, e *env) {
			must(t, e.s.CreateUser(e.ctx, store.User{ID: "usr_b", Username: "Bob"}))
			must(t, e.s.CreateUser(e.ctx, store.User{ID: "usr_c", Username: "carol", Organizations: memberships("org_acme", "member")}))
			list, err := e.s.ListUsers(e.ctx)
			must(t, err)
			var names []string
			for _, u := range list {
				names = append(names, u.Username)
			}
			if !slices.Equal(names, []string{"Bob", "alice", "carol"}) || len(list[2].Organizations) != 1 {
				t.Fatalf("users = %+v, want byte order with memberships", list)
			}
		}},
	})
}
