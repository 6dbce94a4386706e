package pgtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go/modules/postgres"
)

// container is the test binary's PostgreSQL container, started on first use. It is process-wide on purpose:
// one server per test binary, reaped by testcontainers when the process exits.
var container struct {
	once sync.Once
	url  string
	err  error
}

func containerURL() (string, error) {
	container.once.Do(func() {
		defer func() {
			if r := recover(); r != nil { // some Docker setups make the provider panic instead of failing
				container.err = fmt.Errorf("testcontainers: %v", r)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, err := postgres.Run(ctx, "postgres:16-alpine",
			postgres.WithDatabase("test"), postgres.WithUsername("postgres"), postgres.WithPassword("postgres"),
			postgres.BasicWaitStrategies())
		if err != nil {
			container.err = err
			return
		}
		container.url, container.err = c.ConnectionString(ctx, "sslmode=disable")
	})
	return container.url, container.err
}
