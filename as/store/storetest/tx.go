package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

// Transactions (fosite storage.Transactional): fosite wraps code redemption and refresh rotation in one, and
// bootstrap applies its domain writes in one.
func runTx(t *testing.T, h harness) {
	h.run(t, []testCase{
		{name: "rollback_discards_writes", run: func(t *testing.T, e *env) {
			must(t, e.s.CreateAuthorizeCodeSession(e.ctx, "code-old", e.request("req-old")))
			e.issue(t, "fam-1", "rt-1", "at-1")
			ctx, err := e.s.BeginTX(e.ctx)
			must(t, err)
			must(t, e.s.InvalidateAuthorizeCodeSession(ctx, "code-old"))
			must(t, e.s.RotateRefreshToken(ctx, "fam-1", "rt-1"))
			must(t, e.s.CreateAuthorizeCodeSession(ctx, "code-new", e.request("req-new")))
			must(t, e.s.CreatePKCERequestSession(ctx, "code-new", e.request("req-new")))
			must(t, e.s.CreateAccessTokenSession(ctx, "at-new", e.request("req-new")))
			must(t, e.s.CreateRefreshTokenSession(ctx, "rt-new", "at-new", e.request("req-new")))
			must(t, e.s.SetClientAssertionJWT(ctx, "jti-1", e.clock.Now().Add(time.Minute)))
			// Reads inside the transaction see its writes.
			_, err = e.s.GetAccessTokenSession(ctx, "at-new", &testSession{})
			is(t, err, nil, "read own write")
			must(t, e.s.Rollback(ctx))

			_, err = e.s.GetAuthorizeCodeSession(e.ctx, "code-old", &testSession{})
			is(t, err, nil, "code invalidated in a rolled-back transaction")
			e.refreshState(t, "rt-1", nil)
			e.accessState(t, "at-1", nil)
			_, err = e.s.GetAuthorizeCodeSession(e.ctx, "code-new", &testSession{})
			is(t, err, fosite.ErrNotFound, "code created in a rolled-back transaction")
			_, err = e.s.GetPKCERequestSession(e.ctx, "code-new", &testSession{})
			is(t, err, fosite.ErrNotFound, "pkce created in a rolled-back transaction")
			e.accessState(t, "at-new", fosite.ErrNotFound)
			e.refreshState(t, "rt-new", fosite.ErrNotFound)
			is(t, e.s.ClientAssertionJWTValid(e.ctx, "jti-1"), nil, "jti recorded in a rolled-back transaction")
		}},
		{name: "rollback_discards_domain_writes", run: func(t *testing.T, e *env) {
			ctx, err := e.s.BeginTX(e.ctx)
			must(t, err)
			must(t, e.s.UpsertResource(ctx, store.Resource{URI: resourceURI}))
			must(t, e.s.UpsertOrganization(ctx, store.Organization{ID: "org_new"}))
			must(t, e.s.UpsertConnection(ctx, store.Connection{ID: "conn_new", OrgID: "org_new"}))
			_, err = e.s.UpsertUser(ctx, store.User{ID: "usr_bob", Username: "bob", Organizations: []store.Membership{{OrgID: "org_new"}}})
			must(t, err)
			must(t, e.s.UpsertClient(ctx, store.Client{ID: "svc", OrgID: "org_new"}))
			must(t, e.s.CreateSigningKey(ctx, signingKey("k1", epoch())))
			must(t, e.s.CreateBrowserSession(ctx, store.BrowserSession{IDHash: "h1", UserID: e.user.ID, ExpiresAt: epoch().Add(time.Hour)}))
			must(t, e.s.UpsertConsent(ctx, store.Consent{UserID: e.user.ID, ClientID: e.client.ID, Resource: resourceURI}))
			must(t, e.s.DeleteClient(ctx, e.client.ID))
			must(t, e.s.Rollback(ctx))

			_, err = e.s.GetResource(e.ctx, resourceURI)
			is(t, err, fosite.ErrNotFound, "resource")
			_, err = e.s.GetOrganization(e.ctx, "org_new")
			is(t, err, fosite.ErrNotFound, "organization")
			_, err = e.s.GetConnection(e.ctx, "conn_new")
			is(t, err, fosite.ErrNotFound, "connection")
			_, err = e.s.GetUserByUsername(e.ctx, "bob")
			is(t, err, fosite.ErrNotFound, "user")
			_, err = e.s.GetClientRecord(e.ctx, "svc")
			is(t, err, fosite.ErrNotFound, "client")
			keys, err := e.s.ListSigningKeys(e.ctx)
			must(t, err)
			if len(keys) != 0 {
				t.Fatalf("signing keys after rollback = %d, want 0", len(keys))
			}
			_, err = e.s.GetBrowserSession(e.ctx, "h1")
			is(t, err, fosite.ErrNotFound, "browser session")
			_, err = e.s.GetConsent(e.ctx, e.user.ID, e.client.ID, resourceURI)
			is(t, err, fosite.ErrNotFound, "consent")
			_, err = e.s.GetClient(e.ctx, e.client.ID)
			is(t, err, nil, "client deleted in a rolled-back transaction")
		}},
		{name: "bootstrap_upserts_commit_together", run: func(t *testing.T, e *env) {
			ctx, err := e.s.BeginTX(e.ctx)
			must(t, err)
			must(t, e.s.UpsertOrganization(ctx, store.Organization{ID: "org_new", Name: "New"}))
			must(t, e.s.UpsertConnection(ctx, store.Connection{ID: "conn_new", OrgID: "org_new"}))
			u, err := e.s.UpsertUser(ctx, store.User{ID: "usr_bob", Username: "bob", Organizations: []store.Membership{{OrgID: "org_new", Role: "member"}}})
			must(t, err)
			must(t, e.s.UpsertClient(ctx, store.Client{ID: "svc", OrgID: "org_new", Connections: []string{"conn_new"}}))
			must(t, e.s.Commit(ctx))
			got, err := e.s.GetUser(e.ctx, u.ID)
			must(t, err)
			if len(got.Organizations) != 1 || got.Organizations[0].OrgID != "org_new" {
				t.Fatalf("user = %+v", got)
			}
			_, err = e.s.GetClient(e.ctx, "svc")
			is(t, err, nil, "client")
		}},
		{name: "failed_statement_then_rollback_leaves_store_usable", run: func(t *testing.T, e *env) {
			ctx, err := e.s.BeginTX(e.ctx)
			must(t, err)
			must(t, e.s.CreateAccessTokenSession(ctx, "at-1", e.request("req-1")))
			is(t, e.s.CreateAccessTokenSession(ctx, "at-1", e.request("req-1")), store.ErrConflict, "duplicate in tx")
			must(t, e.s.Rollback(ctx))
			e.accessState(t, "at-1", fosite.ErrNotFound)
			must(t, e.s.CreateAccessTokenSession(e.ctx, "at-1", e.request("req-1")))
		}},
		{name: "nested_begin_joins_the_transaction", run: func(t *testing.T, e *env) {
			outer, err := e.s.BeginTX(e.ctx)
			must(t, err)
			inner, err := e.s.BeginTX(outer)
			must(t, err)
			must(t, e.s.CreateAccessTokenSession(inner, "at-1", e.request("req-1")))
			must(t, e.s.Rollback(outer))
			e.accessState(t, "at-1", fosite.ErrNotFound)
		}},
		{name: "commit_and_rollback_without_transaction_are_noops", run: func(t *testing.T, e *env) {
			is(t, e.s.Commit(e.ctx), nil, "commit without tx")
			is(t, e.s.Rollback(e.ctx), nil, "rollback without tx")
		}},
		{name: "rollback_after_commit_is_harmless", run: func(t *testing.T, e *env) {
			ctx, err := e.s.BeginTX(e.ctx)
			must(t, err)
			must(t, e.s.CreateAccessTokenSession(ctx, "at-1", e.request("req-1")))
			must(t, e.s.Commit(ctx))
			is(t, e.s.Rollback(ctx), nil, "rollback after commit")
			is(t, e.s.Commit(ctx), nil, "commit twice")
			e.accessState(t, "at-1", nil)
			// A context whose transaction ended works like a plain one.
			must(t, e.s.CreateAccessTokenSession(ctx, "at-2", e.request("req-1")))
			e.accessState(t, "at-2", nil)
		}},
		{name: "rollback_with_cancelled_context_still_rolls_back", run: func(t *testing.T, e *env) {
			cctx, cancel := context.WithCancel(e.ctx)
			ctx, err := e.s.BeginTX(cctx)
			must(t, err)
			must(t, e.s.CreateAccessTokenSession(ctx, "at-1", e.request("req-1")))
			cancel()
			_ = e.s.Rollback(ctx)
			e.accessState(t, "at-1", fosite.ErrNotFound)
			must(t, e.s.CreateAccessTokenSession(e.ctx, "at-2", e.request("req-1"))) // store still usable
		}},
		{name: "ping", run: func(t *testing.T, e *env) { is(t, e.s.Ping(e.ctx), nil, "ping") }},
		{name: "purge_removes_only_dead_rows", run: testPurge},
	})
}

// Purger is implemented by stores that can delete rows that no longer matter.
type Purger interface {
	Purge(ctx context.Context) (int64, error)
}

func testPurge(t *testing.T, e *env) {
	p, ok := e.s.(Purger)
	if !ok {
		t.Skip("store has no Purge")
	}
	short := e.request("req-old")
	short.Session.SetExpiresAt(fosite.AuthorizeCode, epoch().Add(time.Minute))
	short.Session.SetExpiresAt(fosite.AccessToken, epoch().Add(time.Minute))
	short.Session.SetExpiresAt(fosite.RefreshToken, epoch().Add(time.Minute))
	must(t, e.s.CreateAuthorizeCodeSession(e.ctx, "code-old", short))
	must(t, e.s.CreatePKCERequestSession(e.ctx, "code-old", short))
	must(t, e.s.CreateAccessTokenSession(e.ctx, "at-old", short))
	must(t, e.s.CreateRefreshTokenSession(e.ctx, "rt-old", "at-old", short))
	forever := e.request("req-forever")
	forever.Session.SetExpiresAt(fosite.RefreshToken, time.Time{}) // a refresh token without expiry
	must(t, e.s.CreateRefreshTokenSession(e.ctx, "rt-forever", "", forever))
	must(t, e.s.SetClientAssertionJWT(e.ctx, "jti-old", epoch().Add(time.Minute)))
	must(t, e.s.CreateBrowserSession(e.ctx, store.BrowserSession{IDHash: "h-old", UserID: e.user.ID, ExpiresAt: epoch().Add(time.Minute)}))

	e.clock.Advance(2 * time.Hour)
	must(t, e.s.CreateAuthorizeCodeSession(e.ctx, "code-new", e.request("req-new")))
	must(t, e.s.CreateBrowserSession(e.ctx, store.BrowserSession{IDHash: "h-new", UserID: e.user.ID, ExpiresAt: e.clock.Now().Add(time.Hour)}))
	n, err := p.Purge(e.ctx)
	must(t, err)
	if n != 6 {
		t.Errorf("purged %d rows, want 6", n)
	}
	_, err = e.s.GetAuthorizeCodeSession(e.ctx, "code-old", &testSession{})
	is(t, err, fosite.ErrNotFound, "old code")
	_, err = e.s.GetPKCERequestSession(e.ctx, "code-old", &testSession{})
	is(t, err, fosite.ErrNotFound, "old pkce")
	e.accessState(t, "at-old", fosite.ErrNotFound)
	e.refreshState(t, "rt-old", fosite.ErrNotFound)
	e.refreshState(t, "rt-forever", nil)
	_, err = e.s.GetAuthorizeCodeSession(e.ctx, "code-new", &testSession{})
	is(t, err, nil, "fresh code")
	_, err = e.s.GetBrowserSession(e.ctx, "h-new")
	is(t, err, nil, "live browser session")
	must(t, e.s.SetClientAssertionJWT(e.ctx, "jti-old", e.clock.Now().Add(time.Minute)))
}
