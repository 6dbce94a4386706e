// https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#session-management
// https://modelcontextprotocol.io/specification/2025-11-25/basic/security_best_practices#session-hijacking

package mcp

import (
	"net/http"
	"sync"
	"time"

	"github.com/ddls/mcpauth/rs"
)

// sessionTable binds each MCP session id to the caller that created it (issuer, subject, client), so that
// another caller presenting the id is refused as if the session did not exist. MCP security best practices,
// "Session Hijacking": servers "MUST NOT use sessions for authentication" and "SHOULD bind session IDs to
// user-specific information"; every request is still authenticated by its own token (rs). The SDK makes the
// same check on TokenInfo.UserID; this table answers 404 (MCP transports: "the server MUST respond to
// requests containing that session ID with HTTP 404") so that the answer does not reveal that the session
// exists, and expires entries on its own clock.
type sessionTable struct {
	mu        sync.Mutex
	m         map[string]*sessionEntry
	idle      time.Duration
	now       func() time.Time
	lastSweep time.Time
}

type sessionEntry struct {
	owner    string
	lastSeen time.Time
}

// maxSessions bounds the table: each entry is small, but an unbounded table is an easy memory sink.
const maxSessions = 100_000

func newSessionTable(idle time.Duration, now func() time.Time) *sessionTable {
	// The SDK closes a session idle for SessionTimeout; the binding outlives it a little so that an expired
	// session is refused by the SDK (404 too), not by a binding that vanished first.
	return &sessionTable{m: map[string]*sessionEntry{}, idle: idle + time.Minute, now: now}
}

// check reports whether id belongs to owner, and marks it used.
func (t *sessionTable) check(id, owner string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[id]
	if !ok || e.owner != owner || owner == "" {
		return false
	}
	now := t.now()
	if now.Sub(e.lastSeen) > t.idle {
		delete(t.m, id)
		return false
	}
	e.lastSeen = now
	return true
}

func (t *sessionTable) add(id, owner string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if now.Sub(t.lastSweep) > time.Minute || len(t.m) >= maxSessions {
		for k, e := range t.m {
			if now.Sub(e.lastSeen) > t.idle {
				delete(t.m, k)
			}
		}
		t.lastSweep = now
	}
	if len(t.m) >= maxSessions {
		return false
	}
	if _, exists := t.m[id]; exists {
		return false // never rebind an id to someone else
	}
	t.m[id] = &sessionEntry{owner: owner, lastSeen: now}
	return true
}

func (t *sessionTable) remove(id string) {
	t.mu.Lock()
	delete(t.m, id)
	t.mu.Unlock()
}

func (t *sessionTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// guard wraps the SDK's stateful handler.
func (t *sessionTable) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		owner := ownerKey(rs.PrincipalFrom(r.Context()))
		if id := r.Header.Get(headerSessionID); id != "" {
			if !t.check(id, owner) {
				writeJSONRPCError(w, http.StatusNotFound, CodeInvalidRequest, "session not found")
				return
			}
			if r.Method == http.MethodDelete {
				sw := &sessionWriter{ResponseWriter: w}
				next.ServeHTTP(sw, r)
				if sw.status >= 200 && sw.status < 300 {
					t.remove(id)
				}
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		// A request without a session id may create one (initialize): bind it before the client can use it,
		// that is before the response headers leave.
		sw := &sessionWriter{ResponseWriter: w, onHeader: func(h http.Header) {
			if id := h.Get(headerSessionID); id != "" && !t.add(id, owner) {
				h.Del(headerSessionID) // full table: the client gets no usable session
			}
		}}
		next.ServeHTTP(sw, r)
	})
}

// sessionWriter observes the status and headers of a response; it keeps Flush working (SSE streams).
type sessionWriter struct {
	http.ResponseWriter
	onHeader func(http.Header)
	status   int
}

func (w *sessionWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if w.onHeader != nil {
			w.onHeader(w.Header())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *sessionWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *sessionWriter) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *sessionWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
