package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

// Benchmarks of the token endpoint's storage work. Each runs "serial" (one caller: latency) and "parallel"
// (16 callers, as in SPEC "Performance targets": throughput is 1e9/ns-per-op per second).

const benchParallelism = 8 // × GOMAXPROCS goroutines; 16 on the 2-core reference machine

// benchSetup seeds s with what the token endpoint needs: an organization and a machine client.
func benchSetup(b *testing.B, s store.Store) store.Client {
	b.Helper()
	ctx := context.Background()
	must(b, s.UpsertOrganization(ctx, store.Organization{ID: "org_acme"}))
	c := confidential("svc-reporter")
	must(b, s.UpsertClient(ctx, c))
	return c
}

func benchRequest(c store.Client, id string) *fosite.Request {
	r := fosite.NewRequest()
	r.ID = id
	r.Client = store.NewFositeClient(c)
	r.GrantedScope = fosite.Arguments{"mcp:tools"}
	r.GrantedAudience = fosite.Arguments{resourceURI}
	sess := &testSession{DefaultSession: fosite.DefaultSession{Subject: c.ID}, OrgID: "org_acme",
		Connections: []string{"conn_github"}, JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
	sess.SetExpiresAt(fosite.AccessToken, time.Now().Add(10*time.Minute))
	sess.SetExpiresAt(fosite.RefreshToken, time.Now().Add(24*time.Hour))
	r.Session = sess
	return r
}

// runBoth runs op serially and from benchParallelism×GOMAXPROCS goroutines; newOp gives each caller its own op.
func runBoth(b *testing.B, newOp func() (func() error, error)) {
	b.Run("serial", func(b *testing.B) {
		op, err := newOp()
		must(b, err)
		for b.Loop() {
			must(b, op())
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(benchParallelism)
		b.RunParallel(func(pb *testing.PB) {
			op, err := newOp()
			if err != nil {
				b.Error(err) // not Fatal: this is not the benchmark's goroutine
				return
			}
			for pb.Next() {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchCreateAccessTokenSession measures storing one access token (client credentials: the only write).
func BenchCreateAccessTokenSession(b *testing.B, s store.Store) {
	c := benchSetup(b, s)
	ctx := context.Background()
	req := benchRequest(c, "req-bench")
	var n atomic.Int64
	runBoth(b, func() (func() error, error) {
		return func() error { return s.CreateAccessTokenSession(ctx, fmt.Sprintf("at-%d", n.Add(1)), req) }, nil
	})
}

// BenchGetClient measures loading a client (every token request authenticates one).
func BenchGetClient(b *testing.B, s store.Store) {
	c := benchSetup(b, s)
	ctx := context.Background()
	runBoth(b, func() (func() error, error) {
		return func() error {
			_, err := s.GetClient(ctx, c.ID)
			return err
		}, nil
	})
}

// BenchRefreshRotation measures fosite's refresh transaction: BeginTX, RotateRefreshToken,
// CreateAccessTokenSession, CreateRefreshTokenSession, Commit. Each caller walks its own token chain.
func BenchRefreshRotation(b *testing.B, s store.Store) {
	c := benchSetup(b, s)
	ctx := context.Background()
	var chains atomic.Int64
	runBoth(b, func() (func() error, error) {
		id := chains.Add(1)
		req := benchRequest(c, fmt.Sprintf("fam-%d", id))
		rt := fmt.Sprintf("rt-%d-0", id)
		if err := s.CreateRefreshTokenSession(ctx, rt, "", req); err != nil {
			return nil, err
		}
		step := 0
		return func() error {
			step++
			at, next := fmt.Sprintf("at-%d-%d", id, step), fmt.Sprintf("rt-%d-%d", id, step)
			if err := refreshTx(ctx, s, req, rt, at, next); err != nil {
				return err
			}
			rt = next
			return nil
		}, nil
	})
}
