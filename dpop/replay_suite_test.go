// https://www.rfc-editor.org/rfc/rfc9449

package dpop_test

import (
	"testing"
	"time"

	"github.com/ddls/mcpauth/dpop"
	"github.com/ddls/mcpauth/dpop/dpoptest"
)

// The conformance suite runs here, in an external test package, because dpoptest imports dpop.
func TestMemoryReplayStore(t *testing.T) {
	dpoptest.RunReplayStore(t, func(t *testing.T, now func() time.Time) dpop.ReplayStore {
		s, err := dpop.NewMemoryReplayStore(&dpop.MemoryReplayOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
