package mcp_test

import (
	"slices"
	"testing"

	"github.com/ddls/mcpauth/dpop"
)

var protocolVersions = []string{"2025-06-18", "2025-11-25", "2026-07-28"}

func TestSmokeClientCredentials(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, v := range protocolVersions {
		t.Run("bearer_"+v, func(t *testing.T) {
			e := e.with(t)
			tok := e.ccToken("svc-reporter", svcSecret, nil, "mcp:tools")
			cs := e.connect(httpClient(tok, nil), v)
			if got := cs.InitializeResult().ProtocolVersion; got != v {
				t.Fatalf("negotiated %s, want %s", got, v)
			}
			if names := toolNames(t, cs); !slices.Contains(names, "whoami") {
				t.Fatalf("tools %v", names)
			}
			w := callWhoami(t, cs)
			if w.Subject != "svc-reporter" || w.TokenType != "Bearer" || w.OrgID != "org_acme" {
				t.Fatalf("whoami %+v", w)
			}
		})
		t.Run("dpop_"+v, func(t *testing.T) {
			e := e.with(t)
			key, _ := dpop.GenerateKey(dpop.ES256)
			tok := e.ccToken("svc-reporter", svcSecret, key, "mcp:tools")
			cs := e.connect(httpClient(tok, key), v)
			w := callWhoami(t, cs)
			if w.TokenType != "DPoP" || w.JKT == "" {
				t.Fatalf("whoami %+v", w)
			}
			t.Logf("%+v", w)
		})
	}
}
