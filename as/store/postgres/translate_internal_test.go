package postgres

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

// TestTranslateUnavailable: connection-level failures are store.ErrUnavailable (the caller answers 503),
// everything else keeps its meaning.
func TestTranslateUnavailable(t *testing.T) {
	for name, c := range map[string]struct {
		in          error
		unavailable bool
		is          error
	}{
		"no_connection":        {fmt.Errorf("dial tcp 127.0.0.1:5432: connect: connection refused"), true, nil},
		"08006_conn_failure":   {&pgconn.PgError{Code: "08006"}, true, nil},
		"57P01_admin_shutdown": {&pgconn.PgError{Code: "57P01"}, true, nil},
		"53300_too_many_conns": {&pgconn.PgError{Code: "53300"}, true, nil},
		"no_rows":              {pgx.ErrNoRows, false, fosite.ErrNotFound},
		"unique_violation":     {&pgconn.PgError{Code: codeUniqueViolation}, false, store.ErrConflict},
		"syntax_error":         {&pgconn.PgError{Code: "42601"}, false, nil},
	} {
		t.Run(name, func(t *testing.T) {
			err := translate("op", c.in)
			if got := errors.Is(err, store.ErrUnavailable); got != c.unavailable {
				t.Fatalf("translate(%v) = %v: unavailable %v, want %v", c.in, err, got, c.unavailable)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("translate(%v) = %v, want %v", c.in, err, c.is)
			}
		})
	}
}
