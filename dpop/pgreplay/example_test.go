// https://www.rfc-editor.org/rfc/rfc9449

package pgreplay_test

import (
	"context"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddls/mcpauth/dpop"
	"github.com/ddls/mcpauth/dpop/pgreplay"
)

// Replicas share one replay store in PostgreSQL (migrations/002_dpop_replay.sql).
func ExampleNew() {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		return
	}
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgreplay.New(pool, nil) // purges expired rows once a minute
	if err != nil {
		log.Fatal(err)
	}
	v, _ := dpop.NewVerifier(&dpop.VerifierOptions{Replay: store})
	_ = v
}
