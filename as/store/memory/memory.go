// Package memory is the in-memory Store: for development, tests and demos. Nothing survives a restart.
//
// One mutex guards everything. A transaction (storage.Transactional) holds that mutex from BeginTX to
// Commit or Rollback and records an undo log, so fosite's multi-step changes (code redemption, refresh
// rotation) are atomic here just as they are in PostgreSQL.
package memory

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/storage"

	"github.com/ddls/mcpauth/as/store"
)

var (
	_ store.Store                   = (*Store)(nil)
	_ oauth2.CoreStorage            = (*Store)(nil)
	_ oauth2.TokenRevocationStorage = (*Store)(nil)
	_ pkce.PKCERequestStorage       = (*Store)(nil)
	_ storage.Transactional         = (*Store)(nil)
)

type tokenRow struct {
	data      []byte
	requestID string
	accessSig string // refresh tokens: the access token issued with it
	active    bool
	expiresAt time.Time
	rotatedAt time.Time
	revokedAt time.Time
}

type consentKey struct{ user, client, resource string }

// Store is the in-memory store.
type Store struct {
	mu   sync.Mutex
	opts store.Options
	now  func() time.Time

	resources map[string]store.Resource
	orgs      map[string]store.Organization
	conns     map[string]store.Connection
	users     map[string]store.User
	usernames map[string]string
	clients   map[string]store.Client
	keys      []store.SigningKey
	sessions  map[string]store.BrowserSession
	consents  map[consentKey]store.Consent
	jtis      map[string]time.Time

	codes   map[string]tokenRow
	access  map[string]tokenRow
	refresh map[string]tokenRow
	pkce    map[string]tokenRow

	writes int
}

// New returns an empty store.
func New(opts store.Options) *Store {
	return &Store{
		opts:      opts,
		now:       opts.Clock(),
		resources: map[string]store.Resource{},
		orgs:      map[string]store.Organization{},
		conns:     map[string]store.Connection{},
		users:     map[string]store.User{},
		usernames: map[string]string{},
		clients:   map[string]store.Client{},
		sessions:  map[string]store.BrowserSession{},
		consents:  map[consentKey]store.Consent{},
		jtis:      map[string]time.Time{},
		codes:     map[string]tokenRow{},
		access:    map[string]tokenRow{},
		refresh:   map[string]tokenRow{},
		pkce:      map[string]tokenRow{},
	}
}

// --- transactions ---

type txKey struct{}

type tx struct {
	s    *Store
	undo []func()
	done bool
}

func (s *Store) txFrom(ctx context.Context) *tx {
	t, _ := ctx.Value(txKey{}).(*tx)
	if t == nil || t.s != s || t.done {
		return nil
	}
	return t
}

// lock takes the store mutex unless ctx carries this store's open transaction (which holds it already).
func (s *Store) lock(ctx context.Context) (*tx, func()) {
	if t := s.txFrom(ctx); t != nil {
		return t, func() {}
	}
	s.mu.Lock()
	return nil, s.mu.Unlock
}

// BeginTX implements storage.Transactional. Nested calls join the open transaction.
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	if s.txFrom(ctx) != nil {
		return ctx, nil
	}
	s.mu.Lock()
	return context.WithValue(ctx, txKey{}, &tx{s: s}), nil
}

// Commit implements storage.Transactional.
func (s *Store) Commit(ctx context.Context) error {
	if t := s.txFrom(ctx); t != nil {
		t.done = true
		s.mu.Unlock()
	}
	return nil
}

// Rollback implements storage.Transactional.
func (s *Store) Rollback(ctx context.Context) error {
	if t := s.txFrom(ctx); t != nil {
		for i := len(t.undo) - 1; i >= 0; i-- {
			t.undo[i]()
		}
		t.done = true
		s.mu.Unlock()
	}
	return nil
}

// put sets m[k] = v, recording the previous state in the transaction's undo log.
func put[K comparable, V any](t *tx, m map[K]V, k K, v V) {
	remember(t, m, k)
	m[k] = v
}

func del[K comparable, V any](t *tx, m map[K]V, k K) {
	remember(t, m, k)
	delete(m, k)
}

// onRollback records an undo step for state that is not a map entry.
func (t *tx) onRollback(f func()) {
	if t != nil {
		t.undo = append(t.undo, f)
	}
}

func remember[K comparable, V any](t *tx, m map[K]V, k K) {
	if t == nil {
		return
	}
	old, had := m[k]
	t.undo = append(t.undo, func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	})
}

func (s *Store) Ping(context.Context) error { return nil }
func (s *Store) Close()                     {}

// --- resources, organizations, connections ---

func (s *Store) UpsertResource(ctx context.Context, r store.Resource) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	r.Scopes = slices.Clone(r.Scopes)
	put(t, s.resources, r.URI, r)
	return nil
}

func (s *Store) GetResource(ctx context.Context, uri string) (store.Resource, error) {
	_, unlock := s.lock(ctx)
	defer unlock()
	r, ok := s.resources[uri]
	if !ok {
		return store.Resource{}, fosite.ErrNotFound
	}
	r.Scopes = slices.Clone(r.Scopes)
	return r, nil
}

func (s *Store) ListResources(ctx context.Context) ([]store.Resource, error) {
	_, unlock := s.lock(ctx)
	defer unlock()
	out := make([]store.Resource, 0, len(s.resources))
	for _, r := range s.resources {
		r.Scopes = slices.Clone(r.Scopes)
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URI < out[j].URI })
	return out, nil
}

func (s *Store) UpsertOrganization(ctx context.Context, o store.Organization) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	put(t, s.orgs, o.ID, o)
	return nil
}

func (s *Store) GetOrganization(ctx context.Context, id string) (store.Organization, error) {
	_, unlock := s.lock(ctx)
	defer unlock()
	o, ok := s.orgs[id]
	if !ok {
		return o, fosite.ErrNotFound
	}
	return o, nil
}

func (s *Store) ListOrganizations(ctx context.Context) ([]store.Organization, error) {
	_, unlock := s.lock(ctx)
	defer unlock()
	out := make([]store.Organization, 0, len(s.orgs))
	for _, o := range s.orgs {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *Store) DeleteOrganization(ctx context.Context, id string) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	if _, ok := s.orgs[id]; !ok {
		return fosite.ErrNotFound
	}
	for _, c := range s.clients {
		if c.OrgID == id {
			return store.ErrConflict // clients still belong to it
		}
	}
	for cid, c := range s.conns {
		if c.OrgID == id {
			del(t, s.conns, cid)
		}
	}
	for uid, u := range s.users {
		if i := slices.IndexFunc(u.Organizations, func(m store.Membership) bool { return m.OrgID == id }); i >= 0 {
			u.Organizations = slices.Delete(slices.Clone(u.Organizations), i, i+1)
			put(t, s.users, uid, u)
		}
	}
	del(t, s.orgs, id)
	return nil
}

func cloneConn(c store.Connection) store.Connection {
	c.Resources = slices.Clone(c.Resources)
	c.Contract = slices.Clone(c.Contract)
	return c
}

func (s *Store) UpsertConnection(ctx context.Context, c store.Connection) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	if _, ok := s.orgs[c.OrgID]; !ok {
		return fosite.ErrNotFound
	}
	if old, ok := s.conns[c.ID]; ok && old.OrgID != c.OrgID {
		return store.ErrConflict // a connection id is global; it cannot move between organizations
	}
	put(t, s.conns, c.ID, cloneConn(c))
	return nil
}

func (s *Store) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	_, unlock := s.lock(ctx)
	defer unlock()
	c, ok := s.conns[id]
	if !ok {
		return c, fosite.ErrNotFound
	}
	return cloneConn(c), nil
}

func (s *Store) ListConnections(ctx context.Context, orgID string) ([]store.Connection, error) {
	_, unlock := s.lock(ctx)
	defer unlock()
	out := []store.Connection{}
	for _, c := range s.conns {
		if orgID == "" || c.OrgID == orgID {
			out = append(out, cloneConn(c))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *Store) DeleteConnection(ctx context.Context, id string) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	if _, ok := s.conns[id]; !ok {
		return fosite.ErrNotFound
	}
	del(t, s.conns, id)
	return nil
}

// --- users ---

func cloneUser(u store.User) store.User {
	u.Organizations = slices.Clone(u.Organizations)
	return u
}

// checkMemberships: every organization must exist (fosite.ErrNotFound) and appear once (ErrConflict), as
// the PostgreSQL foreign and primary keys on memberships demand.
func (s *Store) checkMemberships(u store.User) error {
	for i, m := range u.Organizations {
		if _, ok := s.orgs[m.OrgID]; !ok {
			return fosite.ErrNotFound
		}
		if slices.ContainsFunc(u.Organizations[:i], func(o store.Membership) bool { return o.OrgID == m.OrgID }) {
			return store.ErrConflict
		}
	}
	return nil
}

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	if _, ok := s.usernames[u.Username]; ok {
		return store.ErrConflict
	}
	if _, ok := s.users[u.ID]; ok {
		return store.ErrConflict
	}
	if err := s.checkMemberships(u); err != nil {
		return err
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now().UTC()
	}
	put(t, s.users, u.ID, cloneUser(u))
	put(t, s.usernames, u.Username, u.ID)
	return nil
}

func (s *Store) UpsertUser(ctx context.Context, u store.User) (store.User, error) {
	t, unlock := s.lock(ctx)
	defer unlock()
	if err := s.checkMemberships(u); err != nil {
		return store.User{}, err
	}
	if id, ok := s.usernames[u.Username]; ok {
		old := s.users[id]
		u.ID, u.CreatedAt = old.ID, old.CreatedAt
	} else if _, taken := s.users[u.ID]; taken {
		return store.User{}, store.ErrConflict
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now().UTC()
	}
	put(t, s.users, u.ID, cloneUser(u))
	put(t, s.usernames, u.Username, u.ID)
	return cloneUser(u), nil
}

func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	_, unlock := s.lock(ctx)
	defer unlock()
	u, ok := s.users[id]
	if !ok {
		return u, fosite.ErrNotFound
	}
	return cloneUser(u), nil
}

func (s *Store) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	_, unlock := s.lock(ctx)
	defer unlock()
	id, ok := s.usernames[username]
	if !ok {
		return store.User{}, fosite.ErrNotFound
	}
	return cloneUser(s.users[id]), nil
}

func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	_, unlock := s.lock(ctx)
	defer unlock()
	out := make([]store.User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, cloneUser(u))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

// --- clients ---

func cloneClient(c store.Client) store.Client {
	c.SecretHash = slices.Clone(c.SecretHash)
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.ResponseTypes = slices.Clone(c.ResponseTypes)
	c.Scopes = slices.Clone(c.Scopes)
	c.Resources = slices.Clone(c.Resources)
	c.Connections = slices.Clone(c.Connections)
	c.JWKS = slices.Clone(c.JWKS)
	return c
}

func (s *Store) checkClientRefs(c store.Client) error {
	if c.OrgID != "" {
		if _, ok := s.orgs[c.OrgID]; !ok {
			return fosite.ErrNotFound
		}
	}
	return nil
}

func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	if _, ok := s.clients[c.ID]; ok {
		return store.ErrConflict
	}
	if err := s.checkClientRefs(c); err != nil {
		return err
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.now().UTC()
	}
	put(t, s.clients, c.ID, cloneClient(c))
	return nil
}

func (s *Store) UpsertClient(ctx context.Context, c store.Client) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	if err := s.checkClientRefs(c); err != nil {
		return err
	}
	if old, ok := s.clients[c.ID]; ok {
		c.CreatedAt = old.CreatedAt
	} else if c.CreatedAt.IsZero() {
		c.CreatedAt = s.now().UTC()
	}
	put(t, s.clients, c.ID, cloneClient(c))
	return nil
}

func (s *Store) GetClientRecord(ctx context.Context, id string) (store.Client, error) {
	_, unlock := s.lock(ctx)
	defer unlock()
	c, ok := s.clients[id]
	if !ok {
		return c, fosite.ErrNotFound
	}
	return cloneClient(c), nil
}

func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	_, unlock := s.lock(ctx)
	defer unlock()
	out := make([]store.Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, cloneClient(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *Store) DeleteClient(ctx context.Context, id string) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	if _, ok := s.clients[id]; !ok {
		return fosite.ErrNotFound
	}
	for k := range s.consents {
		if k.client == id {
			del(t, s.consents, k) // consents belong to the client (ON DELETE CASCADE in PostgreSQL)
		}
	}
	del(t, s.clients, id)
	return nil
}

// GetClient implements fosite.ClientManager.
func (s *Store) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := s.GetClientRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	return store.NewFositeClient(c), nil
}

// ClientAssertionJWTValid implements fosite.ClientManager (RFC 7523 §3 item 7: a jti is used once).
func (s *Store) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	_, unlock := s.lock(ctx)
	defer unlock()
	if exp, ok := s.jtis[jti]; ok && exp.After(s.now()) {
		return fosite.ErrJTIKnown
	}
	return nil
}

// SetClientAssertionJWT implements fosite.ClientManager.
func (s *Store) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	if e, ok := s.jtis[jti]; ok && e.After(s.now()) {
		return fosite.ErrJTIKnown
	}
	put(t, s.jtis, jti, exp) // expired entries go in the periodic purge, not in a sweep per call
	s.wrote(t)
	return nil
}

// --- keys, browser sessions, consents ---

func (s *Store) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	for _, e := range s.keys {
		if e.KID == k.KID {
			return store.ErrConflict
		}
	}
	k.PublicJWK = slices.Clone(k.PublicJWK)
	k.PrivateSealed = slices.Clone(k.PrivateSealed)
	// A new backing array, so the undo step can restore the old slice untouched by the sort.
	old := s.keys
	keys := append(slices.Clone(old), k)
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].CreatedAt.Before(keys[j].CreatedAt) })
	s.keys = keys
	t.onRollback(func() { s.keys = old })
	return nil
}

func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	_, unlock := s.lock(ctx)
	defer unlock()
	out := make([]store.SigningKey, len(s.keys))
	for i, k := range s.keys {
		k.PublicJWK = slices.Clone(k.PublicJWK)
		k.PrivateSealed = slices.Clone(k.PrivateSealed)
		out[i] = k
	}
	return out, nil
}

func (s *Store) CreateBrowserSession(ctx context.Context, bs store.BrowserSession) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	if _, ok := s.sessions[bs.IDHash]; ok {
		return store.ErrConflict
	}
	if _, ok := s.users[bs.UserID]; !ok {
		return fosite.ErrNotFound
	}
	put(t, s.sessions, bs.IDHash, bs)
	return nil
}

func (s *Store) GetBrowserSession(ctx context.Context, idHash string) (store.BrowserSession, error) {
	t, unlock := s.lock(ctx)
	defer unlock()
	bs, ok := s.sessions[idHash]
	if !ok {
		return bs, fosite.ErrNotFound
	}
	if !bs.ExpiresAt.After(s.now()) {
		del(t, s.sessions, idHash)
		return store.BrowserSession{}, fosite.ErrNotFound
	}
	return bs, nil
}

func (s *Store) DeleteBrowserSession(ctx context.Context, idHash string) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	del(t, s.sessions, idHash)
	return nil
}

func cloneConsent(c store.Consent) store.Consent {
	c.Scopes = slices.Clone(c.Scopes)
	c.Connections = slices.Clone(c.Connections)
	return c
}

func (s *Store) UpsertConsent(ctx context.Context, c store.Consent) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	if _, ok := s.users[c.UserID]; !ok {
		return fosite.ErrNotFound
	}
	if _, ok := s.clients[c.ClientID]; !ok {
		return fosite.ErrNotFound
	}
	put(t, s.consents, consentKey{c.UserID, c.ClientID, c.Resource}, cloneConsent(c))
	return nil
}

func (s *Store) GetConsent(ctx context.Context, userID, clientID, resource string) (store.Consent, error) {
	_, unlock := s.lock(ctx)
	defer unlock()
	c, ok := s.consents[consentKey{userID, clientID, resource}]
	if !ok {
		return c, fosite.ErrNotFound
	}
	return cloneConsent(c), nil
}

func (s *Store) DeleteConsent(ctx context.Context, userID, clientID, resource string) error {
	t, unlock := s.lock(ctx)
	defer unlock()
	k := consentKey{userID, clientID, resource}
	if _, ok := s.consents[k]; !ok {
		return fosite.ErrNotFound
	}
	del(t, s.consents, k)
	return nil
}
