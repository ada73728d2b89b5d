package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/bench/internal/servercpu"
)

// diag (-diag) says what the load pays for during a window: the server's
// CPU and I/O by kind of process (the load's backends, lethe's, autovacuum,
// the background writers), read from /proc every 200 ms and attributed to
// the window then current, and the cluster's WAL and buffer counters
// (pg_stat_wal, pg_stat_bgwriter, pg_stat_database) at each window's
// start and end.
type diag struct {
	mu     sync.Mutex
	conn   *pgx.Conn
	last   map[int]procUse // by pid
	cur    int32           // window; -1 none
	per    map[int32]map[string]procUse
	counts map[int32]clusterCounters
	start  clusterCounters
	opened time.Time
	secs   map[int32]float64
	cancel context.CancelFunc
	done   chan struct{}
}

// procUse is CPU (clock ticks) and storage I/O (bytes) of a process.
type procUse struct{ cpu, read, write int64 }

func (a procUse) sub(b procUse) procUse {
	return procUse{a.cpu - b.cpu, a.read - b.read, a.write - b.write}
}
func (a procUse) add(b procUse) procUse {
	return procUse{a.cpu + b.cpu, a.read + b.read, a.write + b.write}
}

// clusterCounters are cumulative counters of the cluster.
type clusterCounters struct {
	walBytes, walFPI, walRecords, walSync                      int64
	checkpoints, bufCheckpoint, bufClean, bufBackend, bufAlloc int64
	blksRead, blksHit                                          int64
	deadTup, autovacuums                                       int64
}

const countersSQL = `SELECT w.wal_bytes::bigint, w.wal_fpi, w.wal_records, w.wal_sync,
  b.checkpoints_timed + b.checkpoints_req, b.buffers_checkpoint, b.buffers_clean, b.buffers_backend, b.buffers_alloc,
  d.blks_read, d.blks_hit,
  coalesce((SELECT sum(n_dead_tup) FROM pg_stat_user_tables), 0)::bigint,
  coalesce((SELECT sum(autovacuum_count) FROM pg_stat_user_tables), 0)::bigint
FROM pg_stat_wal w, pg_stat_bgwriter b, pg_stat_database d WHERE d.datname = current_database()`

const activitySQL = `SELECT pid, coalesce(nullif(application_name, ''), backend_type) FROM pg_stat_activity`

func newDiag() *diag {
	return &diag{last: map[int]procUse{}, cur: -1, per: map[int32]map[string]procUse{},
		counts: map[int32]clusterCounters{}, secs: map[int32]float64{}}
}

// attach starts sampling the database at url (one round's copy).
func (d *diag) attach(ctx context.Context, url string) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithCancel(ctx)
	d.conn, d.cancel, d.done, d.cur = c, cancel, make(chan struct{}), -1
	d.last = map[int]procUse{}
	go func() {
		defer close(d.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-dctx.Done():
				return
			case <-t.C:
				d.sample(dctx)
			}
		}
	}()
	return nil
}

func (d *diag) sample(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rows, err := d.conn.Query(ctx, activitySQL)
	if err != nil {
		return
	}
	kinds := map[int]string{}
	for rows.Next() {
		var pid int
		var kind string
		if rows.Scan(&pid, &kind) == nil {
			kinds[pid] = kind
		}
	}
	rows.Close()
	seen := map[int]procUse{}
	for pid, kind := range kinds {
		u, err := readProc(pid)
		if err != nil {
			continue
		}
		seen[pid] = u
		prev, ok := d.last[pid]
		if !ok || d.cur < 0 {
			continue
		}
		if d.per[d.cur] == nil {
			d.per[d.cur] = map[string]procUse{}
		}
		d.per[d.cur][kind] = d.per[d.cur][kind].add(u.sub(prev))
	}
	d.last = seen
}

// open starts window w (-1: none); the counters of the window that ends
// are kept.
func (d *diag) open(ctx context.Context, w int32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.read(ctx)
	if err == nil {
		if d.cur >= 0 {
			d.counts[d.cur] = c.sub(d.start)
		}
		d.start = c
	}
	if d.cur >= 0 {
		d.secs[d.cur] = time.Since(d.opened).Seconds()
	}
	d.cur, d.opened = w, time.Now()
}

func (d *diag) read(ctx context.Context) (clusterCounters, error) {
	var c clusterCounters
	err := d.conn.QueryRow(ctx, countersSQL).Scan(&c.walBytes, &c.walFPI, &c.walRecords, &c.walSync,
		&c.checkpoints, &c.bufCheckpoint, &c.bufClean, &c.bufBackend, &c.bufAlloc, &c.blksRead, &c.blksHit, &c.deadTup, &c.autovacuums)
	return c, err
}

func (a clusterCounters) sub(b clusterCounters) clusterCounters {
	return clusterCounters{a.walBytes - b.walBytes, a.walFPI - b.walFPI, a.walRecords - b.walRecords, a.walSync - b.walSync,
		a.checkpoints - b.checkpoints, a.bufCheckpoint - b.bufCheckpoint, a.bufClean - b.bufClean, a.bufBackend - b.bufBackend,
		a.bufAlloc - b.bufAlloc, a.blksRead - b.blksRead, a.blksHit - b.blksHit, a.deadTup, a.autovacuums - b.autovacuums}
}

// detach ends the round's sampling (and its window).
func (d *diag) detach(ctx context.Context) {
	d.open(ctx, -1)
	d.cancel()
	<-d.done
	_ = d.conn.Close(context.Background())
}

// readProc reads a process's CPU ticks and storage bytes from /proc.
func readProc(pid int) (procUse, error) {
	ticks, err := servercpu.Ticks(pid)
	if err != nil {
		return procUse{}, err
	}
	u := procUse{cpu: ticks}
	if io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid)); err == nil {
		for _, l := range strings.Split(string(io), "\n") {
			k, v, ok := strings.Cut(l, ": ")
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			switch {
			case ok && k == "read_bytes":
				u.read = n
			case ok && k == "write_bytes":
				u.write = n
			}
		}
	}
	return u, nil
}

// print writes one line per window of run: its kind, the load's p99, and
// what the server did in it, per second.
func (d *diag) print(run *scenarioRun) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Printf("\n### diag %s: per window, per second (CPU in cores; I/O in MB/s by process kind)\n", run.name)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 1, ' ', tabwriter.AlignRight)
	kinds := []string{"app", "lethe", "autovacuum worker", "checkpointer", "background writer", "walwriter"}
	fmt.Fprintf(tw, "win\tarm\tsecs\tp99 ms\trd p99\tunits/s\tblocks/s\tthrottled s\t")
	for _, k := range kinds {
		fmt.Fprintf(tw, "%s cpu\tr\tw\t", strings.Fields(k)[0])
	}
	fmt.Fprintf(tw, "other cpu\tWAL MB/s\tFPI/s\tbuf_backend/s\tbuf_clean/s\tbuf_ckpt/s\tckpts\tblks_read/s\tdead_tup\tav runs\t\n")
	all, reads := byWindow(run.samples, false), byWindow(run.samples, true)
	for i, w := range run.windows {
		secs := d.secs[int32(i)]
		if secs <= 0 {
			continue
		}
		arm := "alone"
		if w.arm >= 0 {
			arm = strings.Fields(run.arms[w.arm].label)[0]
		} else if w.arm == -2 {
			arm = "empty"
		}
		fmt.Fprintf(tw, "%d\t%s\t%.1f\t%.1f\t%.1f\t%.0f\t%.0f\t%.1f\t", i, arm, secs, ms(quantile(all[int32(i)], 0.99)),
			ms(quantile(reads[int32(i)], 0.99)), w.result.rate(), float64(w.result.blocks)/secs, w.result.throttled)
		per := d.per[int32(i)]
		used := map[string]bool{}
		for _, k := range kinds {
			u := per[k]
			used[k] = true
			fmt.Fprintf(tw, "%.2f\t%.1f\t%.1f\t", float64(u.cpu)/100/secs, float64(u.read)/1e6/secs, float64(u.write)/1e6/secs)
		}
		var other int64
		var names []string
		for k, u := range per {
			if !used[k] {
				other += u.cpu
				names = append(names, k)
			}
		}
		sort.Strings(names)
		c := d.counts[int32(i)]
		fmt.Fprintf(tw, "%.2f\t%.1f\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t%.0f\t%d\t%d\t\n", float64(other)/100/secs, float64(c.walBytes)/1e6/secs,
			float64(c.walFPI)/secs, float64(c.bufBackend)/secs, float64(c.bufClean)/secs, float64(c.bufCheckpoint)/secs,
			c.checkpoints, float64(c.blksRead)/secs, c.deadTup, c.autovacuums)
	}
	tw.Flush()
}
