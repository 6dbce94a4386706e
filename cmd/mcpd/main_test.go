package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ddls/mcpauth/as"
	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/as/store/memory"
)

// lockedBuffer collects output written from other goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// authd starts an authorization server that issues client-credentials tokens for resource.
func authd(t *testing.T, resource string) string {
	t.Helper()
	ctx := context.Background()
	st := memory.New(store.Options{})
	if err := st.UpsertResource(ctx, store.Resource{URI: resource, Name: "mcpd", Scopes: []store.Scope{{Name: "mcp:tools", Default: true}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertOrganization(ctx, store.Organization{ID: "org_acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	err := st.UpsertClient(ctx, store.Client{ID: "svc", SecretHash: as.HashClientSecret("a-long-enough-secret"), TokenEndpointAuthMethod: "client_secret_basic",
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"mcp:tools"}, Resources: []string{resource}, OrgID: "org_acme"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	srv, err := as.New(ctx, issuer, st, &as.Options{KEK: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv.Handler()}}
	ts.Start()
	t.Cleanup(ts.Close)
	return issuer
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"--bogus"}, {"extra"}, {"-h"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}

func TestStartupErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("upstreams:\n  - name: x\n    comand: y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"config_file_line", []string{"--config", bad}, "bad.yaml:3: upstreams[0].comand: unknown key"},
		{"config_missing", []string{"--config", filepath.Join(dir, "none.yaml")}, "no such file"},
		{"bad_resource", []string{"--resource", "not a uri"}, "--resource"},
		{"bad_log_format", []string{"--log-format", "xml"}, "--log-format"},
		{"bad_connect_issuer", []string{"--connect-issuer", "authd"}, "--connect-issuer"},
		{"issuer_unreachable", []string{"--issuer", "http://" + freeAddr(t), "--issuer-wait", "300ms"}, "issuer http://"},
		{"issuer_http_not_loopback", []string{"--issuer", "http://authd.example:9000", "--issuer-wait", "1ms"}, "issuer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append(c.args, "--addr", "127.0.0.1:0"), &out, &errb)
			if code != 1 || !strings.Contains(errb.String(), c.want) {
				t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
			}
		})
	}
}

// TestServe runs mcpd against authd: whoami with a client-credentials token, /healthz, the configured
// origin, and a clean shutdown with a session stream open.
func TestServe(t *testing.T) {
	addr := freeAddr(t)
	resource := "http://" + addr + "/mcp"
	issuer := authd(t, resource)
	cfg := filepath.Join(t.TempDir(), "mcpd.yaml")
	if err := os.WriteFile(cfg, []byte("allowed_origins: [\"http://localhost:6274\"]\nresource_name: Test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--addr", addr, "--issuer", issuer, "--resource", resource, "--config", cfg, "--shutdown-grace", "500ms"}, &stdout, &stderr)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stdout.String(), "mcpd listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("mcpd did not start:\n%s", stderr.String())
		}
		select {
		case code := <-done:
			t.Fatalf("mcpd exited %d:\n%s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	req, _ := http.NewRequest(http.MethodPost, resource, strings.NewReader("{}"))
	req.Header.Set("Origin", "http://evil.example")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("foreign origin: %v %v", err, resp)
	}
	req, _ = http.NewRequest(http.MethodOptions, resource, nil)
	req.Header.Set("Origin", "http://localhost:6274")
	req.Header.Set("Access-Control-Request-Method", "POST")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:6274" {
		t.Fatalf("configured origin: %v %v", err, resp)
	}

	cc := clientcredentials.Config{ClientID: "svc", ClientSecret: "a-long-enough-secret", TokenURL: issuer + "/token", EndpointParams: url.Values{"resource": {resource}}}
	hc := cc.Client(context.Background())
	c := sdk.NewClient(&sdk.Implementation{Name: "t", Version: "1"}, nil)
	// The standalone SSE stream stays open: shutdown must end it.
	cs, err := c.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: resource, HTTPClient: hc}, &sdk.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "whoami"})
	if err != nil || res.IsError {
		t.Fatalf("whoami: %v %+v", err, res)
	}
	tok, _ := cc.Token(context.Background())

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("mcpd did not shut down")
	}
	logs := stderr.String()
	if !strings.Contains(logs, `"msg":"mcp request"`) || !strings.Contains(logs, `"msg":"shutting down"`) {
		t.Fatalf("logs:\n%s", logs)
	}
	if strings.Contains(logs, tok.AccessToken) || strings.Contains(logs, "a-long-enough-secret") {
		t.Fatal("a token or secret in the logs")
	}
}
