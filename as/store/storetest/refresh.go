package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

// issue stores a refresh token and the access token issued with it, in family.
func (e *env) issue(t *testing.T, family, rt, at string) {
	t.Helper()
	r := e.request(family)
	must(t, e.s.CreateAccessTokenSession(e.ctx, at, r))
	must(t, e.s.CreateRefreshTokenSession(e.ctx, rt, at, r))
}

// refreshTx is fosite's refresh transaction (handler/oauth2/flow_refresh.go PopulateTokenEndpointResponse):
// rotate the presented token, store the new pair, commit; roll back on any error.
func refreshTx(ctx context.Context, s store.Store, r fosite.Requester, oldRT, newAT, newRT string) (err error) {
	ctx, err = s.BeginTX(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = s.Rollback(ctx)
		}
	}()
	if err = s.RotateRefreshToken(ctx, r.GetID(), oldRT); err != nil {
		return err
	}
	if err = s.CreateAccessTokenSession(ctx, newAT, r); err != nil {
		return err
	}
	if err = s.CreateRefreshTokenSession(ctx, newRT, newAT, r); err != nil {
		return err
	}
	return s.Commit(ctx)
}

func (e *env) refresh(oldRT, newAT, newRT string) error {
	return refreshTx(e.ctx, e.s, e.request("fam-1"), oldRT, newAT, newRT)
}

// refreshState asserts what GetRefreshTokenSession says about sig: nil, ErrInactiveToken (with the request)
// or ErrNotFound.
func (e *env) refreshState(t *testing.T, sig string, want error) {
	t.Helper()
	req, err := e.s.GetRefreshTokenSession(e.ctx, sig, &testSession{})
	is(t, err, want, "refresh token "+sig)
	if (want == nil || errors.Is(want, fosite.ErrInactiveToken)) && (req == nil || req.GetID() == "") {
		t.Fatalf("refresh token %s: the request must come back with %v, got %v", sig, want, req)
	}
}

func (e *env) accessState(t *testing.T, sig string, want error) {
	t.Helper()
	_, err := e.s.GetAccessTokenSession(e.ctx, sig, &testSession{})
	is(t, err, want, "access token "+sig)
}

// Refresh tokens: OAuth 2.1 §4.3.1 and RFC 6819 §5.2.2.3 (rotation, reuse detection, family revocation),
// with the grace period of SPEC "Grants and rules".
func runRefresh(t *testing.T, h harness) {
	h.run(t, []testCase{
		{name: "oauth21_4.3.1_refresh_rotation", run: func(t *testing.T, e *env) {
			e.issue(t, "fam-1", "rt-1", "at-1")
			want := e.request("fam-1")
			got, err := e.s.GetRefreshTokenSession(e.ctx, "rt-1", &testSession{})
			is(t, err, nil, "get fresh refresh token")
			checkRequest(t, got, want)
			must(t, e.refresh("rt-1", "at-2", "rt-2"))
			e.refreshState(t, "rt-1", fosite.ErrInactiveToken)
			e.accessState(t, "at-1", fosite.ErrNotFound) // rotation drops the access token issued with rt-1
			e.refreshState(t, "rt-2", nil)
			e.accessState(t, "at-2", nil)
			is(t, e.s.RotateRefreshToken(e.ctx, "fam-1", "rt-1"), fosite.ErrInactiveToken, "rotate used token")
		}},
		{name: "oauth21_4.3.1_refresh_reuse_without_grace_is_inactive", run: func(t *testing.T, e *env) {
			e.issue(t, "fam-1", "rt-1", "at-1")
			must(t, e.refresh("rt-1", "at-2", "rt-2"))
			is(t, e.refresh("rt-1", "at-3", "rt-3"), fosite.ErrInactiveToken, "second refresh, no grace")
			e.refreshState(t, "rt-3", fosite.ErrNotFound) // rolled back
			e.accessState(t, "at-3", fosite.ErrNotFound)
		}},
		{name: "refresh_grace_retry_succeeds", grace: grace, run: func(t *testing.T, e *env) {
			e.issue(t, "fam-1", "rt-1", "at-1")
			must(t, e.refresh("rt-1", "at-2", "rt-2"))
			e.clock.Advance(grace) // the window is inclusive
			e.refreshState(t, "rt-1", nil)
			must(t, e.refresh("rt-1", "at-3", "rt-3"))
			e.refreshState(t, "rt-2", nil)
			e.refreshState(t, "rt-3", nil)
		}},
		{name: "refresh_reuse_after_grace_is_inactive", grace: grace, run: func(t *testing.T, e *env) {
			e.issue(t, "fam-1", "rt-1", "at-1")
			must(t, e.refresh("rt-1", "at-2", "rt-2"))
			e.clock.Advance(grace + time.Second)
			e.refreshState(t, "rt-1", fosite.ErrInactiveToken)
			is(t, e.refresh("rt-1", "at-3", "rt-3"), fosite.ErrInactiveToken, "refresh after grace")
			e.refreshState(t, "rt-3", fosite.ErrNotFound)
		}},
		{name: "refresh_family_revocation_beats_grace", grace: grace, run: func(t *testing.T, e *env) {
			e.issue(t, "fam-1", "rt-1", "at-1")
			must(t, e.refresh("rt-1", "at-2", "rt-2"))
			must(t, e.s.RevokeRefreshToken(e.ctx, "fam-1"))
			e.refreshState(t, "rt-1", fosite.ErrInactiveToken) // inside the grace window, but revoked
			e.refreshState(t, "rt-2", fosite.ErrInactiveToken)
			is(t, e.refresh("rt-1", "at-3", "rt-3"), fosite.ErrInactiveToken, "retry after revocation")
			is(t, e.refresh("rt-2", "at-3", "rt-3"), fosite.ErrInactiveToken, "refresh revoked token")
		}},
		{name: "rfc6819_5.2.2.3_reuse_revokes_family", grace: grace, run: func(t *testing.T, e *env) {
			e.issue(t, "fam-1", "rt-1", "at-1")
			must(t, e.refresh("rt-1", "at-2", "rt-2"))
			e.clock.Advance(grace + time.Second)
			// fosite's handleRefreshTokenReuse, run when GetRefreshTokenSession says ErrInactiveToken.
			ctx, err := e.s.BeginTX(e.ctx)
			must(t, err)
			must(t, e.s.DeleteRefreshTokenSession(ctx, "rt-1"))
			must(t, e.s.RevokeRefreshToken(ctx, "fam-1"))
			must(t, e.s.RevokeAccessToken(ctx, "fam-1"))
			must(t, e.s.Commit(ctx))
			e.refreshState(t, "rt-2", fosite.ErrInactiveToken)
			e.accessState(t, "at-2", fosite.ErrNotFound)
		}},
		{name: "refresh_delete_marks_revoked_not_gone", grace: grace, run: func(t *testing.T, e *env) {
			e.issue(t, "fam-1", "rt-1", "at-1")
			must(t, e.s.DeleteRefreshTokenSession(e.ctx, "rt-1"))
			e.refreshState(t, "rt-1", fosite.ErrInactiveToken)
			is(t, e.refresh("rt-1", "at-2", "rt-2"), fosite.ErrInactiveToken, "refresh deleted token")
			is(t, e.s.DeleteRefreshTokenSession(e.ctx, "nope"), fosite.ErrNotFound, "delete unknown")
		}},
		{name: "rfc7009_2.1_revoke_refresh_token_revokes_family_only", run: func(t *testing.T, e *env) {
			e.issue(t, "fam-1", "rt-1", "at-1")
			e.issue(t, "fam-1", "rt-2", "at-2")
			e.issue(t, "fam-2", "rt-3", "at-3")
			must(t, e.s.RevokeRefreshToken(e.ctx, "fam-1"))
			e.refreshState(t, "rt-1", fosite.ErrInactiveToken)
			e.refreshState(t, "rt-2", fosite.ErrInactiveToken)
			e.refreshState(t, "rt-3", nil)
			is(t, e.s.RevokeRefreshToken(e.ctx, "fam-unknown"), nil, "revoke unknown family")
		}},
		{name: "refresh_unknown_is_not_found", run: func(t *testing.T, e *env) {
			e.refreshState(t, "nope", fosite.ErrNotFound)
			is(t, e.s.RotateRefreshToken(e.ctx, "fam-1", "nope"), fosite.ErrNotFound, "rotate unknown")
		}},
		{name: "refresh_rotate_other_family_is_not_found", grace: grace, run: func(t *testing.T, e *env) {
			e.issue(t, "fam-1", "rt-1", "at-1")
			is(t, e.s.RotateRefreshToken(e.ctx, "fam-2", "rt-1"), fosite.ErrNotFound, "rotate active token of another family")
			e.refreshState(t, "rt-1", nil)
			must(t, e.refresh("rt-1", "at-2", "rt-2"))
			is(t, e.s.RotateRefreshToken(e.ctx, "fam-2", "rt-1"), fosite.ErrNotFound, "rotate used token of another family")
		}},
		{name: "refresh_duplicate_conflicts", run: func(t *testing.T, e *env) {
			e.issue(t, "fam-1", "rt-1", "at-1")
			is(t, e.s.CreateRefreshTokenSession(e.ctx, "rt-1", "at-x", e.request("fam-2")), store.ErrConflict, "second create")
		}},
		{name: "refresh_of_deleted_client_is_not_found", run: func(t *testing.T, e *env) {
			e.issue(t, "fam-1", "rt-1", "at-1")
			must(t, e.s.DeleteClient(e.ctx, e.client.ID))
			e.refreshState(t, "rt-1", fosite.ErrNotFound)
		}},
		{name: "refresh_parallel_rotation_exactly_one_outside_grace", run: func(t *testing.T, e *env) {
			wins, errs := parallelRefresh(t, e, 4)
			if wins != 1 {
				t.Fatalf("%d refreshes succeeded, want exactly 1 (errors %v)", wins, errs)
			}
			for _, err := range errs {
				is(t, err, fosite.ErrInactiveToken, "losing refresh")
			}
		}},
		{name: "refresh_parallel_rotation_all_succeed_inside_grace", grace: grace, run: func(t *testing.T, e *env) {
			if wins, errs := parallelRefresh(t, e, 4); wins != 4 {
				t.Fatalf("%d of 4 refreshes succeeded inside the grace period (errors %v)", wins, errs)
			}
		}},
	})
}

// parallelRefresh presents one refresh token from n goroutines at once, as clients refreshing from several
// processes do. It checks that exactly the winners' new tokens were stored.
func parallelRefresh(t *testing.T, e *env, n int) (wins int, errs []error) {
	t.Helper()
	e.issue(t, "fam-1", "rt-1", "at-1")
	results := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = e.refresh("rt-1", fmt.Sprintf("at-new-%d", i), fmt.Sprintf("rt-new-%d", i))
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range results {
		var want error = fosite.ErrNotFound
		if err == nil {
			wins++
			want = nil
		} else {
			errs = append(errs, err)
		}
		e.refreshState(t, fmt.Sprintf("rt-new-%d", i), want)
		e.accessState(t, fmt.Sprintf("at-new-%d", i), want)
	}
	return wins, errs
}
