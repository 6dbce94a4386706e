package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

// confidential is a private_key_jwt machine client with every field set.
func confidential(id string) store.Client {
	return store.Client{
		ID: id, Name: "Reporter", SecretHash: []byte{0x01, 0x02, 0xfe}, TokenEndpointAuthMethod: "private_key_jwt",
		RedirectURIs: []string{"https://svc.example.com/cb"}, GrantTypes: []string{"client_credentials"},
		ResponseTypes: []string{"code"}, Scopes: []string{"mcp:tools"}, Resources: []string{resourceURI},
		OrgID: "org_acme", Connections: []string{"conn_github", "conn_pg"},
		JWKS:                        []byte(`{"keys": [{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","alg":"ES256"}]}`),
		JWKSURI:                     "",
		TokenEndpointAuthSigningAlg: "ES256", DPoPBoundAccessTokens: true, CreatedAt: epoch().Add(time.Minute),
	}
}

func checkClient(t *testing.T, got, want store.Client) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || !bytes.Equal(got.SecretHash, want.SecretHash) ||
		got.Public != want.Public || got.TokenEndpointAuthMethod != want.TokenEndpointAuthMethod ||
		!slices.Equal(got.RedirectURIs, want.RedirectURIs) || !slices.Equal(got.GrantTypes, want.GrantTypes) ||
		!slices.Equal(got.ResponseTypes, want.ResponseTypes) || !slices.Equal(got.Scopes, want.Scopes) ||
		!slices.Equal(got.Resources, want.Resources) || got.OrgID != want.OrgID ||
		!slices.Equal(got.Connections, want.Connections) || !bytes.Equal(got.JWKS, want.JWKS) ||
		got.JWKSURI != want.JWKSURI || got.TokenEndpointAuthSigningAlg != want.TokenEndpointAuthSigningAlg ||
		got.DPoPBoundAccessTokens != want.DPoPBoundAccessTokens || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("client = %+v\nwant     %+v", got, want)
	}
}

func runClients(t *testing.T, h harness) {
	h.run(t, []testCase{
		{name: "client_round_trip_keeps_every_field", run: func(t *testing.T, e *env) {
			want := confidential("svc-reporter")
			must(t, e.s.CreateClient(e.ctx, want))
			got, err := e.s.GetClientRecord(e.ctx, want.ID)
			must(t, err)
			checkClient(t, got, want)
			fc, err := e.s.GetClient(e.ctx, want.ID)
			must(t, err)
			f, ok := fc.(*store.FositeClient)
			if !ok {
				t.Fatalf("GetClient returned %T, want *store.FositeClient", fc)
			}
			checkClient(t, f.Client, want)
			if fc.IsPublic() || !bytes.Equal(fc.GetHashedSecret(), want.SecretHash) || f.GetJSONWebKeys() == nil ||
				f.GetTokenEndpointAuthMethod() != "private_key_jwt" {
				t.Fatalf("fosite view of the client is wrong: %+v", f)
			}
		}},
		{name: "client_create_taken_id_conflicts", run: func(t *testing.T, e *env) {
			is(t, e.s.CreateClient(e.ctx, store.Client{ID: e.client.ID, Name: "impostor"}), store.ErrConflict, "create")
			got, err := e.s.GetClientRecord(e.ctx, e.client.ID)
			must(t, err)
			checkClient(t, got, e.client)
		}},
		{name: "client_in_missing_org_is_not_found", run: func(t *testing.T, e *env) {
			c := confidential("svc")
			c.OrgID = "org_nope"
			is(t, e.s.CreateClient(e.ctx, c), fosite.ErrNotFound, "create")
			is(t, e.s.UpsertClient(e.ctx, c), fosite.ErrNotFound, "upsert")
			_, err := e.s.GetClient(e.ctx, "svc")
			is(t, err, fosite.ErrNotFound, "nothing stored")
		}},
		{name: "client_upsert_replaces_and_keeps_created_at", run: func(t *testing.T, e *env) {
			want := confidential(e.client.ID)
			want.CreatedAt = epoch().Add(time.Hour) // ignored: the client exists
			must(t, e.s.UpsertClient(e.ctx, want))
			want.CreatedAt = e.client.CreatedAt
			got, err := e.s.GetClientRecord(e.ctx, e.client.ID)
			must(t, err)
			checkClient(t, got, want)
			must(t, e.s.UpsertClient(e.ctx, store.Client{ID: "new", Public: true}))
			got, err = e.s.GetClientRecord(e.ctx, "new")
			must(t, err)
			checkClient(t, got, store.Client{ID: "new", Public: true, CreatedAt: epoch()})
		}},
		{name: "client_list_sorted_by_id", run: func(t *testing.T, e *env) {
			must(t, e.s.CreateClient(e.ctx, store.Client{ID: "Zed"}))
			must(t, e.s.CreateClient(e.ctx, store.Client{ID: "alpha"}))
			list, err := e.s.ListClients(e.ctx)
			must(t, err)
			var ids []string
			for _, c := range list {
				ids = append(ids, c.ID)
			}
			if !slices.Equal(ids, []string{"Zed", "alpha", "demo-cli"}) {
				t.Fatalf("clients = %v, want byte order", ids)
			}
		}},
		{name: "client_unknown_is_not_found", run: func(t *testing.T, e *env) {
			_, err := e.s.GetClient(e.ctx, "nope")
			is(t, err, fosite.ErrNotFound, "GetClient")
			_, err = e.s.GetClientRecord(e.ctx, "nope")
			is(t, err, fosite.ErrNotFound, "GetClientRecord")
			is(t, e.s.DeleteClient(e.ctx, "nope"), fosite.ErrNotFound, "delete")
		}},
		{name: "client_delete_removes_it_and_its_consents", run: func(t *testing.T, e *env) {
			must(t, e.s.UpsertConsent(e.ctx, store.Consent{UserID: e.user.ID, ClientID: e.client.ID, Resource: resourceURI}))
			must(t, e.s.DeleteClient(e.ctx, e.client.ID))
			_, err := e.s.GetClient(e.ctx, e.client.ID)
			is(t, err, fosite.ErrNotFound, "deleted client")
			_, err = e.s.GetConsent(e.ctx, e.user.ID, e.client.ID, resourceURI)
			is(t, err, fosite.ErrNotFound, "consent of deleted client")
			must(t, e.s.CreateClient(e.ctx, e.client)) // the id is free again
		}},
	})
}

// Client assertion jti: RFC 7523 §3 item 7, "the authorization server … MAY ensure that JWTs are not replayed
// by maintaining the set of used jti values for the length of time for which the JWT would be considered valid".
func runJTI(t *testing.T, h harness) {
	h.run(t, []testCase{
		{name: "rfc7523_3_jti_used_once", run: func(t *testing.T, e *env) {
			exp := e.clock.Now().Add(time.Minute)
			is(t, e.s.ClientAssertionJWTValid(e.ctx, "jti-1"), nil, "unseen jti")
			must(t, e.s.SetClientAssertionJWT(e.ctx, "jti-1", exp))
			is(t, e.s.ClientAssertionJWTValid(e.ctx, "jti-1"), fosite.ErrJTIKnown, "replayed jti")
			is(t, e.s.SetClientAssertionJWT(e.ctx, "jti-1", exp), fosite.ErrJTIKnown, "recorded twice")
			is(t, e.s.ClientAssertionJWTValid(e.ctx, "jti-2"), nil, "other jti")
		}},
		{name: "rfc7523_3_jti_replay_refused_until_expiry", run: func(t *testing.T, e *env) {
			must(t, e.s.SetClientAssertionJWT(e.ctx, "jti-1", e.clock.Now().Add(time.Minute)))
			e.clock.Advance(59 * time.Second)
			is(t, e.s.ClientAssertionJWTValid(e.ctx, "jti-1"), fosite.ErrJTIKnown, "just before expiry")
			is(t, e.s.SetClientAssertionJWT(e.ctx, "jti-1", e.clock.Now().Add(time.Minute)), fosite.ErrJTIKnown, "re-record before expiry")
			e.clock.Advance(time.Second)
			// Past its expiry the assertion itself is refused, so the jti may be forgotten and reused.
			is(t, e.s.ClientAssertionJWTValid(e.ctx, "jti-1"), nil, "at expiry")
			must(t, e.s.SetClientAssertionJWT(e.ctx, "jti-1", e.clock.Now().Add(time.Minute)))
			is(t, e.s.ClientAssertionJWTValid(e.ctx, "jti-1"), fosite.ErrJTIKnown, "recorded again")
		}},
		{name: "rfc7523_3_jti_concurrent_use_exactly_one", run: func(t *testing.T, e *env) {
			const n = 8
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = e.s.SetClientAssertionJWT(e.ctx, "jti-1", e.clock.Now().Add(time.Minute))
				}()
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else {
					is(t, err, fosite.ErrJTIKnown, "concurrent replay")
				}
			}
			if ok != 1 {
				t.Fatalf("%d of %d concurrent uses of one jti succeeded, want 1", ok, n)
			}
		}},
	})
}

func signingKey(kid string, created time.Time) store.SigningKey {
	return store.SigningKey{KID: kid, Alg: "ES256",
		PublicJWK:     []byte(fmt.Sprintf(`{"kty":"EC", "crv":"P-256", "kid":%q, "x":"AA", "y":"BB"}`, kid)),
		PrivateSealed: []byte{0, 1, 2, 3, 0xff}, CreatedAt: created, ActiveAt: created.Add(time.Hour)}
}

func runRecords(t *testing.T, h harness) {
	h.run(t, []testCase{
		{name: "rfc7517_signing_keys_oldest_first", run: func(t *testing.T, e *env) {
			k3, k1, k2 := signingKey("k3", epoch().Add(3*time.Hour)), signingKey("k1", epoch().Add(time.Hour)), signingKey("k2", epoch().Add(2*time.Hour))
			for _, k := range []store.SigningKey{k3, k1, k2} {
				must(t, e.s.CreateSigningKey(e.ctx, k))
			}
			keys, err := e.s.ListSigningKeys(e.ctx)
			must(t, err)
			if len(keys) != 3 {
				t.Fatalf("%d keys, want 3", len(keys))
			}
			for i, want := range []store.SigningKey{k1, k2, k3} {
				got := keys[i]
				if got.KID != want.KID || got.Alg != want.Alg || !bytes.Equal(got.PublicJWK, want.PublicJWK) ||
					!bytes.Equal(got.PrivateSealed, want.PrivateSealed) || !got.CreatedAt.Equal(want.CreatedAt) ||
					!got.ActiveAt.Equal(want.ActiveAt) {
					t.Fatalf("key %d = %+v, want %+v", i, got, want)
				}
			}
		}},
		{name: "signing_key_duplicate_kid_conflicts", run: func(t *testing.T, e *env) {
			must(t, e.s.CreateSigningKey(e.ctx, signingKey("k1", epoch())))
			is(t, e.s.CreateSigningKey(e.ctx, signingKey("k1", epoch().Add(time.Hour))), store.ErrConflict, "duplicate kid")
			keys, err := e.s.ListSigningKeys(e.ctx)
			must(t, err)
			if len(keys) != 1 || !keys[0].CreatedAt.Equal(epoch()) {
				t.Fatalf("keys = %+v", keys)
			}
		}},
		{name: "browser_session_round_trip_and_delete", run: func(t *testing.T, e *env) {
			bs := store.BrowserSession{IDHash: "h1", UserID: e.user.ID, AuthTime: epoch().Add(-time.Minute), ExpiresAt: epoch().Add(time.Hour)}
			must(t, e.s.CreateBrowserSession(e.ctx, bs))
			got, err := e.s.GetBrowserSession(e.ctx, "h1")
			must(t, err)
			if got.IDHash != bs.IDHash || got.UserID != bs.UserID || !got.AuthTime.Equal(bs.AuthTime) || !got.ExpiresAt.Equal(bs.ExpiresAt) {
				t.Fatalf("session = %+v, want %+v", got, bs)
			}
			must(t, e.s.DeleteBrowserSession(e.ctx, "h1"))
			_, err = e.s.GetBrowserSession(e.ctx, "h1")
			is(t, err, fosite.ErrNotFound, "deleted session")
			is(t, e.s.DeleteBrowserSession(e.ctx, "h1"), nil, "logout twice")
		}},
		{name: "browser_session_expired_is_not_found", run: func(t *testing.T, e *env) {
			must(t, e.s.CreateBrowserSession(e.ctx, store.BrowserSession{IDHash: "h1", UserID: e.user.ID, ExpiresAt: epoch().Add(time.Hour)}))
			e.clock.Advance(time.Hour) // expiry is exclusive
			_, err := e.s.GetBrowserSession(e.ctx, "h1")
			is(t, err, fosite.ErrNotFound, "expired session")
		}},
		{name: "browser_session_unknown_is_not_found", run: func(t *testing.T, e *env) {
			_, err := e.s.GetBrowserSession(e.ctx, "nope")
			is(t, err, fosite.ErrNotFound, "unknown session")
		}},
		{name: "browser_session_duplicate_conflicts", run: func(t *testing.T, e *env) {
			bs := store.BrowserSession{IDHash: "h1", UserID: e.user.ID, ExpiresAt: epoch().Add(time.Hour)}
			must(t, e.s.CreateBrowserSession(e.ctx, bs))
			is(t, e.s.CreateBrowserSession(e.ctx, bs), store.ErrConflict, "same hash")
		}},
		{name: "browser_session_unknown_user_is_not_found", run: func(t *testing.T, e *env) {
			bs := store.BrowserSession{IDHash: "h1", UserID: "usr_nope", ExpiresAt: epoch().Add(time.Hour)}
			is(t, e.s.CreateBrowserSession(e.ctx, bs), fosite.ErrNotFound, "unknown user")
		}},
		{name: "consent_upsert_get_replace_delete", run: func(t *testing.T, e *env) {
			c := store.Consent{UserID: e.user.ID, ClientID: e.client.ID, Resource: resourceURI, Scopes: []string{"mcp:tools"},
				OrgID: e.org.ID, Connections: []string{"conn_github"}, GrantedAt: epoch()}
			must(t, e.s.UpsertConsent(e.ctx, c))
			c.Scopes, c.Connections, c.GrantedAt = []string{"mcp:tools", "offline_access"}, nil, epoch().Add(time.Hour)
			must(t, e.s.UpsertConsent(e.ctx, c))
			got, err := e.s.GetConsent(e.ctx, c.UserID, c.ClientID, c.Resource)
			must(t, err)
			if !slices.Equal(got.Scopes, c.Scopes) || len(got.Connections) != 0 || got.OrgID != c.OrgID || !got.GrantedAt.Equal(c.GrantedAt) {
				t.Fatalf("consent = %+v, want %+v", got, c)
			}
			_, err = e.s.GetConsent(e.ctx, c.UserID, c.ClientID, "https://other.example.com/mcp")
			is(t, err, fosite.ErrNotFound, "consent is per resource")
			must(t, e.s.DeleteConsent(e.ctx, c.UserID, c.ClientID, c.Resource))
			_, err = e.s.GetConsent(e.ctx, c.UserID, c.ClientID, c.Resource)
			is(t, err, fosite.ErrNotFound, "revoked consent")
		}},
		{name: "consent_unknown_is_not_found", run: func(t *testing.T, e *env) {
			_, err := e.s.GetConsent(e.ctx, e.user.ID, e.client.ID, resourceURI)
			is(t, err, fosite.ErrNotFound, "get")
			is(t, e.s.DeleteConsent(e.ctx, e.user.ID, e.client.ID, resourceURI), fosite.ErrNotFound, "delete")
		}},
		{name: "consent_for_unknown_user_or_client_is_not_found", run: func(t *testing.T, e *env) {
			is(t, e.s.UpsertConsent(e.ctx, store.Consent{UserID: "usr_nope", ClientID: e.client.ID, Resource: resourceURI}),
				fosite.ErrNotFound, "unknown user")
			is(t, e.s.UpsertConsent(e.ctx, store.Consent{UserID: e.user.ID, ClientID: "nope", Resource: resourceURI}),
				fosite.ErrNotFound, "unknown client")
		}},
	})
}
