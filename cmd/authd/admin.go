package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/ddls/mcpauth/internal/cli"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ddls/mcpauth/as"
	"github.com/ddls/mcpauth/as/password"
	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/as/store/postgres"
	"github.com/ddls/mcpauth/internal/oauthuri"
	"github.com/ddls/mcpauth/migrations"
)

// adminStore opens PostgreSQL for an administration command, migrating first so a fresh database works.
func adminStore(ctx context.Context, dbURL string) (*postgres.Store, error) {
	if dbURL == "" {
		return nil, errors.New("administration commands need PostgreSQL: set --database-url or DATABASE_URL (the in-memory store is configured with --bootstrap)")
	}
	if err := migrations.MigrateURL(ctx, dbURL); err != nil {
		return nil, redactURLError(err)
	}
	return postgres.Open(ctx, dbURL, store.Options{})
}

func sub(args []string, cmd string) (string, []string, error) {
	if len(args) == 0 {
		return "", nil, fmt.Errorf("missing subcommand: authd %s <create|list|delete> [flags]", cmd)
	}
	return args[0], args[1:], nil
}

func tw(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func cmdKeys(ctx context.Context, args []string, stdout io.Writer) error {
	verb, rest, err := sub(args, "keys")
	if err != nil {
		return err
	}
	if verb != "rotate" {
		return fmt.Errorf("unknown subcommand %q: authd keys rotate", verb)
	}
	fs := newFlags("keys rotate", stdout)
	dbURL := fs.String("database-url", cli.EnvOr("DATABASE_URL", ""), "PostgreSQL URL (DATABASE_URL)")
	lead := fs.Duration("lead", 15*time.Minute, "how long the key is published before it signs (longer than resource servers cache the JWKS)")
	alg := fs.String("signing-alg", cli.EnvOr("AUTHD_SIGNING_ALG", as.AlgES256), "algorithm of the new key")
	if err := parse(fs, rest); err != nil {
		return err
	}
	kek, err := as.ParseKEK(cli.EnvOr("AUTHD_KEK", ""))
	if err != nil {
		return fmt.Errorf("AUTHD_KEK: %w", err)
	}
	st, err := adminStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	kid, err := as.RotateSigningKey(ctx, st, kek, *alg, *lead)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added key %s: published now, signs from %s\n", kid, time.Now().Add(*lead).UTC().Format(time.RFC3339))
	return nil
}

func newSecret() string {
	var b [32]byte // 256 bits (SPEC "Clients")
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func cmdClients(ctx context.Context, args []string, stdout io.Writer) error {
	verb, rest, err := sub(args, "clients")
	if err != nil {
		return err
	}
	fs := newFlags("clients "+verb, stdout)
	dbURL := fs.String("database-url", cli.EnvOr("DATABASE_URL", ""), "PostgreSQL URL (DATABASE_URL)")
	switch verb {
	case "create":
		var c store.Client
		var redirects, grants, scopes, resources, conns strs
		fs.StringVar(&c.ID, "id", "", "client_id (required)")
		fs.StringVar(&c.Name, "name", "", "display name shown on the consent page")
		fs.BoolVar(&c.Public, "public", false, "public client (PKCE, no secret)")
		fs.StringVar(&c.TokenEndpointAuthMethod, "auth-method", "", "none, client_secret_basic (default for confidential), client_secret_post")
		fs.Var(&redirects, "redirect-uri", "redirect URI (repeatable)")
		fs.Var(&grants, "grant-type", "authorization_code, refresh_token, client_credentials (repeatable)")
		fs.Var(&scopes, "scope", "allowed scope (repeatable)")
		fs.Var(&resources, "resource", "allowed resource URI (repeatable, required)")
		fs.StringVar(&c.OrgID, "org", "", "owning organization")
		fs.Var(&conns, "connection", "assigned connection id (repeatable)")
		fs.BoolVar(&c.DPoPBoundAccessTokens, "dpop-bound", false, "require DPoP-bound access tokens")
		if err := parse(fs, rest); err != nil {
			return err
		}
		st, err := adminStore(ctx, *dbURL)
		if err != nil {
			return err
		}
		defer st.Close()
		c.RedirectURIs, c.GrantTypes, c.Scopes, c.Connections = redirects, grants, scopes, conns
		for _, r := range resources {
			canon, err := oauthuri.CanonicalResource(r)
			if err != nil {
				return fmt.Errorf("--resource %q: %v", r, err)
			}
			if _, err := st.GetResource(ctx, canon); err != nil {
				return fmt.Errorf("--resource %q: not a registered resource", r)
			}
			c.Resources = append(c.Resources, canon)
		}
		secret, err := prepareClient(&c)
		if err != nil {
			return err
		}
		if c.OrgID != "" {
			if _, err := st.GetOrganization(ctx, c.OrgID); err != nil {
				return fmt.Errorf("--org %q: no such organization", c.OrgID)
			}
			for _, id := range c.Connections {
				conn, err := st.GetConnection(ctx, id)
				if err != nil || conn.OrgID != c.OrgID {
					return fmt.Errorf("--connection %q: not a connection of %s", id, c.OrgID)
				}
			}
		} else if len(c.Connections) > 0 {
			return errors.New("--connection needs --org")
		}
		if err := st.CreateClient(ctx, c); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("client %q already exists", c.ID)
			}
			return err
		}
		fmt.Fprintf(stdout, "client_id: %s\n", c.ID)
		if secret != "" {
			fmt.Fprintf(stdout, "client_secret: %s\n(shown once; only its SHA-256 is stored)\n", secret)
		}
		return nil
	case "list":
		if err := parse(fs, rest); err != nil {
			return err
		}
		st, err := adminStore(ctx, *dbURL)
		if err != nil {
			return err
		}
		defer st.Close()
		cs, err := st.ListClients(ctx)
		if err != nil {
			return err
		}
		w := tw(stdout)
		fmt.Fprintln(w, "CLIENT_ID\tTYPE\tGRANTS\tRESOURCES\tORG")
		for _, c := range cs {
			kind := "confidential"
			if c.Public {
				kind = "public"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", c.ID, kind, strings.Join(c.GrantTypes, ","), strings.Join(c.Resources, ","), c.OrgID)
		}
		return w.Flush()
	case "delete":
		id := fs.String("id", "", "client_id (required)")
		if err := parse(fs, rest); err != nil {
			return err
		}
		st, err := adminStore(ctx, *dbURL)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.DeleteClient(ctx, *id); err != nil {
			return fmt.Errorf("delete %q: %w", *id, err)
		}
		fmt.Fprintf(stdout, "deleted client %s\n", *id)
		return nil
	}
	return fmt.Errorf("unknown subcommand %q: authd clients create|list|delete", verb)
}

// prepareClient validates an admin-created client, fills defaults and generates its secret.
func prepareClient(c *store.Client) (secret string, err error) {
	if c.ID == "" {
		return "", errors.New("--id is required")
	}
	if len(c.Resources) == 0 {
		return "", errors.New("at least one --resource is required")
	}
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{"authorization_code", "refresh_token"}
		if !c.Public && len(c.RedirectURIs) == 0 {
			c.GrantTypes = []string{"client_credentials"}
		}
	}
	for _, g := range c.GrantTypes {
		if !slices.Contains([]string{"authorization_code", "refresh_token", "client_credentials"}, g) {
			return "", fmt.Errorf("--grant-type %q is not supported", g)
		}
	}
	if slices.Contains(c.GrantTypes, "authorization_code") && len(c.RedirectURIs) == 0 {
		return "", errors.New("authorization_code needs at least one --redirect-uri")
	}
	for _, u := range c.RedirectURIs {
		if err := oauthuri.ValidateRedirectURI(u); err != nil {
			return "", err
		}
	}
	c.ResponseTypes = []string{"code"}
	if c.Public {
		if slices.Contains(c.GrantTypes, "client_credentials") {
			return "", errors.New("client_credentials needs a confidential client (RFC 6749 §4.4)")
		}
		if c.TokenEndpointAuthMethod != "" && c.TokenEndpointAuthMethod != "none" {
			return "", errors.New("a public client authenticates with 'none'")
		}
		c.TokenEndpointAuthMethod = "none"
		return "", nil
	}
	switch c.TokenEndpointAuthMethod {
	case "":
		c.TokenEndpointAuthMethod = "client_secret_basic"
	case "client_secret_basic", "client_secret_post":
	default:
		return "", fmt.Errorf("--auth-method %q: use client_secret_basic or client_secret_post (private_key_jwt clients come from the bootstrap file)", c.TokenEndpointAuthMethod)
	}
	secret = newSecret()
	c.SecretHash = as.HashClientSecret(secret)
	return secret, nil
}

func cmdUsers(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	verb, rest, err := sub(args, "users")
	if err != nil {
		return err
	}
	fs := newFlags("users "+verb, stdout)
	dbURL := fs.String("database-url", cli.EnvOr("DATABASE_URL", ""), "PostgreSQL URL (DATABASE_URL)")
	switch verb {
	case "create":
		username := fs.String("username", "", "username (required)")
		var orgs strs
		fs.Var(&orgs, "org", "membership as ORG_ID or ORG_ID:ROLE (repeatable)")
		if err := parse(fs, rest); err != nil {
			return err
		}
		if *username == "" {
			return errors.New("--username is required")
		}
		// The password comes on standard input, never as a flag: flags end up in shell history and ps.
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		pw := strings.TrimRight(line, "\r\n")
		if len(pw) < 8 {
			return errors.New("write the password (at least 8 characters) on standard input")
		}
		hash, err := password.Hash(pw)
		if err != nil {
			return err
		}
		u := store.User{ID: "usr_" + newSecret()[:22], Username: *username, PasswordHash: hash}
		for _, o := range orgs {
			id, role, _ := strings.Cut(o, ":")
			if role == "" {
				role = "member"
			}
			u.Organizations = append(u.Organizations, store.Membership{OrgID: id, Role: role})
		}
		st, err := adminStore(ctx, *dbURL)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.CreateUser(ctx, u); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("user %q already exists", *username)
			}
			return fmt.Errorf("create user: %w (do the organizations exist?)", err)
		}
		fmt.Fprintf(stdout, "created user %s (%s)\n", u.Username, u.ID)
		return nil
	case "list":
		if err := parse(fs, rest); err != nil {
			return err
		}
		st, err := adminStore(ctx, *dbURL)
		if err != nil {
			return err
		}
		defer st.Close()
		us, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		w := tw(stdout)
		fmt.Fprintln(w, "USERNAME\tID\tORGANIZATIONS")
		for _, u := range us {
			var ms []string
			for _, m := range u.Organizations {
				ms = append(ms, m.OrgID+":"+m.Role)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", u.Username, u.ID, strings.Join(ms, ","))
		}
		return w.Flush()
	}
	return fmt.Errorf("unknown subcommand %q: authd users create|list", verb)
}

func cmdOrgs(ctx context.Context, args []string, stdout io.Writer) error {
	verb, rest, err := sub(args, "orgs")
	if err != nil {
		return err
	}
	fs := newFlags("orgs "+verb, stdout)
	dbURL := fs.String("database-url", cli.EnvOr("DATABASE_URL", ""), "PostgreSQL URL (DATABASE_URL)")
	id := fs.String("id", "", "organization id")
	name := fs.String("name", "", "organization name (create)")
	if err := parse(fs, rest); err != nil {
		return err
	}
	st, err := adminStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	switch verb {
	case "create":
		if *id == "" {
			return errors.New("--id is required")
		}
		if err := st.UpsertOrganization(ctx, store.Organization{ID: *id, Name: *name}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "organization %s saved\n", *id)
		return nil
	case "list":
		os, err := st.ListOrganizations(ctx)
		if err != nil {
			return err
		}
		w := tw(stdout)
		fmt.Fprintln(w, "ID\tNAME")
		for _, o := range os {
			fmt.Fprintf(w, "%s\t%s\n", o.ID, o.Name)
		}
		return w.Flush()
	case "delete":
		if err := st.DeleteOrganization(ctx, *id); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("organization %q still owns clients; delete them first", *id)
			}
			return fmt.Errorf("delete %q: %w", *id, err)
		}
		fmt.Fprintf(stdout, "deleted organization %s\n", *id)
		return nil
	}
	return fmt.Errorf("unknown subcommand %q: authd orgs create|list|delete", verb)
}

func cmdConnections(ctx context.Context, args []string, stdout io.Writer) error {
	verb, rest, err := sub(args, "connections")
	if err != nil {
		return err
	}
	fs := newFlags("connections "+verb, stdout)
	dbURL := fs.String("database-url", cli.EnvOr("DATABASE_URL", ""), "PostgreSQL URL (DATABASE_URL)")
	var c store.Connection
	var resources, contract strs
	fs.StringVar(&c.ID, "id", "", "connection id, e.g. conn_github")
	fs.StringVar(&c.OrgID, "org", "", "owning organization (create; filter for list)")
	fs.StringVar(&c.Name, "name", "", "display name")
	fs.StringVar(&c.Kind, "kind", "", "kind, e.g. github, postgres, http")
	fs.Var(&resources, "resource", "resource it may be used from (repeatable)")
	fs.Var(&contract, "intent", "intent the contract allows (repeatable)")
	if err := parse(fs, rest); err != nil {
		return err
	}
	st, err := adminStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	switch verb {
	case "create":
		if c.ID == "" || c.OrgID == "" {
			return errors.New("--id and --org are required")
		}
		for _, r := range resources {
			canon, err := oauthuri.CanonicalResource(r)
			if err != nil {
				return fmt.Errorf("--resource %q: %v", r, err)
			}
			c.Resources = append(c.Resources, canon)
		}
		c.Contract = contract
		if err := st.UpsertConnection(ctx, c); err != nil {
			return fmt.Errorf("save connection: %w (does the organization exist?)", err)
		}
		fmt.Fprintf(stdout, "connection %s saved\n", c.ID)
		return nil
	case "list":
		cs, err := st.ListConnections(ctx, c.OrgID)
		if err != nil {
			return err
		}
		w := tw(stdout)
		fmt.Fprintln(w, "ID\tORG\tKIND\tNAME\tRESOURCES")
		for _, c := range cs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.OrgID, c.Kind, c.Name, strings.Join(c.Resources, ","))
		}
		return w.Flush()
	case "delete":
		if err := st.DeleteConnection(ctx, c.ID); err != nil {
			return fmt.Errorf("delete %q: %w", c.ID, err)
		}
		fmt.Fprintf(stdout, "deleted connection %s\n", c.ID)
		return nil
	}
	return fmt.Errorf("unknown subcommand %q: authd connections create|list|delete", verb)
}

func cmdResources(ctx context.Context, args []string, stdout io.Writer) error {
	verb, rest, err := sub(args, "resources")
	if err != nil {
		return err
	}
	fs := newFlags("resources "+verb, stdout)
	dbURL := fs.String("database-url", cli.EnvOr("DATABASE_URL", ""), "PostgreSQL URL (DATABASE_URL)")
	var r store.Resource
	var scopes strs
	fs.StringVar(&r.URI, "uri", "", "resource URI (the token audience)")
	fs.StringVar(&r.Name, "name", "", "display name")
	fs.Var(&scopes, "scope", "scope NAME or NAME:default (repeatable)")
	fs.BoolVar(&r.RequireDPoP, "require-dpop", false, "tokens for this resource must be DPoP-bound")
	fs.DurationVar(&r.AccessTokenTTL, "access-token-ttl", 0, "access-token lifetime (0: server default)")
	if err := parse(fs, rest); err != nil {
		return err
	}
	st, err := adminStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	switch verb {
	case "create":
		canon, err := oauthuri.CanonicalResource(r.URI)
		if err != nil {
			return fmt.Errorf("--uri: %v", err)
		}
		r.URI = canon
		for _, s := range scopes {
			name, def, _ := strings.Cut(s, ":")
			r.Scopes = append(r.Scopes, store.Scope{Name: name, Default: def == "default"})
		}
		if err := st.UpsertResource(ctx, r); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "resource %s saved\n", r.URI)
		return nil
	case "list":
		rs, err := st.ListResources(ctx)
		if err != nil {
			return err
		}
		w := tw(stdout)
		fmt.Fprintln(w, "URI\tNAME\tSCOPES\tDPOP\tTTL")
		for _, r := range rs {
			var ss []string
			for _, s := range r.Scopes {
				if s.Default {
					ss = append(ss, s.Name+"*")
				} else {
					ss = append(ss, s.Name)
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", r.URI, r.Name, strings.Join(ss, " "), r.RequireDPoP, r.AccessTokenTTL)
		}
		return w.Flush()
	}
	return fmt.Errorf("unknown subcommand %q: authd resources create|list", verb)
}

func cmdConsents(ctx context.Context, args []string, stdout io.Writer) error {
	verb, rest, err := sub(args, "consents")
	if err != nil {
		return err
	}
	if verb != "revoke" {
		return fmt.Errorf("unknown subcommand %q: authd consents revoke", verb)
	}
	fs := newFlags("consents revoke", stdout)
	dbURL := fs.String("database-url", cli.EnvOr("DATABASE_URL", ""), "PostgreSQL URL (DATABASE_URL)")
	username := fs.String("username", "", "user (required)")
	clientID := fs.String("client", "", "client_id (required)")
	resource := fs.String("resource", "", "resource URI (required)")
	if err := parse(fs, rest); err != nil {
		return err
	}
	if *username == "" || *clientID == "" || *resource == "" {
		return errors.New("--username, --client and --resource are required")
	}
	canon, err := oauthuri.CanonicalResource(*resource)
	if err != nil {
		return fmt.Errorf("--resource: %v", err)
	}
	st, err := adminStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.GetUserByUsername(ctx, *username)
	if err != nil {
		return fmt.Errorf("no user %q", *username)
	}
	// Tokens already issued stay valid until they expire or are revoked (RFC 7009); the next authorization
	// asks the user again.
	if err := st.DeleteConsent(ctx, u.ID, *clientID, canon); err != nil {
		return fmt.Errorf("no remembered consent of %s for %s on %s", *username, *clientID, canon)
	}
	fmt.Fprintf(stdout, "consent of %s for %s on %s revoked\n", *username, *clientID, canon)
	return nil
}
