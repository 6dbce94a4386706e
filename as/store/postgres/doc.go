// Package postgres is the PostgreSQL Store (pgx v5, pgxpool), the production storage of authd.
//
// The schema is migrations/001_authd.sql. The package honours the contract stated in as/store (doc.go) exactly
// as the in-memory store does; the conformance suite as/store/storetest runs against both.
//
// Transactions travel in the context (fosite's storage.Transactional): BeginTX starts a pgx.Tx at READ
// COMMITTED and returns a context carrying it; every query picks that transaction when the context has one
// and the pool otherwise. Nested BeginTX joins the open transaction; Commit and Rollback on a context without
// one, or after the transaction ended, do nothing.
//
// Concurrency (the reason the transactions exist):
//   - Code redemption (RFC 6749 §4.1.2): InvalidateAuthorizeCodeSession is a conditional UPDATE … WHERE active.
//     The row lock makes a second redemption wait for the first; when the first commits, the second matches
//     no row and gets store.ErrCodeAlreadyUsed. Of N concurrent redemptions exactly one commits.
//   - Refresh rotation (OAuth 2.1 §4.3.1, RFC 6819 §5.2.2.3): RotateRefreshToken is the same pattern on the
//     refresh token row, plus the deletion of the access token issued with it, in one statement. A loser
//     succeeds only inside Options.RefreshGracePeriod of the winner's rotation, and never once the family
//     was revoked.
//
// Times that decide grace or expiry come from Options.Now, never from the database clock, so tests can move
// time and replicas agree with their own clocks.
//
// Errors are translated here and only here: no rows → fosite.ErrNotFound; unique violation (23505) →
// store.ErrConflict; foreign-key violation (23503, e.g. an unknown organization) → fosite.ErrNotFound;
// serialization failure or deadlock (40001, 40P01) → fosite.ErrSerializationFailure. Other database errors
// carry the SQLSTATE and constraint name only, never values (they can be token signatures or hashes).
//
// Not supported: statement timeouts of its own (set them on the pool's config), savepoints (a nested
// BeginTX is the same transaction, as in the memory store).
package postgres
