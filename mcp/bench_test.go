package mcp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ddls/mcpauth/dpop"
)

// handlerTransport sends requests straight to an http.Handler, without sockets, streaming the response
// body (SSE) through a pipe.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	sreq := req.Clone(req.Context())
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:50000"
	sreq.Host = req.URL.Host
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	go func() {
		t.h.ServeHTTP(w, sreq)
		w.WriteHeader(http.StatusOK) // no-op when already written
		_ = pw.Close()
	}()
	<-w.ready
	return &http.Response{StatusCode: w.status, Header: w.sent, Body: pr, Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
}

type pipeWriter struct {
	header http.Header
	sent   http.Header
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
	status int
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.status, w.sent = code, w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(p)
}

func (w *pipeWriter) Flush() { w.WriteHeader(http.StatusOK) }

// bareServer is the same go-sdk server without authorization: a whoami tool answering a fixed caller.
func bareServer() http.Handler {
	s := sdk.NewServer(&sdk.Implementation{Name: "bare", Version: "1"}, nil)
	fixed, _ := json.Marshal(map[string]any{
		"sub": "svc-reporter", "client_id": "svc-reporter", "org_id": "org_acme", "scopes": []string{"mcp:tools"},
		"connections": []string{"conn_github"}, "user_delegations": []string{}, "jkt": "rBrj6I4XlFS0HRQHSvqb3XOKW3iXhS4nlZ7q1T_r46M",
		"token_type": "DPoP", "iss": "http://127.0.0.1:39187", "aud": "http://127.0.0.1:34223/mcp", "jti": "gTfn1PCRI_c8M7dD6FhPFw",
		"iat": 1795242021, "exp": 1795242621, "expires_in": 599, "session_id": "G6ST4M7AOFTGNC4FYE4X7SIX2A",
		"protocol_version": "2025-11-25", "tools": []string{"whoami"},
	})
	s.AddTool(&sdk.Tool{Name: "whoami", InputSchema: json.RawMessage(`{"type":"object","properties":{}}`)},
		func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: string(fixed)}}, StructuredContent: json.RawMessage(fixed)}, nil
		})
	// Routed like mcpd: sessions before 2026-07-28, the stateless handler from it.
	get := func(*http.Request) *sdk.Server { return s }
	stateful := sdk.NewStreamableHTTPHandler(get, nil)
	stateless := sdk.NewStreamableHTTPHandler(get, &sdk.StreamableHTTPOptions{Stateless: true, PropagateRequestCancellation: true})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Protocol-Version") >= "2026-07-28" {
			stateless.ServeHTTP(w, r)
			return
		}
		stateful.ServeHTTP(w, r)
	})
}

func benchSession(b *testing.B, endpoint string, rt http.RoundTripper, version string) *sdk.ClientSession {
	b.Helper()
	c := sdk.NewClient(&sdk.Implementation{Name: "bench", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &http.Client{Transport: rt}, DisableStandaloneSSE: true},
		&sdk.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cs.Close() })
	return cs
}

func runWhoami(b *testing.B, cs *sdk.ClientSession) {
	b.Helper()
	ctx := context.Background()
	params := &sdk.CallToolParams{Name: "whoami"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := cs.CallTool(ctx, params)
		if err != nil || res.IsError {
			b.Fatalf("%v %+v", err, res)
		}
	}
}

type benchSetup struct {
	bare, dpop, eddsa, bearer   func(b *testing.B)
	netBare, netDPoP, netBearer func(b *testing.B)
}

func newBenchSetup(b *testing.B, version string) benchSetup {
	e := newEnv(b, envOptions{})
	key, err := dpop.GenerateKey(dpop.ES256)
	if err != nil {
		b.Fatal(err)
	}
	edKey, err := dpop.GenerateKey(dpop.EdDSA)
	if err != nil {
		b.Fatal(err)
	}
	bound := e.ccToken("svc-reporter", svcSecret, key, "mcp:tools")
	edBound := e.ccToken("svc-reporter", svcSecret, edKey, "mcp:tools")
	bareTS := httptest.NewServer(bareServer())
	b.Cleanup(bareTS.Close)
	netRT := &http.Transport{MaxIdleConnsPerHost: 16}
	b.Cleanup(netRT.CloseIdleConnections)
	plain := e.ccToken("svc-reporter", svcSecret, nil, "mcp:tools")
	mcpd := handlerTransport{e.mcpd.Handler()}
	bare := handlerTransport{bareServer()}
	return benchSetup{
		bare: func(b *testing.B) { runWhoami(b, benchSession(b, "http://localhost:8000/mcp", bare, version)) },
		dpop: func(b *testing.B) {
			runWhoami(b, benchSession(b, e.resource, &dpop.Transport{Base: mcpd, Key: key, Token: dpop.StaticToken(bound)}, version))
		},
		eddsa: func(b *testing.B) {
			runWhoami(b, benchSession(b, e.resource, &dpop.Transport{Base: mcpd, Key: edKey, Token: dpop.StaticToken(edBound)}, version))
		},
		bearer: func(b *testing.B) {
			runWhoami(b, benchSession(b, e.resource, &bearer{token: plain, base: mcpd}, version))
		},
		// The same over loopback TCP, as clients see it.
		netBare: func(b *testing.B) { runWhoami(b, benchSession(b, bareTS.URL+"/mcp", netRT, version)) },
		netDPoP: func(b *testing.B) {
			runWhoami(b, benchSession(b, e.resource, &dpop.Transport{Base: netRT, Key: key, Token: dpop.StaticToken(bound)}, version))
		},
		netBearer: func(b *testing.B) {
			runWhoami(b, benchSession(b, e.resource, &bearer{token: plain, base: netRT}, version))
		},
	}
}

// BenchmarkWhoami: tools/call whoami with the go-sdk client over Streamable HTTP, in process (no sockets):
// a bare go-sdk server, and mcpd with a DPoP-bound token (cached by rs; the proof is signed by the client
// and verified by rs on every call) and with a bearer token.
func BenchmarkWhoami(b *testing.B) {
	for _, version := range []string{"2025-11-25", "2026-07-28"} {
		s := newBenchSetup(b, version)
		b.Run(version+"/bare_go_sdk", s.bare)
		b.Run(version+"/mcpd_dpop", s.dpop)
		b.Run(version+"/mcpd_dpop_eddsa", s.eddsa)
		b.Run(version+"/mcpd_bearer", s.bearer)
		b.Run(version+"/tcp/bare_go_sdk", s.netBare)
		b.Run(version+"/tcp/mcpd_dpop", s.netDPoP)
		b.Run(version+"/tcp/mcpd_bearer", s.netBearer)
	}
}

// BenchmarkWhoamiOverhead reports, in one run, the time of tools/call whoami through mcpd with DPoP over the
// time through the bare go-sdk server (target ≤ 1.15), in process and over loopback TCP. The calls are
// interleaved (one of each per iteration), so that both see the same machine.
func BenchmarkWhoamiOverhead(b *testing.B) {
	e := newEnv(b, envOptions{})
	key, err := dpop.GenerateKey(dpop.ES256)
	if err != nil {
		b.Fatal(err)
	}
	bound := e.ccToken("svc-reporter", svcSecret, key, "mcp:tools")
	bareTS := httptest.NewServer(bareServer())
	b.Cleanup(bareTS.Close)
	netRT := &http.Transport{MaxIdleConnsPerHost: 16}
	b.Cleanup(netRT.CloseIdleConnections)
	const version = "2025-11-25"
	sessions := []*sdk.ClientSession{
		benchSession(b, "http://localhost:8000/mcp", handlerTransport{bareServer()}, version),
		benchSession(b, e.resource, &dpop.Transport{Base: handlerTransport{e.mcpd.Handler()}, Key: key, Token: dpop.StaticToken(bound)}, version),
		benchSession(b, bareTS.URL+"/mcp", netRT, version),
		benchSession(b, e.resource, &dpop.Transport{Base: netRT, Key: key, Token: dpop.StaticToken(bound)}, version),
	}
	var spent [4]time.Duration
	ctx := context.Background()
	params := &sdk.CallToolParams{Name: "whoami"}
	for _, cs := range sessions { // warm up: the token is verified once, then cached
		if _, err := cs.CallTool(ctx, params); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for i, cs := range sessions {
			start := time.Now()
			res, err := cs.CallTool(ctx, params)
			spent[i] += time.Since(start)
			if err != nil || res.IsError {
				b.Fatalf("%v %+v", err, res)
			}
		}
		n++
	}
	per := func(i int) float64 { return float64(spent[i].Nanoseconds()) / float64(n) }
	b.ReportMetric(per(0), "bare-ns/call")
	b.ReportMetric(per(1), "dpop-ns/call")
	b.ReportMetric(per(1)/per(0), "dpop/bare")
	b.ReportMetric(per(3)/per(2), "tcp-dpop/bare")
}
