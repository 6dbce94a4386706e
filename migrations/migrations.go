// Package migrations holds the PostgreSQL schema of mcpauth as tern migrations, embedded into the binaries.
//
// Files are named NNN_name.sql and applied in order; each is one transaction. Migrate takes tern's advisory
// lock, so several replicas starting at once apply each migration exactly once.
package migrations

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed *.sql
var files embed.FS

// VersionTable is the table tern records the applied version in.
const VersionTable = "mcpauth_schema_version"

// Migrate applies every pending migration to the database conn points at.
func Migrate(ctx context.Context, conn *pgx.Conn) error {
	m, err := migrate.NewMigrator(ctx, conn, VersionTable)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if err := m.LoadMigrations(files); err != nil {
		return fmt.Errorf("migrations: load: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrations: apply: %w", err)
	}
	return nil
}

// MigrateURL connects to databaseURL and applies every pending migration.
func MigrateURL(ctx context.Context, databaseURL string) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("migrations: connect: %w", err)
	}
	defer conn.Close(ctx)
	return Migrate(ctx, conn)
}
