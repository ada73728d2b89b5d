package main

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/internal/jobtest"
)

// oltp is the application's traffic on the tables lethe works on, at a
// fixed rate (open loop: a transaction's latency counts from when it was
// due, so a stall that delays the next ones shows in their latency too):
// half read a user and their last 20 activities (read-only: no commit
// record, no WAL flush), a third update the user's last_active_at, the rest
// log an activity. The writes run as BEGIN, statement, COMMIT so that the
// COMMIT (the WAL flush synchronous_commit waits for) is timed on its own.
// Users are active ones (never asked for deletion). Each transaction is
// tagged with the window that was current when it was due.
type oltp struct {
	pool    *pgxpool.Pool
	users   []string
	rate    int
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	window  atomic.Int32 // index into the run's windows; -1: not measured
	mu      sync.Mutex
	samples []sample
	errs    int
}

// Transaction classes of the load.
const (
	classRead uint8 = iota
	classUpdate
	classInsert
)

// sample is one transaction of the load.
type sample struct {
	due    time.Time // when it was due
	window int32
	class  uint8
	lat    time.Duration // from when it was due to when it returned
	commit time.Duration // of which the COMMIT took (writes only)
}

// readSQL reads a user and their activity of the last 30 days, as an
// application's activity page does: bounded in time, so that on the table
// partitioned by week (c2, c3) it reads the recent partitions only.
// Without the bound every read probed all 63 partitions and the load alone
// had a p99 near 1 s on 2 cores, which left nothing to measure.
const (
	readSQL   = `SELECT u.email, (SELECT count(*) FROM (SELECT 1 FROM activity_log a WHERE a.user_id = u.id AND a.created_at > now() - interval '30 days' ORDER BY a.created_at DESC LIMIT 20) s) FROM users u WHERE u.id = $1`
	updateSQL = `UPDATE users SET last_active_at = now() WHERE id = $1`
	insertSQL = `INSERT INTO activity_log (user_id, action) VALUES ($1, 'view')`
)

// activeUsers are the keys of users that never asked for deletion: user
// i for i > eligible (see build.go).
func activeUsers(users, eligible int) []string {
	var out []string
	for i := eligible + 1; i <= users; i += max(1, (users-eligible)/5000) {
		out = append(out, jobtest.MD5UUID("user"+strconv.Itoa(i)))
	}
	return out
}

func startOLTP(pool *pgxpool.Pool, users []string, rate int) *oltp {
	ctx, cancel := context.WithCancel(context.Background())
	l := &oltp{pool: pool, users: users, rate: rate, cancel: cancel}
	l.window.Store(-1)
	interval := time.Second / time.Duration(rate)
	type due struct {
		at  time.Time
		win int32
	}
	dues := make(chan due, rate*10)
	// A pool of senders: as many as needed to keep the rate while some
	// transactions wait on locks, without queueing at the client.
	for range 16 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for d := range dues {
				l.one(ctx, d.at, d.win)
			}
		}()
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(dues)
		next := time.Now()
		for {
			next = next.Add(interval)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(next)):
				dues <- due{next, l.window.Load()}
			}
		}
	}()
	return l
}

func (l *oltp) one(ctx context.Context, due time.Time, win int32) {
	u := l.users[rand.N(len(l.users))]
	s := sample{due: due, window: win}
	var err error
	switch k := rand.N(6); {
	case k < 3:
		var email string
		var n int
		err = l.pool.QueryRow(ctx, readSQL, u).Scan(&email, &n)
	case k < 5:
		s.class = classUpdate
		s.commit, err = l.write(ctx, updateSQL, u)
	default:
		s.class = classInsert
		s.commit, err = l.write(ctx, insertSQL, u)
	}
	s.lat = time.Since(due)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			l.errs++
		}
		return
	}
	l.samples = append(l.samples, s)
}

// write runs sql in a transaction of its own and returns how long its
// COMMIT took.
func (l *oltp) write(ctx context.Context, sql, u string) (time.Duration, error) {
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, sql, u); err != nil {
		return 0, err
	}
	started := time.Now()
	err = tx.Commit(ctx)
	return time.Since(started), err
}

// stop ends the load and returns what it saw.
func (l *oltp) stop() ([]sample, int) {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.samples, l.errs
}
