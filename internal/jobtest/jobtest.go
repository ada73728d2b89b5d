// Package jobtest holds what the tests of every job share: running a job
// the way the runner does, a logger that writes to the test's output, and
// keys derived from names.
package jobtest

import (
	"context"
	"crypto/md5"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/jobs"
)

// Run runs job as the runner does (a session of its own, the run recorded
// in lethe.runs from Session.Start to its end) with limits, and returns the
// report and the job's error. It gives the run two minutes.
func Run(t testing.TB, pool *pgxpool.Pool, job jobs.Job, limits jobs.Limits) (*jobs.Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rn := &jobs.Runner{Pool: pool, Logger: Logger(t)}
	r, err := rn.Execute(ctx, job, limits)
	t.Logf("report: rows %v counters %v err %v", r.Rows, r.Counters, err)
	return r, err
}

// Logger returns a debug logger that writes to the test's output.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// MD5UUID derives a stable uuid from a name, as PostgreSQL's
// md5(name)::uuid does, so tests can name subjects.
func MD5UUID(name string) string {
	h := fmt.Sprintf("%x", md5.Sum([]byte(name)))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
