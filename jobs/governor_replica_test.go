package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// replayedUpTo waits until the standby has replayed the primary's WAL as
// of now.
func replayedUpTo(t *testing.T, primary, standby *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	var lsn string
	require.NoError(t, primary.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn))
	for done := false; !done; {
		require.NoError(t, standby.QueryRow(ctx, "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn AND pg_last_xact_replay_timestamp() IS NOT NULL, false)", lsn).Scan(&done))
	}
}

// TestGovernorWaitsForAStreamingReplica runs a real standby, pauses its
// replay while the primary writes, and checks that the governor waits
// until the standby has caught up and the primary no longer reports lag.
func TestGovernorWaitsForAStreamingReplica(t *testing.T) {
	srv := pgtest.Start(t)
	if !srv.Private() {
		t.Skip("needs a private cluster to start a standby of")
	}
	db := pgtest.NewDB(t, sessionSchema)
	standby, err := srv.NewStandby([]string{"wal_receiver_status_interval=1s"})
	require.NoError(t, err)
	t.Cleanup(standby.Close)
	ctx := context.Background()
	primary, err := pgx.Connect(ctx, db.URL)
	require.NoError(t, err)
	t.Cleanup(func() { primary.Close(context.Background()) })
	replica, err := pgx.Connect(ctx, standby.AdminURL)
	require.NoError(t, err)
	t.Cleanup(func() { replica.Close(context.Background()) })

	// A commit replayed, then replay paused while the primary writes on.
	_, err = primary.Exec(ctx, "UPDATE items SET note = 'before' WHERE id = 2")
	require.NoError(t, err)
	replayedUpTo(t, primary, replica)
	_, err = replica.Exec(ctx, "SELECT pg_wal_replay_pause()")
	require.NoError(t, err)
	_, err = primary.Exec(ctx, "UPDATE items SET note = 'during' WHERE id = 2")
	require.NoError(t, err)
	const maxLag = 50 * time.Millisecond
	// Until the standby has received the write and lags by more than the
	// threshold: time passes, replay does not.
	for lagging := false; !lagging; {
		// NULL until the WAL receiver has received something.
		require.NoError(t, replica.QueryRow(ctx, `SELECT coalesce(pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()
			AND now() - pg_last_xact_replay_timestamp() > $1::interval, false)`, maxLag).Scan(&lagging))
	}

	s, clock := newSession(t, db, jobs.Limits{Governor: jobs.Governor{MaxReplicaLag: maxLag, ReplicaURLs: []string{standby.AdminURL}}})
	var seen []jobs.Health
	jobs.SetHealthProbe(s, func(h jobs.Health) { seen = append(seen, h) })
	clock.onSleep = func() {
		if len(clock.slept) > 1 {
			return
		}
		_, err := replica.Exec(ctx, "SELECT pg_wal_replay_resume()")
		require.NoError(t, err)
		replayedUpTo(t, primary, replica)
		// Until the primary, told by the standby's next status message,
		// no longer reports the paused replay as lag.
		for ok := false; !ok; {
			require.NoError(t, primary.QueryRow(ctx,
				"SELECT coalesce(max(replay_lag), '0') <= $1::interval FROM pg_stat_replication", maxLag).Scan(&ok))
		}
	}
	require.True(t, s.Continue(ctx))
	require.Greater(t, seen[0].ReplicaLag, maxLag)
	require.LessOrEqual(t, seen[len(seen)-1].ReplicaLag, maxLag)
	require.EqualValues(t, 1000, s.Report.Counter(jobs.ThrottledCounter(jobs.ReasonReplicaLag)))

	// A replica that cannot be reached counts as lagging.
	standby.Close()
	down, clock := newSession(t, db, jobs.Limits{Governor: jobs.Governor{MaxThrottle: time.Second, ReplicaURLs: []string{standby.AdminURL}}})
	require.False(t, down.Continue(ctx))
	require.EqualValues(t, 1000, down.Report.Counter(jobs.ThrottledCounter(jobs.ReasonReplicaUnreachable)))
	require.EqualValues(t, 1, down.Report.Counter(jobs.ThrottledOut))
	_ = clock
}
