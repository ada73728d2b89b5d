package jobs

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// A job's error that carries a server error quoting a value (as
// PostgreSQL's 22003 does) reaches neither the log, the table nor the
// hooks with the value; the exit code is unchanged.
func TestRunnerNeverShowsAValueFromTheServer(t *testing.T) {
	const key = "99999999999999999999"
	pe := &pgconn.PgError{Severity: "ERROR", Code: "22003", Message: `value "` + key + `" is out of range for type bigint`,
		Detail: "Key (id)=(" + key + ") is still referenced."}
	var logs, table bytes.Buffer
	rn := &Runner{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Table: &table}
	var hooked error
	rn.Hooks = append(rn.Hooks, func(_ context.Context, _ *Report, err error) { hooked = err })
	_, code := rn.Run(context.Background(), fakeJob{err: fmt.Errorf("purge batch: %w", pe)}, false)
	require.Equal(t, ExitFailed, code)
	require.Contains(t, logs.String(), "numeric value out of range for type bigint (SQLSTATE 22003)")
	require.NotContains(t, logs.String(), key)
	require.NotContains(t, table.String(), key)
	require.NotContains(t, hooked.Error(), key)
}
