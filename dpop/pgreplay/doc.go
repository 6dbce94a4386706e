// https://www.rfc-editor.org/rfc/rfc9449

// Package pgreplay is a dpop.ReplayStore in PostgreSQL, shared by every replica on one database: RFC 9449
// §11.1 requires the server to "ensure that the same proof is not used more than once", which an in-memory
// store (dpop.MemoryReplayStore) can only do for a single process. It lives apart from dpop so that packages
// verifying proofs (dpop, rs) do not link a PostgreSQL driver.
//
// Implemented:
//   - RFC 9449 §11.1: jti replay detection (Store.Use, keys from the dpop Verifier) in the dpop_replay table
//     of migrations/002_dpop_replay.sql; of concurrent uses of one key, exactly one succeeds, on any
//     replica. A replay is reported as dpop.CheckReplay, like the memory store.
//   - Expired rows are deleted in batches, in the background at most once per Options.PurgeInterval, or by
//     calling Store.Purge.
//
// Not supported:
//   - Creating the table: run the migrations (package migrations) first.
//   - Databases other than PostgreSQL, and drivers other than pgx (the Store takes a *pgxpool.Pool).
//   - Judging expiry by the database clock: the Store uses Options.Now, the same clock as the Verifier.
package pgreplay
