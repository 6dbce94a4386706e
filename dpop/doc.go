// https://www.rfc-editor.org/rfc/rfc9449

// Package dpop implements OAuth 2.0 Demonstrating Proof of Possession (DPoP, RFC 9449): the wire format of
// proofs, their verification, server nonces, replay protection, and the client side.
//
// Implemented:
//   - RFC 9449 §4.2 and §4.3: proof syntax and every verification step, in order, each failure an *Error
//     naming its Check (errors.Is(err, dpop.CheckHTU)) with the OAuth error code to send
//     (invalid_dpop_proof, or use_dpop_nonce). htu is compared after RFC 3986 §6.2.2 and §6.2.3
//     normalization, ignoring query and fragment. Algorithms: ES256, ES384, ES512, RS256, RS384, RS512,
//     PS256, PS384, PS512, EdDSA and Ed25519 (RFC 9864) on Ed25519; ES256, EdDSA, RS256 and PS256 by default.
//   - RFC 9449 §6.1 and RFC 7638: the JWK SHA-256 thumbprint (Proof.JKT, Key.Thumbprint) and the
//     comparison with a token's cnf.jkt (Verifier.VerifyBound).
//   - RFC 9449 §8 and §9: stateless server nonces (NonceSource), valid on every replica sharing the secret.
//   - RFC 9449 §11.1: jti replay detection through a ReplayStore, in memory (MemoryReplayStore) or in
//     PostgreSQL shared by replicas (package dpop/pgreplay, kept apart so dpop and rs do not link a database
//     driver; table from migrations/002_dpop_replay.sql). Package dpop/dpoptest has the conformance suite
//     every ReplayStore passes.
//   - Client side: keys (GenerateKey, NewKey over any crypto.Signer), proofs (Key.Proof), and Transport, an
//     http.RoundTripper that signs every request, sends DPoP-bound tokens, remembers DPoP-Nonce per origin
//     and retries once on use_dpop_nonce (RFC 9449 §7.1, §8.2, §9). ParseChallenges reads the
//     WWW-Authenticate challenges (RFC 9110 §11.6.1) it needs for that.
//
// Not supported:
//   - No HTTP handlers or middleware: the authorization server (token endpoint, §5; dpop_jkt, §10) and the
//     resource-server middleware (§7, writing challenges and DPoP-Nonce headers) live in the as and rs
//     packages, which call Verifier.
//   - Proofs whose key is given by reference (kid, jku, x5c) rather than by the jwk header; JWS JSON
//     serialization; JWS critical extensions (any crit header is refused); unencoded payloads (RFC 7797).
//   - Ed448, secp256k1 (ES256K) and RSA keys below 2048 or above 8192 bits.
//   - Server-managed timestamps in the nonce replacing the iat check (§11.1): iat is always checked.
//   - Access-token hashes other than SHA-256 (ath is SHA-256 per §4.2).
package dpop
