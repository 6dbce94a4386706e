// Package store defines what the authorization server keeps and the contract both stores honour.
//
// Two implementations satisfy Store: as/store/memory (development, tests, demos) and as/store/postgres
// (production). One conformance suite, as/store/storetest, runs against both.
//
// Besides the domain records (resources, organizations, connections, users, clients, signing keys, browser
// sessions, consents), a Store implements fosite's storage interfaces for authorization codes, access and
// refresh tokens and PKCE sessions, and fosite's storage.Transactional: fosite opens a transaction around code
// redemption and refresh rotation, and the store carries it in the context.
//
// Contract details fosite relies on (https://github.com/ory/fosite handler/oauth2/storage.go):
//   - A used authorization code is marked, not deleted: GetAuthorizeCodeSession then returns the original
//     request together with fosite.ErrInvalidatedAuthorizeCode, so the caller can revoke what it issued
//     (RFC 6749 §4.1.2). InvalidateAuthorizeCodeSession on an already used code returns ErrCodeAlreadyUsed,
//     so of two concurrent redemptions exactly one succeeds.
//   - Refresh tokens are rotated, never deleted: RotateRefreshToken marks the presented token used. Within
//     Options.RefreshGracePeriod of that rotation GetRefreshTokenSession still returns the request (a retry by a
//     client that refreshed concurrently); after it, or once the family was revoked, it returns the request with
//     fosite.ErrInactiveToken, which makes fosite revoke the whole family (RFC 6819 §5.2.2.3, OAuth 2.1 §4.3.1).
//   - RevokeRefreshToken and RevokeAccessToken act on the whole grant family (the request ID).
//   - Missing rows are fosite.ErrNotFound; unique violations are ErrConflict.
package store
