package store

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/storage"
)

// ErrConflict is returned when a record that must be unique already exists.
var ErrConflict = errors.New("store: already exists")

// ErrUnavailable marks errors that say the store cannot be reached right now (connection refused, the
// database restarting or out of connections), as opposed to a missing or conflicting record. Callers answer
// with "try again later" (503) rather than blaming the request.
var ErrUnavailable = errors.New("store: unavailable")

// ErrCodeAlreadyUsed is returned by InvalidateAuthorizeCodeSession when the code was already redeemed, for
// example by a concurrent request: exactly one redemption may win (RFC 6749 §4.1.2).
var ErrCodeAlreadyUsed = errors.New("store: authorization code already used")

// Store is everything the authorization server persists.
type Store interface {
	fosite.ClientManager
	oauth2.CoreStorage
	oauth2.TokenRevocationStorage
	pkce.PKCERequestStorage
	storage.Transactional

	// Resources (RFC 8707 targets).
	UpsertResource(ctx context.Context, r Resource) error
	GetResource(ctx context.Context, uri string) (Resource, error)
	ListResources(ctx context.Context) ([]Resource, error)

	// Organizations and their connections.
	UpsertOrganization(ctx context.Context, o Organization) error
	GetOrganization(ctx context.Context, id string) (Organization, error)
	ListOrganizations(ctx context.Context) ([]Organization, error)
	DeleteOrganization(ctx context.Context, id string) error
	UpsertConnection(ctx context.Context, c Connection) error
	GetConnection(ctx context.Context, id string) (Connection, error)
	ListConnections(ctx context.Context, orgID string) ([]Connection, error)
	DeleteConnection(ctx context.Context, id string) error

	// Users and memberships. UpsertUser matches on Username and keeps the existing ID.
	CreateUser(ctx context.Context, u User) error
	UpsertUser(ctx context.Context, u User) (User, error)
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByUsername(ctx context.Context, username string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)

	// Clients. GetClient (fosite) returns the same record as a fosite.Client.
	CreateClient(ctx context.Context, c Client) error
	UpsertClient(ctx context.Context, c Client) error
	GetClientRecord(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	DeleteClient(ctx context.Context, id string) error

	// Signing keys, oldest first.
	CreateSigningKey(ctx context.Context, k SigningKey) error
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)

	// Browser sessions, keyed by the SHA-256 of the cookie value.
	CreateBrowserSession(ctx context.Context, s BrowserSession) error
	GetBrowserSession(ctx context.Context, idHash string) (BrowserSession, error)
	DeleteBrowserSession(ctx context.Context, idHash string) error

	// Remembered consent per (user, client, resource).
	UpsertConsent(ctx context.Context, c Consent) error
	GetConsent(ctx context.Context, userID, clientID, resource string) (Consent, error)
	DeleteConsent(ctx context.Context, userID, clientID, resource string) error

	// Ping reports whether the store can serve requests (readiness).
	Ping(ctx context.Context) error
	Close()
}

// Options tune a store. The zero value is valid: no grace period, the real clock.
type Options struct {
	// RefreshGracePeriod is how long after a rotation the rotated refresh token may still be presented
	// (a retry by a client that refreshed concurrently). Zero disables the grace.
	RefreshGracePeriod time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Clock returns o.Now or time.Now.
func (o Options) Clock() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}
