package main

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/internal/jobtest"
)

// oltp is the application's traffic on the tables lethe works on, at a
// fixed rate (open loop: a transaction's latency counts from when it was
// due, so a stall that delays the next ones shows in their latency too):
// half read a user and their last 20 activities, a third update the
// user's last_active_at, the rest log an activity. Users are active ones
// (never asked for deletion).
type oltp struct {
	pool   *pgxpool.Pool
	users  []string
	rate   int
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	lat    []time.Duration
	errs   int
}

const (
	readSQL   = `SELECT u.email, (SELECT count(*) FROM (SELECT 1 FROM activity_log a WHERE a.user_id = u.id ORDER BY a.created_at DESC LIMIT 20) s) FROM users u WHERE u.id = $1`
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
	interval := time.Second / time.Duration(rate)
	due := make(chan time.Time, rate*10)
	// A pool of senders: as many as needed to keep the rate while some
	// transactions wait on locks, without queueing at the client.
	for range 16 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for at := range due {
				l.one(ctx, at)
			}
		}()
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(due)
		next := time.Now()
		for {
			next = next.Add(interval)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(next)):
				due <- next
			}
		}
	}()
	return l
}

func (l *oltp) one(ctx context.Context, due time.Time) {
	u := l.users[rand.N(len(l.users))]
	var err error
	switch k := rand.N(6); {
	case k < 3:
		var email string
		var n int
		err = l.pool.QueryRow(ctx, readSQL, u).Scan(&email, &n)
	case k < 5:
		_, err = l.pool.Exec(ctx, updateSQL, u)
	default:
		_, err = l.pool.Exec(ctx, insertSQL, u)
	}
	took := time.Since(due)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			l.errs++
		}
		return
	}
	l.lat = append(l.lat, took)
}

// latencies is what the load saw.
type latencies struct {
	n, errs  int
	p50, p99 time.Duration
	max      time.Duration
}

// stop ends the load and returns its latencies.
func (l *oltp) stop() latencies {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := latencies{n: len(l.lat), errs: l.errs}
	if len(l.lat) == 0 {
		return out
	}
	slices.Sort(l.lat)
	out.p50 = l.lat[len(l.lat)/2]
	out.p99 = l.lat[len(l.lat)*99/100]
	out.max = l.lat[len(l.lat)-1]
	return out
}
