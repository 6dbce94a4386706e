// https://www.rfc-editor.org/rfc/rfc9449

// Package dpoptest holds test helpers for implementations of dpop's interfaces: RunReplayStore, the
// conformance suite every dpop.ReplayStore passes (RFC 9449 §11.1: a proof is accepted once), and Clock, a
// settable clock.
//
// It is imported by tests only (dpop's own, package pgreplay's, and those of any other ReplayStore).
//
// Not supported:
//   - Suites for the other parts of dpop (Verifier, NonceSource, Transport): they are tested in package dpop.
//   - Store-specific behaviour such as bounds (dpop.MemoryReplayStore) or purging (pgreplay.Store): each
//     store tests it beside the suite.
package dpoptest
