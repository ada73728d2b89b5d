package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

func TestExitCode(t *testing.T) {
	require.Equal(t, ExitOK, ExitCode(nil))
	require.Equal(t, ExitFailed, ExitCode(errors.New("batch failed")))
	require.Equal(t, ExitConfig, ExitCode(&ConfigError{Err: errors.New("x")}))
	require.Equal(t, ExitConfig, ExitCode(fmt.Errorf("wrapped: %w", &policy.Error{Problems: []policy.Problem{{Msg: "x"}}})))
	require.Equal(t, ExitGuard, ExitCode(fmt.Errorf("wrapped: %w", &GuardError{Reason: "too many"})))
	for _, code := range []string{"28P01", "28000", "3D000"} {
		require.Equal(t, ExitConfig, ExitCode(fmt.Errorf("connect: %w", &pgconn.PgError{Code: code})), code)
	}
	require.Equal(t, ExitFailed, ExitCode(&pgconn.PgError{Code: "57P01"}), "admin shutdown is transient")
	// A guard refusal wins over a configuration problem found with it.
	require.Equal(t, ExitGuard, ExitCode(errors.Join(&ConfigError{Err: errors.New("x")}, &GuardError{Reason: "y"})))
}

type fakeJob struct{ err error }

func (fakeJob) Name() string { return "fake" }
func (j fakeJob) Run(_ context.Context, s *Session) error {
	r := s.Report
	r.AddRows("users", "delete", 3)
	r.AddRows(`"UserProfiles"`, "delete", 2)
	r.Add("subjects_done", 3)
	return j.err
}

func TestRunnerSummary(t *testing.T) {
	var logs, table bytes.Buffer
	rn := &Runner{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Table: &table}
	var hooked *Report
	rn.Hooks = append(rn.Hooks, func(_ context.Context, r *Report, err error) { hooked = r })
	_, code := rn.Run(context.Background(), fakeJob{}, Limits{})
	require.Equal(t, 0, code)
	require.NotNil(t, hooked, "hooks run after every run")
	var line map[string]any
	require.NoError(t, json.Unmarshal(logs.Bytes(), &line))
	require.Equal(t, "run finished", line["msg"])
	require.Equal(t, []any{
		map[string]any{"table": `"UserProfiles"`, "action": "delete", "rows": float64(2)},
		map[string]any{"table": "users", "action": "delete", "rows": float64(3)},
	}, line["rows"])
	require.Contains(t, table.String(), "subjects done: 3")

	logs.Reset()
	_, code = rn.Run(context.Background(), fakeJob{err: &GuardError{Reason: "too many"}}, Limits{})
	require.Equal(t, 3, code)
	require.True(t, strings.Contains(logs.String(), `"level":"ERROR"`) && strings.Contains(logs.String(), "refused: too many"))
}

type tableJob struct{ err error }

func (tableJob) Name() string { return "retention" }
func (j tableJob) Run(_ context.Context, s *Session) error {
	r := s.Report
	r.AddRows("audit_events", "delete", 7)
	r.Add("audit_events.rows_left", 5)
	r.Add("rows_left", 5)
	return j.err
}

// TestTableKeepsTableNames: the summary table turned audit_events into
// "audit events" along with the counter's own name.
func TestTableKeepsTableNames(t *testing.T) {
	var table bytes.Buffer
	rn := &Runner{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Table: &table}
	rn.Run(context.Background(), tableJob{}, Limits{})
	require.Contains(t, table.String(), "audit_events.rows left: 5")
	require.Contains(t, table.String(), "  rows left: 5")
	require.NotContains(t, table.String(), "audit events")
}

// TestMultiLineErrorsLogOnOneLine: the text handler quoted a multi-line
// error, so every policy problem after the first showed behind a literal \n.
func TestMultiLineErrorsLogOnOneLine(t *testing.T) {
	var logs bytes.Buffer
	rn := &Runner{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	perr := &policy.Error{Path: "p.yaml"}
	perr.Add(3, "first problem")
	perr.Add(5, "second problem")
	_, code := rn.Run(context.Background(), tableJob{err: perr}, Limits{})
	require.Equal(t, ExitConfig, code)
	require.Contains(t, logs.String(), `error="policy p.yaml: 2 problems; line 3: first problem; line 5: second problem"`)
	require.NotContains(t, logs.String(), `\n`)
}
