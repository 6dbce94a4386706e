package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/as/store/postgres"
	"github.com/ddls/mcpauth/as/store/storetest"
	"github.com/ddls/mcpauth/internal/pgtest"
	"github.com/ddls/mcpauth/migrations"
)

// The tests need a PostgreSQL server: set TEST_DATABASE_URL (see internal/pgtest; without it they skip,
// under CI=true they fail).
//
// The suite builds a fresh store for each of its ~100 cases. A fresh database per case (pgtest.Pool) costs
// 70–300 ms of CREATE/DROP DATABASE on a busy machine, so the suite takes one database from pgtest and gives
// each store its own freshly migrated schema in it, selected with search_path: the same isolation for a
// fraction of the cost. Benchmarks use pgtest.Pool directly.

func TestConformance(t *testing.T) {
	dbURL := pgtest.URL(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T, opts store.Options) store.Store {
		return postgres.New(schemaPool(t, dbURL, fmt.Sprintf("store_%d", n.Add(1))), opts)
	})
}

// schemaPool creates schema in the database at dbURL, migrates it and returns a pool whose connections use it.
func schemaPool(t *testing.T, dbURL, schema string) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off" // tests need visibility, not durability
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	if err := migrations.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func benchStore(b *testing.B) store.Store { return postgres.New(pgtest.Pool(b), store.Options{}) }

func BenchmarkCreateAccessTokenSession(b *testing.B) {
	storetest.BenchCreateAccessTokenSession(b, benchStore(b))
}

func BenchmarkGetClient(b *testing.B) { storetest.BenchGetClient(b, benchStore(b)) }

func BenchmarkRefreshRotation(b *testing.B) { storetest.BenchRefreshRotation(b, benchStore(b)) }
