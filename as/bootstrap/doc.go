// Package bootstrap reads, validates and applies the bootstrap file (`authd --bootstrap FILE`): the
// resources, organizations, connections, users and clients a deployment starts with (SPEC "Configuration and
// operation"). SCHEMA.md in this directory is the reference for every key.
//
// The file is YAML or JSON (JSON is read as YAML, of which it is a subset). Decoding is strict: an unknown key,
// a wrong type, a duplicate key, a YAML alias or a second document is an error. Parse reports every problem
// at once, each as `file:line: path: problem`, in an *Error.
//
// Rules enforced, with the clause each comes from:
//   - Resource indicators are canonicalised as in internal/oauthuri (RFC 8707 §2,
//     https://www.rfc-editor.org/rfc/rfc8707#section-2); every reference must name a declared resource.
//   - Scope names are RFC 6749 §3.3 scope-tokens (https://www.rfc-editor.org/rfc/rfc6749#section-3.3).
//   - Redirect URIs: absolute, no fragment, https or loopback http (OAuth 2.1 §2.3.1, RFC 8252 §7.3).
//   - Public clients authenticate with `none` and use only the authorization code and refresh grants
//     (OAuth 2.1 §2.1, §4.2: client credentials is for confidential clients only).
//   - Client secrets are stored as SHA-256 (SPEC "Clients"), so a secret given in the file must be long;
//     inline JWK Sets hold public keys only (RFC 7517 §5, RFC 7591 §2: jwks and jwks_uri are exclusive).
//   - User passwords are stored as Argon2id (as/password); a plain password in the file is hashed on Apply.
//
// Apply writes a validated file into a store.Store in one transaction: it adds and updates, and never deletes
// (removing an entry from the file does not remove it from a persistent store). Applying the same file twice
// leaves the same state; existing users keep their ids, and a stored password hash that still verifies the
// file's password (with current parameters) is kept.
//
// Not supported: YAML anchors and aliases, merge keys, several documents in one file, client keys beyond
// SCHEMA.md (for example token_endpoint_auth_signing_alg: it is inferred from the first key), deleting
// records, secrets read from the environment.
package bootstrap
