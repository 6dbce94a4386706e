// Package pgtest gives tests a fresh, migrated PostgreSQL database on a real server.
//
// The server comes from TEST_DATABASE_URL (CI and developer machines run a local PostgreSQL); without it,
// from a PostgreSQL container started with testcontainers-go where Docker is available (one per test
// binary, removed when it exits); without either, the test is skipped with a message saying how to run it.
// Under CI=true a missing TEST_DATABASE_URL is a failure, never a skip. Each call creates its own database,
// so packages and tests running in parallel never share state, and drops it when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddls/mcpauth/migrations"
)

// URL returns the URL of a fresh, migrated database and registers its removal with t.Cleanup.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("pgtest: TEST_DATABASE_URL is not set; under CI=true database tests must run, not skip")
		}
		var err error
		if base, err = containerURL(); err != nil {
			t.Skipf("pgtest: no TEST_DATABASE_URL and no Docker for a test container (%v); set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run PostgreSQL tests", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect %s: %v", redact(base), err)
	}
	defer admin.Close(ctx)

	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "mcpauth_t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("pgtest: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop %s: %v", name, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	dbURL := u.String()
	if err := migrations.MigrateURL(ctx, dbURL); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dbURL
}

// Pool returns a pool on a fresh, migrated database, closed when the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(URL(t))
	if err != nil {
		t.Fatalf("pgtest: pool: %v", err)
	}
	// Enough connections for concurrency tests and benchmarks with 16 clients (group commit needs them).
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgtest: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
