package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/as/store/postgres"
	"github.com/ddls/mcpauth/internal/pgtest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startServe runs `authd serve args…` until the test ends and returns the issuer URL.
func startServe(t *testing.T, args ...string) (issuer string, stop func() string) {
	t.Helper()
	addr := freeAddr(t)
	issuer = "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &syncBuf{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", addr, "--issuer", issuer, "--log-format", "text"}, args...), strings.NewReader(""), pw, logs)
		pw.Close()
	}()
	ready := make(chan bool, 1)
	go func() {
		line, err := bufio.NewReader(pr).ReadString('\n')
		ready <- err == nil && strings.Contains(line, "listening")
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case ok := <-ready:
		if !ok {
			cancel()
			t.Fatalf("authd did not start: %s", logs.String())
		}
	case code := <-done:
		cancel()
		t.Fatalf("authd exited %d: %s", code, logs.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("authd not ready: %s", logs.String())
	}
	stopped := false
	stop = func() string {
		if !stopped {
			stopped = true
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("authd exited %d", code)
			}
		}
		return logs.String()
	}
	t.Cleanup(func() { stop() })
	return issuer, stop
}

func clientCredentials(t *testing.T, issuer, id, secret string) map[string]any {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {"http://localhost:8000/mcp"}}
	req, _ := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 {
		t.Fatalf("token: %d %v", resp.StatusCode, out)
	}
	return out
}

func introspect(t *testing.T, issuer, token string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, issuer+"/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc-reporter", "s3cr3t-given-only-in-bootstrap")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out
}

func bootstrapFile(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../examples/bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestQuickStart is the README's first command: the in-memory store with the shipped bootstrap file.
func TestQuickStart(t *testing.T) {
	issuer, stop := startServe(t, "--bootstrap", bootstrapFile(t))
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/jwks.json", "/.well-known/oauth-authorization-server"} {
		resp, err := http.Get(issuer + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
	tok := clientCredentials(t, issuer, "svc-reporter", "s3cr3t-given-only-in-bootstrap")
	at := tok["access_token"].(string)
	logs := stop()
	if !strings.Contains(logs, "IN-MEMORY") {
		t.Error("no loud in-memory warning")
	}
	// No secret or token in any log line.
	for _, secret := range []string{at, "s3cr3t-given-only-in-bootstrap", "correct horse battery staple"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret reached the logs")
		}
	}
}

// TestPostgresKeepsEverythingAcrossRestarts: tokens, clients and signing keys survive a restart.
func TestPostgresKeepsEverythingAcrossRestarts(t *testing.T) {
	dbURL := pgtest.URL(t)
	t.Setenv("AUTHD_KEK", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	issuer, stop := startServe(t, "--database-url", dbURL, "--bootstrap", bootstrapFile(t))
	tok := clientCredentials(t, issuer, "svc-reporter", "s3cr3t-given-only-in-bootstrap")
	jwks1 := get(t, issuer+"/jwks.json")
	stop()

	issuer2, _ := startServe(t, "--database-url", dbURL, "--bootstrap", bootstrapFile(t))
	if jwks2 := get(t, issuer2+"/jwks.json"); jwks2 != jwks1 {
		t.Fatalf("signing keys changed across a restart:\n%s\n%s", jwks1, jwks2)
	}
	in := introspect(t, issuer2, tok["access_token"].(string))
	if in["active"] != true {
		t.Fatalf("token issued before the restart is not active: %v", in)
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAdminCLI(t *testing.T) {
	dbURL := pgtest.URL(t)
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("AUTHD_KEK", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	steps := [][]string{
		{"migrate"},
		{"resources", "create", "--uri", "http://localhost:8000/mcp/", "--name", "Demo", "--scope", "mcp:tools:default", "--scope", "mcp:admin"},
		{"orgs", "create", "--id", "org_acme", "--name", "Acme"},
		{"connections", "create", "--id", "conn_github", "--org", "org_acme", "--kind", "github", "--name", "GitHub", "--resource", "http://localhost:8000/mcp"},
	}
	for _, s := range steps {
		if code, out, errs := runCmd(t, "", s...); code != 0 {
			t.Fatalf("%v: %d %s %s", s, code, out, errs)
		}
	}
	code, out, errs := runCmd(t, "", "clients", "create", "--id", "svc", "--resource", "http://localhost:8000/mcp", "--scope", "mcp:tools",
		"--org", "org_acme", "--connection", "conn_github")
	if code != 0 {
		t.Fatalf("clients create: %s %s", out, errs)
	}
	m := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(out)
	if m == nil || len(m[1]) < 43 {
		t.Fatalf("no generated secret (>= 256 bits) in %q", out)
	}
	secret := m[1]
	if code, out, errs := runCmd(t, "a long enough password\n", "users", "create", "--username", "carol", "--org", "org_acme:admin"); code != 0 {
		t.Fatalf("users create: %s %s", out, errs)
	}
	if code, out, _ := runCmd(t, "", "clients", "list"); code != 0 || !strings.Contains(out, "svc") || strings.Contains(out, secret) {
		t.Fatalf("clients list: %s", out)
	}
	if code, out, _ := runCmd(t, "", "users", "list"); code != 0 || !strings.Contains(out, "carol") || !strings.Contains(out, "org_acme:admin") {
		t.Fatalf("users list: %s", out)
	}
	// Refusals: each a clear error, nothing written.
	refusals := map[string][]string{
		"duplicate_client":       {"clients", "create", "--id", "svc", "--resource", "http://localhost:8000/mcp"},
		"unknown_resource":       {"clients", "create", "--id", "x", "--resource", "https://nope.example"},
		"http_redirect":          {"clients", "create", "--id", "y", "--public", "--resource", "http://localhost:8000/mcp", "--redirect-uri", "http://example.com/cb"},
		"public_cc":              {"clients", "create", "--id", "z", "--public", "--grant-type", "client_credentials", "--resource", "http://localhost:8000/mcp"},
		"foreign_connection":     {"clients", "create", "--id", "w", "--resource", "http://localhost:8000/mcp", "--connection", "conn_github"},
		"org_with_clients":       {"orgs", "delete", "--id", "org_acme"},
		"resource_with_fragment": {"resources", "create", "--uri", "https://x.example/mcp#f"},
	}
	for name, args := range refusals {
		if code, _, errs := runCmd(t, "", args...); code == 0 || errs == "" {
			t.Errorf("%s: accepted (%d)", name, code)
		}
	}
	if code, _, errs := runCmd(t, "short\n", "users", "create", "--username", "dave"); code == 0 || !strings.Contains(errs, "8 characters") {
		t.Errorf("short password accepted: %s", errs)
	}

	// consents revoke: the remembered consent goes, so the user is asked again.
	st, err := postgres.Open(context.Background(), dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	carol, err := st.GetUserByUsername(context.Background(), "carol")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertConsent(context.Background(), store.Consent{UserID: carol.ID, ClientID: "svc", Resource: "http://localhost:8000/mcp", Scopes: []string{"mcp:tools"}, OrgID: "org_acme"}); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCmd(t, "", "consents", "revoke", "--username", "carol", "--client", "svc", "--resource", "http://localhost:8000/mcp/"); code != 0 {
		t.Fatalf("consents revoke: %s %s", out, errs)
	}
	if _, err := st.GetConsent(context.Background(), carol.ID, "svc", "http://localhost:8000/mcp"); err == nil {
		t.Fatal("consent still remembered after revoke")
	}
	if code, _, _ := runCmd(t, "", "consents", "revoke", "--username", "carol", "--client", "svc", "--resource", "http://localhost:8000/mcp"); code == 0 {
		t.Fatal("revoking a consent that does not exist succeeded")
	}
	st.Close()

	// The server on this database issues tokens to the CLI-made client.
	issuer, _ := startServe(t)
	tok := clientCredentials(t, issuer, "svc", secret)
	if tok["token_type"] != "Bearer" {
		t.Fatalf("%v", tok)
	}
	// keys rotate publishes a second key without changing the signer yet.
	before := get(t, issuer+"/jwks.json")
	if code, out, errs := runCmd(t, "", "keys", "rotate", "--lead", "1h"); code != 0 || !strings.Contains(out, "added key") {
		t.Fatalf("keys rotate: %s %s", out, errs)
	}
	if code, _, errs := runCmd(t, "", "keys", "rotate"); code != 0 {
		t.Fatalf("second rotate: %s", errs)
	}
	issuer2, _ := startServe(t)
	var set struct{ Keys []map[string]any }
	_ = json.Unmarshal([]byte(get(t, issuer2+"/jwks.json")), &set)
	if len(set.Keys) != 3 || before == get(t, issuer2+"/jwks.json") {
		t.Fatalf("JWKS after two rotations has %d keys, want 3 (published before they sign)", len(set.Keys))
	}
}

func TestServeRefusals(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("resources:\n  - uri: https://x.example/mcp#frag\n    name: X\nclients:\n  - client_id: c\n    bogus: 1\n"), 0o600)
	cases := map[string]struct {
		args []string
		want string
	}{
		"non_loopback_http_issuer": {[]string{"serve", "--issuer", "http://auth.example.com", "--addr", "127.0.0.1:0"}, "non-loopback"},
		"invalid_bootstrap":        {[]string{"serve", "--addr", "127.0.0.1:0", "--bootstrap", bad}, "bad.yaml:2"},
		"missing_bootstrap":        {[]string{"serve", "--addr", "127.0.0.1:0", "--bootstrap", "/nonexistent.yaml"}, "nonexistent"},
		"postgres_without_kek":     {[]string{"serve", "--addr", "127.0.0.1:0", "--database-url", "postgres://127.0.0.1:1/x"}, "AUTHD_KEK"},
		"bad_log_format":           {[]string{"serve", "--log-format", "xml"}, "log-format"},
		"admin_without_database":   {[]string{"clients", "list", "--database-url", ""}, "PostgreSQL"},
		"unknown_command":          {[]string{"frobnicate"}, "unknown command"},
	}
	t.Setenv("AUTHD_KEK", "")
	t.Setenv("DATABASE_URL", "")
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), c.args, strings.NewReader(""), &out, &errb)
			if code == 0 || !strings.Contains(errb.String(), c.want) {
				t.Fatalf("exit %d, stderr %q; want failure mentioning %q", code, errb.String(), c.want)
			}
		})
	}
}
