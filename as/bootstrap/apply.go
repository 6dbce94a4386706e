package bootstrap

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/password"
	"github.com/ddls/mcpauth/as/store"
)

// ApplyOptions tune Apply. The zero value is the production setting.
type ApplyOptions struct {
	// PasswordParams are the Argon2id parameters for hashing the file's plain passwords; the zero value means
	// password.DefaultParams(). Tests use small parameters to stay fast.
	PasswordParams password.Params
}

// Apply writes f into st in one transaction: resources, organizations and their connections, users with
// their memberships, then clients. It validates f first (a File built by hand gets the same checks as a
// parsed one; f itself is not modified). It adds and updates and never deletes. On any error nothing is
// written.
func Apply(ctx context.Context, st store.Store, f *File, opts ApplyOptions) (err error) {
	if f == nil {
		return errors.New("bootstrap: nil file")
	}
	g := f.clone()
	ps := &problems{file: g.Name, lines: g.lines}
	g.validate(ps)
	if err := ps.err(); err != nil {
		return err
	}
	params := opts.PasswordParams
	if params == (password.Params{}) {
		params = password.DefaultParams()
	}

	txCtx, err := st.BeginTX(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap: begin transaction: %w", err)
	}
	defer func() {
		if err != nil {
			if rbErr := st.Rollback(txCtx); rbErr != nil {
				err = errors.Join(err, fmt.Errorf("bootstrap: rollback: %w", rbErr))
			}
		}
	}()
	if err := apply(txCtx, st, g, params); err != nil {
		return err
	}
	if err := st.Commit(txCtx); err != nil {
		return fmt.Errorf("bootstrap: commit: %w", err)
	}
	return nil
}

func apply(ctx context.Context, st store.Store, f *File, params password.Params) error {
	for i, r := range f.Resources {
		err := st.UpsertResource(ctx, store.Resource{
			URI:            r.URI,
			Name:           r.Name,
			Scopes:         toStoreScopes(r.Scopes),
			RequireDPoP:    r.RequireDPoP,
			AccessTokenTTL: r.AccessTokenTTL,
		})
		if err != nil {
			return fmt.Errorf("bootstrap: resources[%d] %q: %w", i, r.URI, err)
		}
	}
	for i, o := range f.Organizations {
		if err := st.UpsertOrganization(ctx, store.Organization{ID: o.ID, Name: o.Name}); err != nil {
			return fmt.Errorf("bootstrap: organizations[%d] %q: %w", i, o.ID, err)
		}
		for j, c := range o.Connections {
			err := st.UpsertConnection(ctx, store.Connection{
				ID:        c.ID,
				OrgID:     o.ID,
				Name:      c.Name,
				Kind:      c.Kind,
				Resources: slices.Clone(c.Resources),
				Contract:  slices.Clone(c.Contract),
			})
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("bootstrap: organizations[%d].connections[%d] %q: the store has a connection with this id in another organization: %w", i, j, c.ID, err)
			}
			if err != nil {
				return fmt.Errorf("bootstrap: organizations[%d].connections[%d] %q: %w", i, j, c.ID, err)
			}
		}
	}
	for i, u := range f.Users {
		if err := applyUser(ctx, st, u, params); err != nil {
			return fmt.Errorf("bootstrap: users[%d] %q: %w", i, u.Username, err)
		}
	}
	for i, c := range f.Clients {
		if err := st.UpsertClient(ctx, toStoreClient(c)); err != nil {
			return fmt.Errorf("bootstrap: clients[%d] %q: %w", i, c.ClientID, err)
		}
	}
	return nil
}

func applyUser(ctx context.Context, st store.Store, u User, params password.Params) error {
	existing, err := st.GetUserByUsername(ctx, u.Username)
	switch {
	case errors.Is(err, fosite.ErrNotFound):
		existing = store.User{}
	case err != nil:
		return err
	}
	rec := store.User{
		ID:           existing.ID,
		Username:     u.Username,
		PasswordHash: u.PasswordHash,
	}
	for _, m := range u.Organizations {
		rec.Organizations = append(rec.Organizations, store.Membership{OrgID: m.ID, Role: m.Role})
	}
	if rec.ID == "" {
		if rec.ID, err = newUserID(); err != nil {
			return err
		}
	}
	if u.Password != "" {
		rec.PasswordHash, err = passwordHash(string(u.Password), existing.PasswordHash, params)
		if err != nil {
			return err
		}
	}
	_, err = st.UpsertUser(ctx, rec)
	return err
}

// passwordHash keeps the stored hash when it still verifies the file's password under the wanted
// parameters, so a restart neither re-hashes every user nor changes stored rows; otherwise it hashes anew.
func passwordHash(plain, stored string, params password.Params) (string, error) {
	if stored != "" && !password.NeedsRehashWithParams(stored, params) {
		if ok, err := password.Verify(plain, stored); err == nil && ok {
			return stored, nil
		}
	}
	h, err := password.HashWithParams(plain, params)
	if err != nil {
		// Never wrap anything that could carry the password; HashWithParams's errors do not.
		return "", fmt.Errorf("hashing the password: %w", err)
	}
	return h, nil
}

// newUserID returns "usr_" and 16 random bytes in lowercase unpadded base32 (26 characters).
func newUserID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a user id: %w", err)
	}
	return "usr_" + lowerBase32(b), nil
}

func lowerBase32(b []byte) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	return base32.NewEncoding(alphabet).WithPadding(base32.NoPadding).EncodeToString(b)
}

func toStoreScopes(in []Scope) []store.Scope {
	out := make([]store.Scope, len(in))
	for i, s := range in {
		out[i] = store.Scope{Name: s.Name, Default: s.Default}
	}
	return out
}

func toStoreClient(c Client) store.Client {
	rec := store.Client{
		ID:                      c.ClientID,
		Name:                    c.ClientName,
		Public:                  c.Public,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		RedirectURIs:            slices.Clone(c.RedirectURIs),
		GrantTypes:              slices.Clone(c.GrantTypes),
		Scopes:                  slices.Clone(c.Scopes),
		Resources:               slices.Clone(c.Resources),
		OrgID:                   c.Organization,
		Connections:             slices.Clone(c.Connections),
		JWKSURI:                 c.JWKSURI,
		DPoPBoundAccessTokens:   c.DPoPBoundAccessTokens,
	}
	if len(c.JWKS) > 0 {
		rec.JWKS = slices.Clone(c.JWKS)
	}
	if slices.Contains(c.GrantTypes, grantAuthorizationCode) {
		rec.ResponseTypes = []string{"code"}
	}
	switch {
	case c.ClientSecret != "":
		// SPEC "Clients": secrets are high-entropy values stored as SHA-256, not passwords.
		sum := sha256.Sum256([]byte(c.ClientSecret))
		rec.SecretHash = sum[:]
	case c.ClientSecretHash != "":
		rec.SecretHash, _ = hex.DecodeString(c.ClientSecretHash) // validated: 64 hex digits
	}
	return rec
}
