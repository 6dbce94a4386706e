package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

// Authorization codes: RFC 6749 §4.1.2 ("the client MUST NOT use the authorization code more than once").
func runCodes(t *testing.T, h harness) {
	h.run(t, []testCase{
		{name: "rfc6749_4.1.2_code_round_trip", run: func(t *testing.T, e *env) {
			want := e.request("req-1")
			must(t, e.s.CreateAuthorizeCodeSession(e.ctx, "code-1", want))
			got, err := e.s.GetAuthorizeCodeSession(e.ctx, "code-1", &testSession{})
			is(t, err, nil, "get code")
			checkRequest(t, got, want)
		}},
		{name: "rfc6749_4.1.2_code_unknown_is_not_found", run: func(t *testing.T, e *env) {
			_, err := e.s.GetAuthorizeCodeSession(e.ctx, "nope", &testSession{})
			is(t, err, fosite.ErrNotFound, "get unknown code")
		}},
		{name: "rfc6749_4.1.2_code_duplicate_signature_conflicts", run: func(t *testing.T, e *env) {
			must(t, e.s.CreateAuthorizeCodeSession(e.ctx, "code-1", e.request("req-1")))
			is(t, e.s.CreateAuthorizeCodeSession(e.ctx, "code-1", e.request("req-2")), store.ErrConflict, "second create")
		}},
		{name: "rfc6749_4.1.2_code_reuse_returns_original_request", run: func(t *testing.T, e *env) {
			want := e.request("req-1")
			must(t, e.s.CreateAuthorizeCodeSession(e.ctx, "code-1", want))
			must(t, e.s.InvalidateAuthorizeCodeSession(e.ctx, "code-1"))
			got, err := e.s.GetAuthorizeCodeSession(e.ctx, "code-1", &testSession{})
			is(t, err, fosite.ErrInvalidatedAuthorizeCode, "get used code")
			// The original request must come back, so fosite can revoke what the code issued.
			checkRequest(t, got, want)
		}},
		{name: "rfc6749_4.1.2_code_invalidated_twice_is_already_used", run: func(t *testing.T, e *env) {
			must(t, e.s.CreateAuthorizeCodeSession(e.ctx, "code-1", e.request("req-1")))
			must(t, e.s.InvalidateAuthorizeCodeSession(e.ctx, "code-1"))
			is(t, e.s.InvalidateAuthorizeCodeSession(e.ctx, "code-1"), store.ErrCodeAlreadyUsed, "second invalidate")
		}},
		{name: "rfc6749_4.1.2_code_invalidate_unknown_is_not_found", run: func(t *testing.T, e *env) {
			is(t, e.s.InvalidateAuthorizeCodeSession(e.ctx, "nope"), fosite.ErrNotFound, "invalidate unknown")
		}},
		{name: "rfc6749_4.1.2_code_of_deleted_client_is_not_found", run: func(t *testing.T, e *env) {
			must(t, e.s.CreateAuthorizeCodeSession(e.ctx, "code-1", e.request("req-1")))
			must(t, e.s.DeleteClient(e.ctx, e.client.ID))
			_, err := e.s.GetAuthorizeCodeSession(e.ctx, "code-1", &testSession{})
			is(t, err, fosite.ErrNotFound, "code of deleted client")
		}},
		{name: "code_redeemed_once_under_concurrency", run: codeRedeemedOnce},
		{name: "default_session_survives_round_trip", run: func(t *testing.T, e *env) {
			r := e.request("req-1")
			ds := &fosite.DefaultSession{Subject: "usr_alice", Extra: map[string]any{"k": "v"}}
			ds.SetExpiresAt(fosite.AuthorizeCode, e.clock.Now().Add(time.Minute))
			r.Session = ds
			must(t, e.s.CreateAuthorizeCodeSession(e.ctx, "code-1", r))
			got, err := e.s.GetAuthorizeCodeSession(e.ctx, "code-1", nil) // nil: a default session
			is(t, err, nil, "get code")
			gs, ok := got.GetSession().(*fosite.DefaultSession)
			if !ok || gs.Subject != "usr_alice" || gs.Extra["k"] != "v" ||
				!gs.GetExpiresAt(fosite.AuthorizeCode).Equal(ds.GetExpiresAt(fosite.AuthorizeCode)) {
				t.Fatalf("session = %#v", got.GetSession())
			}
		}},
	})
}

// codeRedeemedOnce runs fosite's code redemption transaction from several goroutines at once: RFC 6749
// §4.1.2, exactly one may issue tokens.
func codeRedeemedOnce(t *testing.T, e *env) {
	const n = 8
	must(t, e.s.CreateAuthorizeCodeSession(e.ctx, "code-1", e.request("req-1")))
	var (
		wg            sync.WaitGroup
		start         = make(chan struct{})
		mu            sync.Mutex
		wins, usedErr int
		other         []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, err := e.s.GetAuthorizeCodeSession(e.ctx, "code-1", &testSession{})
			if err != nil && !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
				mu.Lock()
				other = append(other, err)
				mu.Unlock()
				return
			}
			err = func() error {
				ctx, err := e.s.BeginTX(e.ctx)
				if err != nil {
					return err
				}
				if err := e.s.InvalidateAuthorizeCodeSession(ctx, "code-1"); err != nil {
					_ = e.s.Rollback(ctx)
					return err
				}
				if err := e.s.CreateAccessTokenSession(ctx, fmt.Sprintf("at-%d", i), req); err != nil {
					_ = e.s.Rollback(ctx)
					return err
				}
				return e.s.Commit(ctx)
			}()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrCodeAlreadyUsed):
				usedErr++
			default:
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins != 1 || usedErr != n-1 || len(other) > 0 {
		t.Fatalf("wins=%d already-used=%d other=%v; want exactly one win", wins, usedErr, other)
	}
	found := 0
	for i := range n {
		if _, err := e.s.GetAccessTokenSession(e.ctx, fmt.Sprintf("at-%d", i), &testSession{}); err == nil {
			found++
		}
	}
	if found != 1 {
		t.Fatalf("%d access tokens committed, want 1", found)
	}
}

// PKCE request sessions (RFC 7636 §4.4–4.6: the challenge is kept with the code until redemption).
func runPKCE(t *testing.T, h harness) {
	h.run(t, []testCase{
		{name: "rfc7636_4.4_pkce_round_trip", run: func(t *testing.T, e *env) {
			want := e.request("req-1")
			want.Form.Set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
			must(t, e.s.CreatePKCERequestSession(e.ctx, "code-1", want))
			got, err := e.s.GetPKCERequestSession(e.ctx, "code-1", &testSession{})
			is(t, err, nil, "get pkce")
			checkRequest(t, got, want)
			if got.GetRequestForm().Get("code_challenge") != want.Form.Get("code_challenge") {
				t.Fatal("code_challenge lost")
			}
		}},
		{name: "rfc7636_pkce_unknown_is_not_found", run: func(t *testing.T, e *env) {
			_, err := e.s.GetPKCERequestSession(e.ctx, "nope", &testSession{})
			is(t, err, fosite.ErrNotFound, "get unknown pkce")
		}},
		{name: "rfc7636_pkce_deleted_is_not_found", run: func(t *testing.T, e *env) {
			must(t, e.s.CreatePKCERequestSession(e.ctx, "code-1", e.request("req-1")))
			must(t, e.s.DeletePKCERequestSession(e.ctx, "code-1"))
			_, err := e.s.GetPKCERequestSession(e.ctx, "code-1", &testSession{})
			is(t, err, fosite.ErrNotFound, "get deleted pkce")
			is(t, e.s.DeletePKCERequestSession(e.ctx, "code-1"), nil, "delete twice") // idempotent
		}},
		{name: "rfc7636_pkce_duplicate_conflicts", run: func(t *testing.T, e *env) {
			must(t, e.s.CreatePKCERequestSession(e.ctx, "code-1", e.request("req-1")))
			is(t, e.s.CreatePKCERequestSession(e.ctx, "code-1", e.request("req-1")), store.ErrConflict, "second create")
		}},
		{name: "rfc7636_pkce_of_deleted_client_is_not_found", run: func(t *testing.T, e *env) {
			must(t, e.s.CreatePKCERequestSession(e.ctx, "code-1", e.request("req-1")))
			must(t, e.s.DeleteClient(e.ctx, e.client.ID))
			_, err := e.s.GetPKCERequestSession(e.ctx, "code-1", &testSession{})
			is(t, err, fosite.ErrNotFound, "pkce of deleted client")
		}},
	})
}

// Access tokens and their revocation by grant family (RFC 7009 §2.1).
func runAccess(t *testing.T, h harness) {
	h.run(t, []testCase{
		{name: "access_token_round_trip_keeps_session_fields", run: func(t *testing.T, e *env) {
			want := e.request("req-1")
			must(t, e.s.CreateAccessTokenSession(e.ctx, "at-1", want))
			got, err := e.s.GetAccessTokenSession(e.ctx, "at-1", &testSession{})
			is(t, err, nil, "get access token")
			checkRequest(t, got, want)
		}},
		{name: "access_token_unknown_is_not_found", run: func(t *testing.T, e *env) {
			_, err := e.s.GetAccessTokenSession(e.ctx, "nope", &testSession{})
			is(t, err, fosite.ErrNotFound, "get unknown")
			is(t, e.s.DeleteAccessTokenSession(e.ctx, "nope"), fosite.ErrNotFound, "delete unknown")
		}},
		{name: "access_token_deleted_is_not_found", run: func(t *testing.T, e *env) {
			must(t, e.s.CreateAccessTokenSession(e.ctx, "at-1", e.request("req-1")))
			must(t, e.s.DeleteAccessTokenSession(e.ctx, "at-1"))
			_, err := e.s.GetAccessTokenSession(e.ctx, "at-1", &testSession{})
			is(t, err, fosite.ErrNotFound, "get deleted")
			is(t, e.s.DeleteAccessTokenSession(e.ctx, "at-1"), fosite.ErrNotFound, "delete twice")
		}},
		{name: "access_token_duplicate_conflicts", run: func(t *testing.T, e *env) {
			must(t, e.s.CreateAccessTokenSession(e.ctx, "at-1", e.request("req-1")))
			is(t, e.s.CreateAccessTokenSession(e.ctx, "at-1", e.request("req-2")), store.ErrConflict, "second create")
		}},
		{name: "rfc7009_2.1_revoke_access_token_revokes_family_only", run: func(t *testing.T, e *env) {
			must(t, e.s.CreateAccessTokenSession(e.ctx, "at-1", e.request("req-1")))
			must(t, e.s.CreateAccessTokenSession(e.ctx, "at-2", e.request("req-1")))
			must(t, e.s.CreateAccessTokenSession(e.ctx, "at-3", e.request("req-other")))
			must(t, e.s.RevokeAccessToken(e.ctx, "req-1"))
			for _, sig := range []string{"at-1", "at-2"} {
				_, err := e.s.GetAccessTokenSession(e.ctx, sig, &testSession{})
				is(t, err, fosite.ErrNotFound, "revoked "+sig)
			}
			_, err := e.s.GetAccessTokenSession(e.ctx, "at-3", &testSession{})
			is(t, err, nil, "other family")
			is(t, e.s.RevokeAccessToken(e.ctx, "req-unknown"), nil, "revoke unknown family")
		}},
		{name: "access_token_of_deleted_client_is_not_found", run: func(t *testing.T, e *env) {
			must(t, e.s.CreateAccessTokenSession(e.ctx, "at-1", e.request("req-1")))
			must(t, e.s.DeleteClient(e.ctx, e.client.ID))
			_, err := e.s.GetAccessTokenSession(e.ctx, "at-1", &testSession{})
			is(t, err, fosite.ErrNotFound, "token of deleted client")
		}},
		{name: "rfc6749_5.2_hostile_lookup_keys_are_not_found", run: func(t *testing.T, e *env) {
			// Client-supplied keys (client_id, token signatures, resource, username) may hold NUL or invalid
			// UTF-8: they match nothing, and must not turn into a server error.
			for _, k := range []string{"a\x00b", "\xff\xfe", "at-1\x00"} {
				_, err := e.s.GetClient(e.ctx, k)
				is(t, err, fosite.ErrNotFound, "GetClient")
				_, err = e.s.GetAccessTokenSession(e.ctx, k, &testSession{})
				is(t, err, fosite.ErrNotFound, "GetAccessTokenSession")
				_, err = e.s.GetRefreshTokenSession(e.ctx, k, &testSession{})
				is(t, err, fosite.ErrNotFound, "GetRefreshTokenSession")
				_, err = e.s.GetAuthorizeCodeSession(e.ctx, k, &testSession{})
				is(t, err, fosite.ErrNotFound, "GetAuthorizeCodeSession")
				is(t, e.s.InvalidateAuthorizeCodeSession(e.ctx, k), fosite.ErrNotFound, "InvalidateAuthorizeCodeSession")
				is(t, e.s.RotateRefreshToken(e.ctx, "fam-1", k), fosite.ErrNotFound, "RotateRefreshToken")
				_, err = e.s.GetPKCERequestSession(e.ctx, k, &testSession{})
				is(t, err, fosite.ErrNotFound, "GetPKCERequestSession")
				_, err = e.s.GetResource(e.ctx, k)
				is(t, err, fosite.ErrNotFound, "GetResource")
				_, err = e.s.GetUserByUsername(e.ctx, k)
				is(t, err, fosite.ErrNotFound, "GetUserByUsername")
				is(t, e.s.ClientAssertionJWTValid(e.ctx, k), nil, "ClientAssertionJWTValid")
			}
		}},
		{name: "form_values_with_nul_round_trip", run: func(t *testing.T, e *env) {
			want := e.request("req-1")
			want.Form.Set("state", "x\x00y\xff")
			must(t, e.s.CreateAccessTokenSession(e.ctx, "at-1", want))
			got, err := e.s.GetAccessTokenSession(e.ctx, "at-1", &testSession{})
			is(t, err, nil, "get")
			if s := got.GetRequestForm().Get("state"); s != "x\x00y\uFFFD" { // JSON keeps NUL, replaces bad UTF-8
				t.Fatalf("state = %q", s)
			}
		}},
		{name: "access_token_sees_client_changes", run: func(t *testing.T, e *env) {
			must(t, e.s.CreateAccessTokenSession(e.ctx, "at-1", e.request("req-1")))
			c := e.client
			c.Scopes = []string{"mcp:tools"}
			must(t, e.s.UpsertClient(e.ctx, c))
			got, err := e.s.GetAccessTokenSession(e.ctx, "at-1", &testSession{})
			is(t, err, nil, "get")
			if s := got.GetClient().GetScopes(); len(s) != 1 || s[0] != "mcp:tools" {
				t.Fatalf("client scopes = %v; the client is stored by reference", s)
			}
		}},
	})
}
