package bootstrap

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ddls/mcpauth/as/password"
	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/as/store/memory"
)

// fast keeps Argon2id cheap in tests; production uses password.DefaultParams.
var fast = ApplyOptions{PasswordParams: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}

const examplePath = "../../examples/bootstrap.yaml"

type snapshot struct {
	Resources []store.Resource
	Orgs      []store.Organization
	Conns     []store.Connection
	Users     []store.User
	Clients   []store.Client
}

func snap(t *testing.T, st store.Store) snapshot {
	t.Helper()
	ctx := context.Background()
	var s snapshot
	var err error
	if s.Resources, err = st.ListResources(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Orgs, err = st.ListOrganizations(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Conns, err = st.ListConnections(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if s.Users, err = st.ListUsers(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Clients, err = st.ListClients(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s snapshot) empty() bool {
	return len(s.Resources)+len(s.Orgs)+len(s.Conns)+len(s.Users)+len(s.Clients) == 0
}

func loadExample(t *testing.T) *File {
	t.Helper()
	f, err := Load(examplePath)
	if err != nil {
		t.Fatalf("examples/bootstrap.yaml: %v", err)
	}
	return f
}

func mustParse(t *testing.T, doc string) *File {
	t.Helper()
	f, err := Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestExampleLoadsAndApplies(t *testing.T) {
	ctx := context.Background()
	f := loadExample(t)
	st := memory.New(store.Options{})
	if err := Apply(ctx, st, f, fast); err != nil {
		t.Fatal(err)
	}

	r, err := st.GetResource(ctx, "http://localhost:8000/mcp")
	if err != nil {
		t.Fatal(err)
	}
	if r.AccessTokenTTL != 10*time.Minute || !reflect.DeepEqual(r.DefaultScopes(), []string{"mcp:tools"}) || !r.HasScope("mcp:admin") {
		t.Errorf("resource = %+v", r)
	}

	conns, _ := st.ListConnections(ctx, "org_acme")
	if len(conns) != 2 || conns[0].ID != "conn_github" || conns[1].Kind != "postgres" {
		t.Errorf("org_acme connections = %+v", conns)
	}

	alice, err := st.GetUserByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^usr_[a-z2-7]{26}$`).MatchString(alice.ID) {
		t.Errorf("user id %q is not usr_ + 16 random bytes in base32", alice.ID)
	}
	if ok, err := password.Verify("correct horse battery staple", alice.PasswordHash); !ok || err != nil {
		t.Errorf("alice's password does not verify: %v, %v", ok, err)
	}
	if !reflect.DeepEqual(alice.Organizations, []store.Membership{{OrgID: "org_acme", Role: "admin"}}) {
		t.Errorf("alice memberships = %+v", alice.Organizations)
	}
	bob, _ := st.GetUserByUsername(ctx, "bob")
	if !reflect.DeepEqual(bob.Organizations, []store.Membership{{OrgID: "org_acme", Role: "member"}, {OrgID: "org_globex", Role: "member"}}) {
		t.Errorf("bob memberships = %+v (file order, role default member)", bob.Organizations)
	}

	cli, err := st.GetClientRecord(ctx, "demo-cli")
	if err != nil {
		t.Fatal(err)
	}
	if !cli.Public || cli.TokenEndpointAuthMethod != "none" || cli.SecretHash != nil ||
		!reflect.DeepEqual(cli.GrantTypes, []string{"authorization_code", "refresh_token"}) ||
		!reflect.DeepEqual(cli.Scopes, []string{"mcp:tools", "mcp:admin", "offline_access"}) ||
		!reflect.DeepEqual(cli.RedirectURIs, []string{"http://127.0.0.1:9998/callback"}) ||
		!reflect.DeepEqual(cli.ResponseTypes, []string{"code"}) {
		t.Errorf("demo-cli = %+v", cli)
	}
	svc, err := st.GetClientRecord(ctx, "svc-reporter")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("s3cr3t-given-only-in-bootstrap"))
	if svc.Public || svc.TokenEndpointAuthMethod != "client_secret_basic" || !reflect.DeepEqual(svc.SecretHash, sum[:]) ||
		svc.OrgID != "org_acme" || !reflect.DeepEqual(svc.Connections, []string{"conn_github"}) ||
		!reflect.DeepEqual(svc.GrantTypes, []string{"client_credentials"}) {
		t.Errorf("svc-reporter = %+v", svc)
	}
	// The fosite view authenticates with the same hash.
	fc, err := st.GetClient(ctx, "svc-reporter")
	if err != nil || !reflect.DeepEqual(fc.GetHashedSecret(), sum[:]) {
		t.Errorf("GetClient = %v, %v", fc, err)
	}
}

func TestApplyIdempotent(t *testing.T) {
	ctx := context.Background()
	f := loadExample(t)
	st := memory.New(store.Options{})
	if err := Apply(ctx, st, f, fast); err != nil {
		t.Fatal(err)
	}
	first := snap(t, st)
	if err := Apply(ctx, st, f, fast); err != nil {
		t.Fatal(err)
	}
	// Same ids, same password hashes (not re-hashed), same created_at, same everything.
	if second := snap(t, st); !reflect.DeepEqual(first, second) {
		t.Fatalf("second apply changed the state:\nfirst  %+v\nsecond %+v", first, second)
	}
	// Re-reading the file gives the same result too.
	if err := Apply(ctx, st, loadExample(t), fast); err != nil {
		t.Fatal(err)
	}
	if third := snap(t, st); !reflect.DeepEqual(first, third) {
		t.Fatal("applying a freshly loaded file changed the state")
	}
}

func TestApplyUpdatesExistingRows(t *testing.T) {
	ctx := context.Background()
	data, err := readExample()
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New(store.Options{})
	if err := Apply(ctx, st, mustParse(t, data), fast); err != nil {
		t.Fatal(err)
	}
	before := snap(t, st)

	changed := strings.NewReplacer(
		"password: correct horse battery staple", "password: a brand new passphrase",
		"access_token_ttl: 10m", "access_token_ttl: 5m",
		"scopes: [mcp:tools]\n    dpop_bound_access_tokens: false", "scopes: [mcp:tools, mcp:admin]\n    dpop_bound_access_tokens: true",
		"      - {id: org_globex, role: member}", "      - {id: org_globex, role: admin}",
	).Replace(data)
	if changed == data {
		t.Fatal("replacements did not apply")
	}
	if err := Apply(ctx, st, mustParse(t, changed), fast); err != nil {
		t.Fatal(err)
	}
	after := snap(t, st)

	if after.Resources[0].AccessTokenTTL != 5*time.Minute {
		t.Errorf("ttl not updated: %v", after.Resources[0].AccessTokenTTL)
	}
	byName := func(s snapshot, name string) store.User {
		for _, u := range s.Users {
			if u.Username == name {
				return u
			}
		}
		t.Fatalf("no user %s", name)
		return store.User{}
	}
	a0, a1 := byName(before, "alice"), byName(after, "alice")
	if a0.ID != a1.ID || !a0.CreatedAt.Equal(a1.CreatedAt) {
		t.Errorf("alice's id or created_at changed: %s → %s", a0.ID, a1.ID)
	}
	if a0.PasswordHash == a1.PasswordHash {
		t.Error("alice's hash was kept although her password changed")
	}
	if ok, _ := password.Verify("a brand new passphrase", a1.PasswordHash); !ok {
		t.Error("alice's new password does not verify")
	}
	b0, b1 := byName(before, "bob"), byName(after, "bob")
	if b0.PasswordHash != b1.PasswordHash {
		t.Error("bob's hash changed although his password did not")
	}
	if b1.Organizations[1].Role != "admin" {
		t.Errorf("bob's membership not updated: %+v", b1.Organizations)
	}
	svc, _ := st.GetClientRecord(ctx, "svc-reporter")
	if !reflect.DeepEqual(svc.Scopes, []string{"mcp:tools", "mcp:admin"}) || !svc.DPoPBoundAccessTokens {
		t.Errorf("svc-reporter not updated: %+v", svc)
	}
}

func readExample() (string, error) {
	f, err := Load(examplePath) // validates before we edit the text
	if err != nil || f == nil {
		return "", err
	}
	b, err := os.ReadFile(examplePath)
	return string(b), err
}

func TestApplyRehashesOutdatedHash(t *testing.T) {
	ctx := context.Background()
	doc := prelude + "users:\n  - {username: a, password: aaaaaaaa}\n"
	st := memory.New(store.Options{})
	if err := Apply(ctx, st, mustParse(t, doc), fast); err != nil {
		t.Fatal(err)
	}
	u0, _ := st.GetUserByUsername(ctx, "a")
	stronger := ApplyOptions{PasswordParams: password.Params{Memory: 128, Iterations: 1, Parallelism: 1}}
	if err := Apply(ctx, st, mustParse(t, doc), stronger); err != nil {
		t.Fatal(err)
	}
	u1, _ := st.GetUserByUsername(ctx, "a")
	if p, _ := password.ParamsOf(u1.PasswordHash); p != stronger.PasswordParams {
		t.Errorf("hash not upgraded to the new parameters: %s", u1.PasswordHash)
	}
	if u0.ID != u1.ID {
		t.Error("user id changed")
	}
}

func TestApplyPasswordHashStoredAsGiven(t *testing.T) {
	ctx := context.Background()
	h, err := password.HashWithParams("pre-hashed password", fast.PasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New(store.Options{})
	if err := Apply(ctx, st, mustParse(t, prelude+"users:\n  - {username: a, password_hash: '"+h+"'}\n"), fast); err != nil {
		t.Fatal(err)
	}
	if u, _ := st.GetUserByUsername(ctx, "a"); u.PasswordHash != h {
		t.Errorf("hash = %q, want %q", u.PasswordHash, h)
	}
}

// failingStore makes one kind of write fail, to check that Apply leaves nothing behind.
type failingStore struct {
	store.Store
	failClient string
	failUser   string
}

func (s failingStore) UpsertClient(ctx context.Context, c store.Client) error {
	if c.ID == s.failClient {
		return errors.New("injected failure")
	}
	return s.Store.UpsertClient(ctx, c)
}

func (s failingStore) UpsertUser(ctx context.Context, u store.User) (store.User, error) {
	if u.Username == s.failUser {
		return store.User{}, errors.New("injected failure")
	}
	return s.Store.UpsertUser(ctx, u)
}

func TestApplyAtomic(t *testing.T) {
	ctx := context.Background()
	f := loadExample(t)
	for _, fs := range []failingStore{
		{failClient: "svc-reporter"}, // the very last write
		{failUser: "bob"},
	} {
		mem := memory.New(store.Options{})
		fs.Store = mem
		err := Apply(ctx, fs, f, fast)
		if err == nil || !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("Apply = %v, want the injected failure", err)
		}
		if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "correct horse") {
			t.Errorf("error carries a secret: %v", err)
		}
		if s := snap(t, mem); !s.empty() {
			t.Errorf("a failed apply left rows behind: %+v", s)
		}
	}

	// Over an existing state, a failed apply leaves that state exactly as it was.
	mem := memory.New(store.Options{})
	if err := Apply(ctx, mem, f, fast); err != nil {
		t.Fatal(err)
	}
	before := snap(t, mem)
	data, _ := readExample()
	changed := mustParse(t, strings.ReplaceAll(data, "access_token_ttl: 10m", "access_token_ttl: 1m"))
	if err := Apply(ctx, failingStore{Store: mem, failClient: "svc-reporter"}, changed, fast); err == nil {
		t.Fatal("Apply succeeded")
	}
	if after := snap(t, mem); !reflect.DeepEqual(before, after) {
		t.Errorf("failed apply changed the state:\nbefore %+v\nafter  %+v", before, after)
	}
	// And the store is usable afterwards (the transaction was closed).
	if err := Apply(ctx, mem, changed, fast); err != nil {
		t.Fatal(err)
	}
}

func TestApplyConnectionOwnedByAnotherOrganization(t *testing.T) {
	ctx := context.Background()
	st := memory.New(store.Options{})
	if err := st.UpsertOrganization(ctx, store.Organization{ID: "org_other"}); err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertConnection(ctx, store.Connection{ID: "conn_github", OrgID: "org_other", Kind: "github"}); err != nil {
		t.Fatal(err)
	}
	err := Apply(ctx, st, loadExample(t), fast)
	if err == nil || !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), `organizations[0].connections[0] "conn_github"`) {
		t.Fatalf("Apply = %v, want a conflict naming the connection", err)
	}
	if _, err := st.GetResource(ctx, "http://localhost:8000/mcp"); err == nil {
		t.Error("resource written although the apply failed")
	}
}

func TestApplyValidatesHandBuiltFile(t *testing.T) {
	ctx := context.Background()
	f := &File{
		Resources: []Resource{{URI: "HTTPS://MCP.example.com/mcp/", Scopes: []Scope{{Name: "read", Default: true}}}},
		Clients:   []Client{{ClientID: "c", Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"}, Resources: []string{"https://mcp.example.com/mcp"}}},
	}
	st := memory.New(store.Options{})
	if err := Apply(ctx, st, f, fast); err != nil {
		t.Fatal(err)
	}
	if f.Resources[0].URI != "HTTPS://MCP.example.com/mcp/" || f.Clients[0].TokenEndpointAuthMethod != "" {
		t.Error("Apply modified the caller's File")
	}
	if c, err := st.GetClientRecord(ctx, "c"); err != nil || c.TokenEndpointAuthMethod != "none" || !reflect.DeepEqual(c.Scopes, []string{"read"}) {
		t.Errorf("client = %+v, %v", c, err)
	}
	if _, err := st.GetResource(ctx, "https://mcp.example.com/mcp"); err != nil {
		t.Errorf("resource not stored in canonical form: %v", err)
	}

	bad := &File{Clients: []Client{{ClientID: "c", Public: true, ClientSecret: "some-secret-value-123"}}}
	st = memory.New(store.Options{})
	err := Apply(ctx, st, bad, fast)
	var be *Error
	if !errors.As(err, &be) {
		t.Fatalf("Apply(invalid) = %v, want *Error", err)
	}
	if strings.Contains(err.Error(), "some-secret-value") {
		t.Errorf("error carries the secret: %v", err)
	}
	if !snap(t, st).empty() {
		t.Error("an invalid file wrote rows")
	}
	if err := Apply(ctx, st, nil, fast); err == nil {
		t.Error("Apply(nil) succeeded")
	}
}
