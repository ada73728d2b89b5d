package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lethe-project/lethe/internal/pgerr"
)

// Hook is called once when a run ends, whatever its outcome; the metrics
// push is one.
type Hook func(ctx context.Context, r *Report, err error)

// Runner runs one job and reports on it.
type Runner struct {
	// Logger receives the summary line.
	Logger *slog.Logger
	// Table, when not nil, receives a readable summary table (a terminal).
	Table io.Writer
	// Hooks run after the job, in order.
	Hooks []Hook
	// Pool is the application's database, where runs are recorded.
	Pool *pgxpool.Pool
	// KeyFingerprint identifies the subject hash key, recorded with each
	// run; empty without a key.
	KeyFingerprint string
}

// Run runs job, logs its summary and returns the report and the exit code.
// The error it shows (log, table, hooks) quotes no value from the server
// (see [pgerr.Redact]).
func (rn *Runner) Run(ctx context.Context, job Job, limits Limits) (*Report, int) {
	r, err := rn.Execute(ctx, job, limits)
	err = pgerr.Redact(err)
	code := ExitCode(err)
	rn.summary(r, err, code)
	if rn.Table != nil {
		WriteTable(rn.Table, r, err)
	}
	for _, h := range rn.Hooks {
		h(ctx, r, err)
	}
	return r, code
}

// Execute runs job in a session of its own and records how the run ended
// (when the job started it, see [Session.Start]); it returns the report and
// the job's error as it is. Run is Execute plus the summary, the table and
// the hooks.
func (rn *Runner) Execute(ctx context.Context, job Job, limits Limits) (*Report, error) {
	r := NewReport(job.Name(), limits.DryRun)
	logger := rn.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	limits.Governor = perProcess(pacedShareOf(job, limits.Governor), max(limits.Governor.Processes, limits.Shard.Count))
	s := NewSession(rn.Pool, limits, r, logger.With("job", job.Name()))
	s.KeyFingerprint = rn.KeyFingerprint
	err := job.Run(ctx, s)
	r.Duration = time.Since(r.Started)
	return r, s.finish(ctx, err)
}

// PacedShareCapper is a job with a default cap of its own on its share of
// database time while the application works (Governor.MaxShare), below
// the run's default: one whose work costs the application more per second
// of it.
type PacedShareCapper interface {
	PacedShareCap() float64
}

// pacedShareOf gives g job's own cap when g sets none (LETHE_MAX_DB_SHARE
// unset), and lowers the floor to it when g sets no floor either; a cap
// or floor the operator set stays.
func pacedShareOf(job Job, g Governor) Governor {
	c, ok := job.(PacedShareCapper)
	if !ok || g.MaxShare != 0 {
		return g
	}
	g.MaxShare = c.PacedShareCap()
	if g.MinShare == 0 {
		g.MinShare = min(DefaultMinShare, g.MaxShare)
	}
	return g
}

// perProcess gives one of n processes that run a job at once its part of
// g's share caps (their defaults when unset): the caps bound what the job
// takes beside the application, however many pods run it.
func perProcess(g Governor, n int) Governor {
	if n <= 1 {
		return g
	}
	d := g
	d.setDefaults()
	g.MinShare, g.MaxShare = d.MinShare/float64(n), d.MaxShare/float64(n)
	return g
}

func (rn *Runner) summary(r *Report, err error, code int) {
	attrs := []any{
		slog.String("job", r.Job),
		slog.Bool("dry_run", r.DryRun),
		slog.Float64("duration_seconds", r.Duration.Seconds()),
		slog.Int("exit_code", code),
	}
	attrs = append(attrs, slog.Any("rows", rowList(r.RowCounts())))
	var counters []string
	for k := range r.Counters {
		counters = append(counters, k)
	}
	sort.Strings(counters)
	for _, k := range counters {
		attrs = append(attrs, slog.Int64(k, r.Counter(Counter(k))))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", OneLine(err)))
		rn.Logger.Error("run failed", attrs...)
		return
	}
	rn.Logger.Info("run finished", attrs...)
}

// WriteTable prints a report as an aligned table for people.
func WriteTable(w io.Writer, r *Report, err error) {
	mode := ""
	if r.DryRun {
		mode = " (dry run: nothing was changed)"
	}
	fmt.Fprintf(w, "\nlethe %s%s, %s\n", r.Job, mode, r.Duration.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	verb := "rows"
	if r.DryRun {
		verb = "rows (would be)"
	}
	fmt.Fprintf(tw, "  TABLE\tACTION\t%s\n", strings.ToUpper(verb))
	for _, rc := range r.RowCounts() {
		fmt.Fprintf(tw, "  %s\t%s\t%d\n", rc.Table, rc.Action, rc.Rows)
	}
	tw.Flush()
	var counters []string
	for k := range r.Counters {
		counters = append(counters, k)
	}
	sort.Strings(counters)
	for _, k := range counters {
		fmt.Fprintf(w, "  %s: %d\n", counterLabel(k), r.Counter(Counter(k)))
	}
	if err != nil {
		fmt.Fprintf(w, "  FAILED (exit %d): %v\n", ExitCode(err), err)
	}
}

// counterLabel spells a counter for people: "subjects_done" as "subjects
// done", and "audit_events.rows_left" as "audit_events.rows left", the
// table's name as it is.
func counterLabel(k string) string {
	i := strings.LastIndexByte(k, '.') + 1
	return k[:i] + strings.ReplaceAll(k[i:], "_", " ")
}

// OneLine joins the lines of a multi-line error (a policy's problems) with
// "; " for a log attribute, where a text handler would show a literal \n.
func OneLine(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

// rowList logs as a JSON list of {table, action, rows} objects, and as
// "table action=n, ..." in text logs.
type rowList []RowCount

func (l rowList) MarshalJSON() ([]byte, error) {
	type row struct {
		Table  string `json:"table"`
		Action string `json:"action"`
		Rows   int64  `json:"rows"`
	}
	out := make([]row, len(l))
	for i, rc := range l {
		out[i] = row(rc)
	}
	return json.Marshal(out)
}

func (l rowList) MarshalText() ([]byte, error) {
	parts := make([]string, len(l))
	for i, rc := range l {
		parts[i] = fmt.Sprintf("%s %s=%d", rc.Table, rc.Action, rc.Rows)
	}
	return []byte(strings.Join(parts, ", ")), nil
}
