package dpoptest

import (
	"github.com/ddls/mcpauth/internal/testclock"
	"time"
)

// Clock is a settable clock for tests that move time; its Now method fits the Now fields of dpop's options.
type Clock = testclock.Clock

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return testclock.New(t) }
