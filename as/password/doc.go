// Package password hashes and verifies local users' passwords with Argon2id.
//
// Argon2id is specified by RFC 9106 (https://www.rfc-editor.org/rfc/rfc9106). Hashes are stored in the PHC
// string format (https://github.com/P-H-C/phc-string-format/blob/master/phc-sf-spec.md) that the reference
// implementation and most libraries emit:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with salt and hash in unpadded standard base64. Verify accepts any well-formed Argon2id v=19 hash within
// bounds (so hashes made elsewhere, or with older parameters, still verify) and NeedsRehash says when a stored
// hash should be replaced after a successful login.
//
// Not supported: Argon2i and Argon2d (RFC 9106 §4 recommends Argon2id), Argon2 version 0x10, the optional
// PHC parameters keyid and data, and parameters beyond the bounds in MaxParams (a crafted hash must not make a
// login allocate gigabytes or spin for minutes).
//
// Client secrets are not passwords and must not use this package: they are high-entropy values stored as
// SHA-256 (see SPEC "Clients").
package password
