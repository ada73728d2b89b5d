package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// healthSQL reads the primary's health: $1 the backend pids of this run.
// Other lethe processes are known by their application_name, so that a
// pod also waits for the lock waiters another pod caused.
const healthSQL = `
WITH lethe AS (
  SELECT array_agg(pid) || $1::int[] AS pids FROM pg_stat_activity
  WHERE application_name = 'lethe' AND datname = current_database())
SELECT
  coalesce((SELECT extract(epoch FROM max(replay_lag)) FROM pg_stat_replication), 0)::float8,
  (SELECT count(*) FROM pg_stat_activity w, lethe
   WHERE w.datname = current_database() AND w.wait_event_type = 'Lock'
     AND NOT w.pid = ANY (lethe.pids) AND pg_blocking_pids(w.pid) && lethe.pids)::int,
  (SELECT count(*) FROM pg_stat_activity
   WHERE backend_type = 'client backend' AND state <> 'idle' AND pid <> pg_backend_pid())::int,
  current_setting('max_connections')::int,
  (SELECT count(*) FROM pg_stat_activity a, lethe
   WHERE a.datname = current_database() AND a.backend_type = 'client backend'
     AND a.pid <> pg_backend_pid() AND NOT a.pid = ANY (lethe.pids)
     AND (a.state <> 'idle' OR a.state_change > now() - interval '1 second'))::int`

// replicaLagSQL is a replica's own replay lag: zero when it has replayed
// all it received.
const replicaLagSQL = `
SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0
            WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8`

// readHealth reads the database's health.
func (s *Session) readHealth(ctx context.Context, g *governor) (Health, error) {
	var h Health
	var lag float64
	err := s.Pool.QueryRow(ctx, healthSQL, s.backendPIDs()).Scan(&lag, &h.LockWaiters, &h.Active, &h.MaxActive, &h.AppSessions)
	if err != nil {
		return h, fmt.Errorf("governor: read health: %w", err)
	}
	h.ReplicaLag = seconds(lag)
	if g.cfg.MaxActive > 0 {
		h.MaxActive = g.cfg.MaxActive
	} else {
		h.MaxActive = int(DefaultActiveShare * float64(h.MaxActive))
	}
	for _, u := range g.cfg.ReplicaURLs {
		l, err := g.replicaLag(ctx, u)
		if err != nil {
			s.Logger.Warn("governor: replica not reachable", slog.String("error", OneLine(err)))
			h.ReplicaDown = true
			continue
		}
		h.ReplicaLag = max(h.ReplicaLag, l)
	}
	h.LastBatch = g.lastBatch
	return h, nil
}

func (g *governor) replicaLag(ctx context.Context, url string) (time.Duration, error) {
	c := g.replicas[url]
	if c == nil || c.IsClosed() {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var err error
		if c, err = pgx.Connect(cctx, url); err != nil {
			return 0, errors.New("connect failed")
		}
		g.replicas[url] = c
	}
	var lag float64
	if err := c.QueryRow(ctx, replicaLagSQL).Scan(&lag); err != nil {
		_ = c.Close(context.WithoutCancel(ctx))
		return 0, fmt.Errorf("read replay lag: %w", err)
	}
	return seconds(lag), nil
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
