package memory_test

import (
	"testing"

	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/as/store/memory"
	"github.com/ddls/mcpauth/as/store/storetest"
)

func newStore(t *testing.T, opts store.Options) store.Store {
	s := memory.New(opts)
	t.Cleanup(s.Close)
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, newStore) }

func BenchmarkCreateAccessTokenSession(b *testing.B) {
	storetest.BenchCreateAccessTokenSession(b, memory.New(store.Options{}))
}

func BenchmarkGetClient(b *testing.B) { storetest.BenchGetClient(b, memory.New(store.Options{})) }

func BenchmarkRefreshRotation(b *testing.B) {
	storetest.BenchRefreshRotation(b, memory.New(store.Options{}))
}
