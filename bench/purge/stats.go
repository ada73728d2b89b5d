package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lethe-project/lethe/bench/internal/servercpu"
)

// statsSettings loads pg_stat_statements into the bench server, for
// -profile.
var statsSettings = []string{"shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all",
	"pg_stat_statements.max=10000", "pg_stat_statements.track_planning=on", "track_io_timing=on"}

// resetStats forgets what the server's statements did so far; the next
// printStats shows one variant's run.
func resetStats(ctx context.Context, u string) error {
	c, err := connect(ctx, u)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return err
	}
	_, err = c.Exec(ctx, "SELECT pg_stat_statements_reset()")
	return err
}

// printStats prints the top statements of the database at u by total
// execution time (nested ones too: the foreign-key checks and the
// statements inside lethe's CTEs), per call and per erased subject.
func printStats(ctx context.Context, u, label string, subjects int) error {
	c, err := connect(ctx, u)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	var calls int64
	var exec, walMB float64
	if err := c.QueryRow(ctx, `SELECT coalesce(sum(calls), 0)::int8, coalesce(sum(total_exec_time + total_plan_time), 0), coalesce(sum(wal_bytes), 0)::float8 / 1e6
		FROM pg_stat_statements WHERE toplevel AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&calls, &exec, &walMB); err != nil {
		return err
	}
	fmt.Printf("    pg_stat_statements, %s (%d subjects): top-level statements %d calls, %.0f ms, %.1f MB of WAL\n", label, subjects, calls, exec, walMB)
	rows, err := c.Query(ctx, `SELECT calls, total_exec_time, total_plan_time, rows, shared_blks_hit, shared_blks_read, blk_read_time,
		wal_bytes::float8 / 1024, left(regexp_replace(query, '\s+', ' ', 'g'), 110)
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY total_exec_time DESC LIMIT 30`)
	if err != nil {
		return err
	}
	defer rows.Close()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "calls\texec ms\tplan ms\tµs/subject\trows\tblks hit\tblks read\tread ms\tWAL kB\t query")
	s := float64(max(subjects, 1))
	for rows.Next() {
		var calls, nrows, hit, read int64
		var exec, plan, readMS float64
		var walKB float64
		var q string
		if err := rows.Scan(&calls, &exec, &plan, &nrows, &hit, &read, &readMS, &walKB, &q); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f\t%d\t%d\t%d\t%.0f\t%.0f\t %s\n", calls, exec, plan, exec*1000/s, nrows, hit, read, readMS, walKB,
			strings.TrimSpace(q))
	}
	tw.Flush()
	return rows.Err()
}

// timeVacuum vacuums the database at u, after a run that left the server
// at cpu0 of CPU time, and returns how long it took and the server's CPU
// time for it: the cleanup of the run's dead rows, which lethe's batches
// partly do as they go (pruning pages) and one transaction leaves to it.
func timeVacuum(ctx context.Context, u string, cpu0 time.Duration) (time.Duration, time.Duration, error) {
	c, err := connect(ctx, u)
	if err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	_, err = c.Exec(ctx, "VACUUM")
	el := time.Since(t0)
	c.Close(ctx)
	if err != nil {
		return 0, 0, err
	}
	cpu1, err := servercpu.Read(ctx, u)
	return el, cpu1 - cpu0, err
}
