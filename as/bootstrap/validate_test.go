package bootstrap

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v3"
)

// prelude declares what client and user cases refer to.
const prelude = `resources:
  - uri: https://mcp.example.com/mcp
    scopes: [{name: read, default: true}, {name: write}]
  - uri: https://other.example.com/mcp
    scopes: [{name: other}]
organizations:
  - id: org_a
    connections:
      - {id: conn_a, kind: github, resources: [https://mcp.example.com/mcp]}
      - {id: conn_other, kind: http, resources: [https://other.example.com/mcp]}
  - id: org_b
    connections:
      - {id: conn_b, kind: http, resources: [https://mcp.example.com/mcp]}
`

func publicJWK(t testing.TB) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jose.JSONWebKey{Key: &k.PublicKey, KeyID: "k1", Use: "sig", Algorithm: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func privateJWK(t testing.TB) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jose.JSONWebKey{Key: k, KeyID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func smallRSAJWK(t testing.TB) string {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Skipf("cannot generate a 1024-bit RSA key here: %v", err)
	}
	b, err := json.Marshal(jose.JSONWebKey{Key: &k.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// client returns the prelude plus one client made of the given YAML mapping lines.
func client(lines ...string) string {
	return prelude + "clients:\n  - " + strings.Join(lines, "\n    ") + "\n"
}

func user(lines ...string) string {
	return prelude + "users:\n  - " + strings.Join(lines, "\n    ") + "\n"
}

func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var be *Error
	if !errors.As(err, &be) {
		t.Fatalf("error is %T (%v), want *Error", err, err)
	}
	return be.Problems
}

func TestParseRejects(t *testing.T) {
	pub := publicJWK(t)
	type tc struct {
		name string
		yaml string
		// want lists "path: message fragment" for every expected problem, in file order.
		want []string
	}
	cases := []tc{
		// --- decoding ---
		{"unknown_key", "resource: []\n", []string{"resource: unknown key (did you mean resources?)"}},
		{"unknown_key_in_client", client("client_id: c", "public: true", "redirect_uri: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			// The missing redirect_uris is reported at the client's line, above the misspelt key.
			[]string{"clients[0].redirect_uris: authorization_code needs at least one redirect URI", "clients[0].redirect_uri: unknown key (did you mean redirect_uris?)"}},
		{"unknown_key_far_from_any", "zzz: 1\n", []string{"zzz: unknown key (known keys: clients, organizations, resources, users)"}},
		{"duplicate_key", "resources: []\nresources: []\n", []string{"resources: duplicate key"}},
		{"duplicate_key_json", `{"resources": [], "resources": []}`, []string{"resources: duplicate key"}},
		{"yaml_alias_refused", prelude + "users:\n  - &u {username: a, password: aaaaaaaa}\n  - *u\n", []string{"users[1]: YAML aliases are not supported"}},
		{"yaml_merge_key_refused", prelude + "users:\n  - {<<: {username: a}, password: aaaaaaaa}\n", []string{"users[0].<<: unknown key", "users[0].username: username is required"}},
		{"two_documents", "resources: []\n---\nusers: []\n", []string{": only one YAML document is allowed"}},
		{"invalid_yaml_syntax", "resources: [\n", []string{": invalid YAML"}},
		{"top_level_not_mapping", "- a\n", []string{": must be a mapping (the bootstrap file)"}},
		{"list_expected", client("client_id: c", "public: true", "redirect_uris: http://127.0.0.1/cb", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].redirect_uris: must be a list"}},
		{"bool_expected", client("client_id: c", "public: \"yes\"", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].public: must be true or false"}},
		{"string_expected", "resources:\n  - uri: {a: b}\n", []string{"resources[0].uri: must be a string"}},
		{"custom_tag_refused", "resources:\n  - uri: !env MCP_URI\n", []string{"resources[0].uri: must be a plain string"}},
		{"item_not_mapping", "resources:\n  - https://mcp.example.com/mcp\n", []string{"resources[0]: must be a mapping (a resource)"}},

		// --- resources ---
		{"rfc8707_resource_with_fragment", "resources:\n  - uri: https://mcp.example.com/mcp#frag\n", []string{"resources[0].uri: resource must not contain a fragment"}},
		{"rfc8707_resource_relative", "resources:\n  - uri: /mcp\n", []string{"resources[0].uri: resource must be an absolute URI with a host"}},
		{"rfc8707_resource_not_http", "resources:\n  - uri: ftp://mcp.example.com/mcp\n", []string{"resources[0].uri: resource must be an http or https URI"}},
		{"rfc8707_resource_userinfo", "resources:\n  - uri: https://u:p@mcp.example.com/mcp\n", []string{"resources[0].uri: resource must not contain user information"}},
		{"resource_uri_missing", "resources:\n  - name: x\n", []string{"resources[0].uri: uri is required"}},
		{"resources_duplicate_canonical", "resources:\n  - uri: https://mcp.example.com/mcp\n  - uri: HTTPS://MCP.example.com:443/mcp/\n",
			[]string{`resources[1].uri: duplicate resource "https://mcp.example.com/mcp"`}},
		{"rfc6749_3.3_bad_scope_token", "resources:\n  - uri: https://mcp.example.com/mcp\n    scopes: [{name: \"a b\"}, {name: 'x\"y'}, {name: \"back\\\\slash\"}, {name: \"é\"}]\n",
			[]string{"scopes[0].name: scope \"a b\" is not an RFC 6749 §3.3 scope-token", "scopes[1].name: ", "scopes[2].name: ", "scopes[3].name: "}},
		{"scope_name_missing", "resources:\n  - uri: https://mcp.example.com/mcp\n    scopes: [{default: true}]\n", []string{"scopes[0].name: scope name is required"}},
		{"scopes_duplicate", "resources:\n  - uri: https://mcp.example.com/mcp\n    scopes: [{name: a}, {name: a}]\n", []string{`scopes[1].name: duplicate scope "a"`}},
		{"scope_offline_access_reserved", "resources:\n  - uri: https://mcp.example.com/mcp\n    scopes: [{name: offline_access}]\n", []string{"scopes[0].name: offline_access is reserved"}},
		{"access_token_ttl_zero", "resources:\n  - uri: https://mcp.example.com/mcp\n    access_token_ttl: 0s\n", []string{"access_token_ttl: must be greater than zero"}},
		{"access_token_ttl_negative", "resources:\n  - uri: https://mcp.example.com/mcp\n    access_token_ttl: -5m\n", []string{"access_token_ttl: must be greater than zero"}},
		{"access_token_ttl_above_24h", "resources:\n  - uri: https://mcp.example.com/mcp\n    access_token_ttl: 25h\n", []string{"access_token_ttl: must be at most 24h"}},
		{"access_token_ttl_without_unit", "resources:\n  - uri: https://mcp.example.com/mcp\n    access_token_ttl: 600\n", []string{"access_token_ttl: must be a duration with a unit"}},
		{"access_token_ttl_garbage", "resources:\n  - uri: https://mcp.example.com/mcp\n    access_token_ttl: soon\n", []string{"access_token_ttl: must be a duration with a unit"}},
		{"resource_name_control_chars", "resources:\n  - uri: https://mcp.example.com/mcp\n    name: \"a\\u0007b\"\n", []string{"resources[0].name: must not contain control characters"}},

		// --- organizations and connections ---
		{"organizations_duplicate_id", "organizations:\n  - id: o\n  - id: o\n", []string{`organizations[1].id: duplicate organization id "o"`}},
		{"organization_id_missing", "organizations:\n  - name: O\n", []string{"organizations[0].id: id is required"}},
		{"organization_id_with_space", "organizations:\n  - id: org a\n", []string{"organizations[0].id: id must be visible ASCII characters without spaces"}},
		{"connections_duplicate_id_global", prelude + "  - id: org_c\n    connections: [{id: conn_a, kind: http}]\n",
			[]string{`organizations[2].connections[0].id: duplicate connection id "conn_a" (connection ids are global`}},
		{"connection_kind_missing", "organizations:\n  - id: o\n    connections: [{id: c}]\n", []string{"connections[0].kind: kind is required"}},
		{"connection_kind_invalid", "organizations:\n  - id: o\n    connections: [{id: c, kind: GitHub}]\n", []string{"connections[0].kind: kind must be lowercase"}},
		{"connection_resource_undeclared", "organizations:\n  - id: o\n    connections: [{id: c, kind: http, resources: [https://nowhere.example/mcp]}]\n",
			[]string{`connections[0].resources[0]: resource "https://nowhere.example/mcp" is not declared under resources`}},
		{"connection_resource_with_fragment", "organizations:\n  - id: o\n    connections: [{id: c, kind: http, resources: ['https://x.example/mcp#f']}]\n",
			[]string{"connections[0].resources[0]: resource must not contain a fragment"}},
		{"connection_contract_duplicate", "organizations:\n  - id: o\n    connections: [{id: c, kind: http, contract: [a, a]}]\n", []string{`connections[0].contract[1]: duplicate intent "a"`}},
		{"connection_contract_empty_intent", "organizations:\n  - id: o\n    connections: [{id: c, kind: http, contract: [\"\"]}]\n", []string{"connections[0].contract[0]: intent is required"}},

		// --- users ---
		{"users_duplicate_username", user("username: alice", "password: aaaaaaaa") + "  - {username: Alice, password: bbbbbbbb}\n",
			[]string{`users[1].username: duplicate username "alice"`}},
		{"user_username_missing", user("password: aaaaaaaa"), []string{"users[0].username: username is required"}},
		{"user_password_and_hash", user("username: a", "password: aaaaaaaa", "password_hash: $argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI"),
			[]string{"users[0].password_hash: set password or password_hash, not both"}},
		{"user_no_password", user("username: a"), []string{"users[0]: password or password_hash is required"}},
		{"user_password_too_short", user("username: a", "password: short"), []string{"users[0].password: password must be at least 8 characters"}},
		{"rfc9106_4_user_password_hash_argon2i", user("username: a", "password_hash: $argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI"),
			[]string{"users[0].password_hash: not a usable argon2id PHC string: variant argon2i is not supported"}},
		{"user_password_hash_bcrypt", user("username: a", "password_hash: $2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"),
			[]string{"users[0].password_hash: not a usable argon2id PHC string"}},
		{"user_password_hash_huge_params", user("username: a", "password_hash: $argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI"),
			[]string{"users[0].password_hash: not a usable argon2id PHC string: parameters: m above the limit"}},
		{"user_organization_undeclared", user("username: a", "password: aaaaaaaa", "organizations: [{id: org_zz}]"),
			[]string{`users[0].organizations[0].id: organization "org_zz" is not declared`}},
		{"user_role_unknown", user("username: a", "password: aaaaaaaa", "organizations: [{id: org_a, role: owner}]"),
			[]string{"users[0].organizations[0].role: role must be admin or member"}},
		{"user_membership_duplicate", user("username: a", "password: aaaaaaaa", "organizations: [{id: org_a}, {id: org_a, role: admin}]"),
			[]string{`users[0].organizations[1].id: duplicate membership of organization "org_a"`}},

		// --- clients: identity and authentication ---
		{"clients_duplicate_id", client("client_id: c", "public: true", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]") +
			"  - {client_id: c, public: true, redirect_uris: ['http://127.0.0.1/cb'], resources: ['https://mcp.example.com/mcp']}\n",
			[]string{`clients[1].client_id: duplicate client_id "c"`}},
		{"client_id_missing", client("public: true", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].client_id: client_id is required"}},
		{"clients_public_with_secret", client("client_id: c", "public: true", "client_secret: abcdefghijklmnopqrstuvwxyz", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].client_secret: a public client has no secret"}},
		{"clients_public_with_secret_hash", client("client_id: c", "public: true", "client_secret_hash: "+strings.Repeat("ab", 32), "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].client_secret_hash: a public client has no secret"}},
		{"clients_public_with_jwks", client("client_id: c", "public: true", "jwks: {keys: ["+pub+"]}", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].jwks: a public client has no keys"}},
		{"clients_public_auth_method_basic", client("client_id: c", "public: true", "token_endpoint_auth_method: client_secret_basic", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].token_endpoint_auth_method: a public client authenticates with none"}},
		{"oauth21_4.2_public_client_credentials", client("client_id: c", "public: true", "grant_types: [client_credentials]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].grant_types[0]: client_credentials needs a confidential client"}},
		{"clients_confidential_without_credentials", client("client_id: c", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0]: a confidential client needs client_secret, client_secret_hash, or jwks/jwks_uri"}},
		{"clients_confidential_auth_none", client("client_id: c", "client_secret: abcdefghijklmnopqrstuvwxyz", "token_endpoint_auth_method: none", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].token_endpoint_auth_method: none is for public clients"}},
		{"clients_unknown_auth_method", client("client_id: c", "client_secret: abcdefghijklmnopqrstuvwxyz", "token_endpoint_auth_method: tls_client_auth", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{`clients[0].token_endpoint_auth_method: unsupported method "tls_client_auth"`}},
		{"clients_secret_too_short", client("client_id: c", "client_secret: tooshort", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].client_secret: client_secret must be at least 16 characters: it is stored as an unsalted SHA-256"}},
		{"clients_secret_and_hash", client("client_id: c", "client_secret: abcdefghijklmnopqrstuvwxyz", "client_secret_hash: "+strings.Repeat("ab", 32), "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].client_secret_hash: set client_secret or client_secret_hash, not both"}},
		{"clients_secret_hash_not_hex", client("client_id: c", "client_secret_hash: "+strings.Repeat("zz", 32), "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].client_secret_hash: client_secret_hash must be the SHA-256 of the secret as 64 hex digits"}},
		{"clients_secret_hash_wrong_length", client("client_id: c", "client_secret_hash: "+strings.Repeat("ab", 20), "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].client_secret_hash: client_secret_hash must be the SHA-256"}},
		{"rfc7523_private_key_jwt_without_keys", client("client_id: c", "token_endpoint_auth_method: private_key_jwt", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].token_endpoint_auth_method: private_key_jwt needs jwks or jwks_uri"}},
		{"clients_private_key_jwt_with_secret", client("client_id: c", "token_endpoint_auth_method: private_key_jwt", "client_secret: abcdefghijklmnopqrstuvwxyz", "jwks_uri: https://c.example/jwks", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].token_endpoint_auth_method: a private_key_jwt client has no secret"}},
		{"clients_secret_basic_without_secret", client("client_id: c", "token_endpoint_auth_method: client_secret_basic", "jwks_uri: https://c.example/jwks", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].token_endpoint_auth_method: client_secret_basic needs client_secret", "clients[0].token_endpoint_auth_method: jwks and jwks_uri are only used with private_key_jwt"}},
		{"clients_secret_and_keys_without_method", client("client_id: c", "client_secret: abcdefghijklmnopqrstuvwxyz", "jwks_uri: https://c.example/jwks", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].token_endpoint_auth_method: the client has both a secret and keys"}},
		{"rfc7591_2_jwks_and_jwks_uri", client("client_id: c", "jwks: {keys: ["+pub+"]}", "jwks_uri: https://c.example/jwks", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].jwks: set jwks or jwks_uri, not both (RFC 7591 §2)"}},
		{"rfc7517_jwks_private_key", client("client_id: c", "jwks: {keys: ["+privateJWK(t)+"]}", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].jwks.keys[0]: holds private or symmetric key material (d)"}},
		{"rfc7517_jwks_symmetric_key", client("client_id: c", `jwks: {keys: [{kty: oct, k: c2VjcmV0c2VjcmV0c2VjcmV0}]}`, "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].jwks.keys[0]: holds private or symmetric key material (k)"}},
		{"rfc7517_5_jwks_without_keys", client("client_id: c", `jwks: {kty: EC}`, "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].jwks: a JWK Set needs a keys list"}},
		{"rfc7517_5_jwks_empty", client("client_id: c", `jwks: {keys: []}`, "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].jwks.keys: must hold at least one key"}},
		{"rfc7517_jwks_unknown_kty", client("client_id: c", `jwks: {keys: [{kty: XYZ}]}`, "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].jwks.keys[0]: not a valid public JWK"}},
		{"rfc7517_jwks_as_string", client("client_id: c", `jwks: '{"keys": []}'`, "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].jwks: must be a JWK Set object"}},
		{"rfc7518_jwks_small_rsa", client("client_id: c", "jwks: {keys: ["+smallRSAJWK(t)+"]}", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].jwks.keys[0]: RSA keys must be at least 2048 bits"}},
		{"clients_jwks_uri_http_non_loopback", client("client_id: c", "jwks_uri: http://c.example/jwks", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].jwks_uri: jwks_uri uses http on a non-loopback host; use https"}},

		// --- clients: grants and redirect URIs ---
		{"clients_unknown_grant_type", client("client_id: c", "public: true", "grant_types: [authorization_code, implicit]", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{`clients[0].grant_types[1]: unsupported grant type "implicit"`}},
		{"clients_duplicate_grant_type", client("client_id: c", "public: true", "grant_types: [authorization_code, authorization_code]", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{`clients[0].grant_types[1]: duplicate grant type "authorization_code"`}},
		{"clients_refresh_without_code", client("client_id: c", "client_secret: abcdefghijklmnopqrstuvwxyz", "grant_types: [client_credentials, refresh_token]", "organization: org_a", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].grant_types: refresh_token needs authorization_code"}},
		{"oauth21_2.3.1_code_without_redirect_uri", client("client_id: c", "public: true", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].redirect_uris: authorization_code needs at least one redirect URI"}},
		{"clients_confidential_default_grant_needs_redirect", client("client_id: c", "client_secret: abcdefghijklmnopqrstuvwxyz", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].redirect_uris: authorization_code needs at least one redirect URI (it is the default grant of a confidential client without an organization"}},
		{"clients_redirect_without_code_grant", client("client_id: c", "client_secret: abcdefghijklmnopqrstuvwxyz", "grant_types: [client_credentials]", "redirect_uris: [https://c.example/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].redirect_uris: redirect_uris are only used by the authorization_code grant"}},
		{"oauth21_1.5_http_redirect_non_loopback", client("client_id: c", "public: true", "redirect_uris: [http://app.example.com/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{`clients[0].redirect_uris[0]: redirect URI "http://app.example.com/cb" uses http on a non-loopback host; use https`}},
		{"oauth21_2.3.1_redirect_with_fragment", client("client_id: c", "public: true", "redirect_uris: ['https://app.example.com/cb#x']", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].redirect_uris[0]: redirect URI \"https://app.example.com/cb#x\" must not contain a fragment"}},
		{"rfc8252_7.1_private_scheme_without_period", client("client_id: c", "public: true", "redirect_uris: ['myapp:/cb']", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].redirect_uris[0]: redirect URI \"myapp:/cb\": a private-use scheme must be reverse-domain"}},
		{"clients_redirect_duplicate", client("client_id: c", "public: true", "redirect_uris: [http://127.0.0.1/cb, http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
			[]string{`clients[0].redirect_uris[1]: duplicate redirect URI "http://127.0.0.1/cb"`}},

		// --- clients: resources, scopes, organization, connections ---
		{"clients_resources_missing", client("client_id: c", "public: true", "redirect_uris: [http://127.0.0.1/cb]"),
			[]string{"clients[0].resources: at least one resource is required"}},
		{"clients_resource_undeclared", client("client_id: c", "public: true", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://nowhere.example/mcp]"),
			[]string{`clients[0].resources[0]: resource "https://nowhere.example/mcp" is not declared under resources`}},
		{"rfc8707_client_resource_with_fragment", client("client_id: c", "public: true", "redirect_uris: [http://127.0.0.1/cb]", "resources: ['https://mcp.example.com/mcp#x']"),
			[]string{"clients[0].resources[0]: resource must not contain a fragment"}},
		{"clients_resource_duplicate_canonical", client("client_id: c", "public: true", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp, https://MCP.EXAMPLE.COM/mcp/]"),
			[]string{`clients[0].resources[1]: duplicate resource "https://mcp.example.com/mcp"`}},
		{"clients_scope_undeclared", client("client_id: c", "public: true", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]", "scopes: [read, other]"),
			[]string{`clients[0].scopes[1]: scope "other" is not declared by any of the client's resources`}},
		{"rfc6749_3.3_client_bad_scope_token", client("client_id: c", "public: true", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]", "scopes: [\"read write\"]"),
			[]string{`clients[0].scopes[0]: "read write" is not an RFC 6749 §3.3 scope-token`}},
		{"clients_scope_duplicate", client("client_id: c", "public: true", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]", "scopes: [read, read]"),
			[]string{`clients[0].scopes[1]: duplicate scope "read"`}},
		{"clients_offline_access_without_refresh", client("client_id: c", "client_secret: abcdefghijklmnopqrstuvwxyz", "organization: org_a", "resources: [https://mcp.example.com/mcp]", "scopes: [read, offline_access]"),
			[]string{"clients[0].scopes[1]: offline_access needs the refresh_token grant"}},
		{"clients_no_scopes_no_defaults", client("client_id: c", "public: true", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://other.example.com/mcp]"),
			[]string{"clients[0].scopes: no scopes given and the client's resources declare no default scope"}},
		{"clients_organization_undeclared", client("client_id: c", "client_secret: abcdefghijklmnopqrstuvwxyz", "organization: org_zz", "resources: [https://mcp.example.com/mcp]"),
			[]string{`clients[0].organization: organization "org_zz" is not declared`}},
		{"clients_connections_without_organization", client("client_id: c", "client_secret: abcdefghijklmnopqrstuvwxyz", "grant_types: [client_credentials]", "connections: [conn_a]", "resources: [https://mcp.example.com/mcp]"),
			[]string{"clients[0].connections: connections need an organization"}},
		{"clients_connection_undeclared", client("client_id: c", "client_secret: abcdefghijklmnopqrstuvwxyz", "organization: org_a", "connections: [conn_zz]", "resources: [https://mcp.example.com/mcp]"),
			[]string{`clients[0].connections[0]: connection "conn_zz" is not declared`}},
		{"clients_connection_other_org", client("client_id: c", "client_secret: abcdefghijklmnopqrstuvwxyz", "organization: org_a", "connections: [conn_b]", "resources: [https://mcp.example.com/mcp]"),
			[]string{`clients[0].connections[0]: connection "conn_b" belongs to organization "org_b", not to the client's organization "org_a"`}},
		{"clients_connection_not_for_resource", client("client_id: c", "client_secret: abcdefghijklmnopqrstuvwxyz", "organization: org_a", "connections: [conn_other]", "resources: [https://mcp.example.com/mcp]"),
			[]string{`clients[0].connections[0]: connection "conn_other" is not allowed for any of the client's resources`}},
		{"clients_connection_duplicate", client("client_id: c", "client_secret: abcdefghijklmnopqrstuvwxyz", "organization: org_a", "connections: [conn_a, conn_a]", "resources: [https://mcp.example.com/mcp]"),
			[]string{`clients[0].connections[1]: duplicate connection "conn_a"`}},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %s", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("bootstrap.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", f)
			}
			if f != nil {
				t.Errorf("Parse returned a File with an error")
			}
			ps := problemsOf(t, err)
			if len(ps) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(tc.want), err)
			}
			for i, w := range tc.want {
				got := ps[i].Path + ": " + ps[i].Message
				if !strings.Contains(got, w) {
					t.Errorf("problem %d = %q\nwant it to contain %q", i, got, w)
				}
				if ps[i].File != "bootstrap.yaml" {
					t.Errorf("problem %d has file %q", i, ps[i].File)
				}
				if ps[i].Line == 0 {
					t.Errorf("problem %d has no line: %v", i, ps[i])
				}
			}
		})
	}
}

func TestParseLineNumbers(t *testing.T) {
	doc := `# line 1
resources:
  - uri: https://mcp.example.com/mcp
    scopes:
      - {name: read, default: true}
clients:
  - client_id: ok
    public: true
    redirect_uris: [http://127.0.0.1:9998/callback]
    resources: [https://mcp.example.com/mcp]
  - client_id: bad
    public: true
    redirect_uris:
      - https://app.example.com/cb
      - http://app.example.com/cb
    resources: [https://mcp.example.com/mcp]
    scope: [read]
users:
  - username: carol
`
	_, err := Parse("bootstrap.yaml", []byte(doc))
	want := `bootstrap.yaml:15: clients[1].redirect_uris[1]: redirect URI "http://app.example.com/cb" uses http on a non-loopback host; use https
bootstrap.yaml:17: clients[1].scope: unknown key (did you mean scopes?)
bootstrap.yaml:19: users[0]: password or password_hash is required`
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestParseJSONLineNumbers(t *testing.T) {
	doc := "{\n\t\"resources\": [\n\t\t{\"uri\": \"https://mcp.example.com/mcp#f\"}\n\t],\n\t\"users\": [{\"username\": \"a\", \"password\": \"aaaaaaaa\", \"extra\": 1}]\n}\n"
	_, err := Parse("bootstrap.json", []byte(doc))
	want := "bootstrap.json:3: resources[0].uri: resource must not contain a fragment\n" +
		"bootstrap.json:5: users[0].extra: unknown key (known keys: organizations, password, password_hash, username)"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
}

// TestErrorsNeverCarrySecrets: no message may repeat a password, a client secret or a hash, whatever is
// wrong with it.
func TestErrorsNeverCarrySecrets(t *testing.T) {
	const pw, secret = "Pw7", "S3cr3tVal"
	const hash = "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$HASHVALUEHASHVALUE"
	docs := []string{
		user("username: a", "password: "+pw),
		user("username: a", "password: "+pw+"xxxxxx", "password_hash: "+hash),
		user("username: a", "password_hash: "+hash),
		user("username: a", "password: {"+pw+": 1}"),
		client("client_id: c", "client_secret: "+secret, "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
		client("client_id: c", "public: true", "client_secret: "+secret, "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
		client("client_id: c", "client_secret_hash: "+secret, "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
		client("client_id: c", "client_secret: ["+secret+"]", "redirect_uris: [http://127.0.0.1/cb]", "resources: [https://mcp.example.com/mcp]"),
	}
	for i, doc := range docs {
		_, err := Parse("f.yaml", []byte(doc))
		if err == nil {
			t.Fatalf("doc %d accepted", i)
		}
		for _, s := range []string{pw, secret, "HASHVALUE"} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("doc %d: error repeats a secret: %v", i, err)
			}
		}
	}
}

func TestSecretRedacted(t *testing.T) {
	f, err := Parse("f.yaml", []byte(user("username: a", "password: hunter2hunter2")+
		"clients:\n  - {client_id: c, client_secret: abcdefghijklmnopqrst, grant_types: [client_credentials], resources: ['https://mcp.example.com/mcp']}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(f)
	for _, out := range []string{fmt.Sprintf("%v", f), fmt.Sprintf("%+v", *f), fmt.Sprintf("%#v", *f), string(b)} {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "abcdefghijklmnopqrst") {
			t.Errorf("secret printed: %s", out)
		}
	}
	if string(f.Users[0].Password) != "hunter2hunter2" {
		t.Error("string(Secret) must give the value")
	}
}

func TestParseReportsAllProblems(t *testing.T) {
	doc := `resources:
  - uri: https://mcp.example.com/mcp#f
organizations:
  - id: o
  - id: o
users:
  - {username: a, password: short}
clients:
  - {client_id: c, public: true, client_secret: xxxxxxxxxxxxxxxxxxxx, redirect_uris: ['http://example.com/cb'], resources: [https://mcp.example.com/mcp]}
`
	_, err := Parse("b.yaml", []byte(doc))
	ps := problemsOf(t, err)
	var lines []int
	for _, p := range ps {
		lines = append(lines, p.Line)
	}
	// Line 9 has three: the secret, the redirect URI, and the resource (the declared one is invalid).
	if fmt.Sprint(lines) != "[2 5 7 9 9 9]" {
		t.Fatalf("problems on lines %v, want [2 5 7 9 9 9]:\n%v", lines, err)
	}
}

func TestParseDefaultsAndCanonicalForms(t *testing.T) {
	doc := prelude + `  - id: org_d
    connections: [{id: conn_d, kind: http, resources: ['HTTPS://MCP.example.com:443/mcp/']}]
users:
  - {username: a, password: aaaaaaaa, organizations: [{id: org_a}, {id: org_b, role: admin}]}
clients:
  - {client_id: pub, public: true, redirect_uris: ['http://127.0.0.1/cb'], resources: ['https://MCP.EXAMPLE.COM/mcp/']}
  - {client_id: m2m, client_secret: abcdefghijklmnopqrstuvwxyz, organization: org_a, resources: ['https://mcp.example.com/mcp']}
  - {client_id: web, client_secret_hash: ` + strings.Repeat("AB", 32) + `, redirect_uris: ['https://web.example/cb'], resources: ['https://mcp.example.com/mcp'], scopes: [read, write, offline_access]}
  - {client_id: jwt, jwks_uri: 'https://jwt.example/jwks', organization: org_a, resources: ['https://mcp.example.com/mcp'], scopes: [write]}
  - client_id: inline
    organization: org_a
    resources: ['https://mcp.example.com/mcp']
    jwks: {keys: [` + publicJWK(t) + `]}
`
	f, err := Parse("f.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Organizations[2].Connections[0].Resources[0]; got != "https://mcp.example.com/mcp" {
		t.Errorf("connection resource = %q, want canonical", got)
	}
	if f.Organizations[0].Name != "org_a" || f.Organizations[0].Connections[0].Name != "conn_a" {
		t.Errorf("names default to ids: %+v", f.Organizations[0])
	}
	if got := f.Users[0].Organizations; got[0].Role != "member" || got[1].Role != "admin" || got[0].ID != "org_a" {
		t.Errorf("memberships = %+v", got)
	}
	type want struct{ method, grants, scopes, resources string }
	for i, w := range []want{
		{"none", "[authorization_code refresh_token]", "[read]", "[https://mcp.example.com/mcp]"},
		{"client_secret_basic", "[client_credentials]", "[read]", "[https://mcp.example.com/mcp]"},
		{"client_secret_basic", "[authorization_code refresh_token]", "[read write offline_access]", "[https://mcp.example.com/mcp]"},
		{"private_key_jwt", "[client_credentials]", "[write]", "[https://mcp.example.com/mcp]"},
		{"private_key_jwt", "[client_credentials]", "[read]", "[https://mcp.example.com/mcp]"},
	} {
		c := f.Clients[i]
		got := want{c.TokenEndpointAuthMethod, fmt.Sprint(c.GrantTypes), fmt.Sprint(c.Scopes), fmt.Sprint(c.Resources)}
		if got != w {
			t.Errorf("clients[%d] %s = %+v, want %+v", i, c.ClientID, got, w)
		}
	}
	if f.Clients[2].ClientSecretHash != strings.Repeat("ab", 32) {
		t.Errorf("secret hash not lowercased: %s", f.Clients[2].ClientSecretHash)
	}
	if !json.Valid(f.Clients[4].JWKS) {
		t.Errorf("jwks is not JSON: %s", f.Clients[4].JWKS)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, doc := range []string{"", "# nothing\n", "{}", "---\n"} {
		f, err := Parse("e.yaml", []byte(doc))
		if err != nil || f == nil || len(f.Resources)+len(f.Clients)+len(f.Users)+len(f.Organizations) != 0 {
			t.Errorf("Parse(%q) = %+v, %v; want an empty File", doc, f, err)
		}
	}
}

func TestParseTooLarge(t *testing.T) {
	_, err := Parse("big.yaml", make([]byte, MaxFileSize+1))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load("/nonexistent/bootstrap.yaml"); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
}
