// Package chaos is lethe's chaos suite: tests, and only tests, that make
// faults for real against the real binary (built by internal/letheproc) on
// real PostgreSQL (internal/pgtest) and MinIO (internal/miniotest), and
// check lethe's promises after each fault and after a rerun:
//
//   - every subject (or organization) is fully erased with exactly one
//     receipt, or fully intact; never half;
//   - no duplicate receipts;
//   - what a run reports equals what it committed;
//   - no run stays "running" and no receipt stays "pending" once a later
//     run has passed.
//
// The faults: SIGKILL of lethe at seeded random points of every job
// (purge, retention with DETACH ... CONCURRENTLY and pg_partman, orphans,
// inactivity), pg_terminate_backend of its connection mid-purge, an
// immediate shutdown of PostgreSQL mid-run (on a private cluster), and all
// jobs at once while an application inserts rows for the subjects being
// purged and restores accounts.
//
// A "random point" is the Nth statement (or DDL command) that lethe's
// sessions run, counted by triggers in the database under test: the
// trigger of the Nth one blocks on an advisory lock the test holds, so the
// test knows lethe is exactly there, then kills it, either at once or
// after a short seeded delay (which lands anywhere: between batches,
// during object removal, during verification). The invariants hold
// whatever moment the kill lands, so no assertion depends on timing.
//
// Each test prints its seed; LETHE_CHAOS_SEED=N replays a run.
package chaos
