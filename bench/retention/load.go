package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// loadScript is the application's light traffic during each variant: read
// a user's recent activity, log one new event.
const loadScript = `\set uid random(1, 10000)
BEGIN;
SELECT count(*) FROM (SELECT 1 FROM activity_log WHERE user_id = :uid ORDER BY created_at DESC LIMIT 20) s;
INSERT INTO activity_log (id, user_id, created_at, payload) VALUES (nextval('bench_ids'), :uid, now(), 'load');
END;
`

// load runs pgbench at a fixed rate against db in one-second rounds (each
// round exits cleanly and flushes its per-transaction log) until stopped.
type load struct {
	cancel context.CancelFunc
	done   chan struct{}
	dir    string
}

func startLoad(s *server, db string, rate int) (*load, error) {
	dir, err := os.MkdirTemp("", "lethe-bench-load-")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "load.sql")
	if err := os.WriteFile(script, []byte(loadScript), 0o644); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, done: make(chan struct{}), dir: dir}
	go func() {
		defer close(l.done)
		for round := 0; ctx.Err() == nil; round++ {
			cmd := exec.Command(filepath.Join(s.binDir, "pgbench"), "-n", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port),
				"-U", "postgres", "-c", "2", "-R", strconv.Itoa(rate), "-T", "1", "-f", script,
				"-l", "--log-prefix", filepath.Join(dir, fmt.Sprintf("r%d", round)), db)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "pgbench: %v: %s\n", err, out)
				return
			}
		}
	}()
	return l, nil
}

// stop ends the load and returns its transaction count and p99 latency.
func (l *load) stop() (int, time.Duration) {
	l.cancel()
	<-l.done
	defer os.RemoveAll(l.dir)
	var lat []int
	files, _ := filepath.Glob(filepath.Join(l.dir, "r*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			fs := strings.Fields(line)
			if len(fs) < 3 {
				continue
			}
			if us, err := strconv.Atoi(fs[2]); err == nil {
				lat = append(lat, us)
			}
		}
	}
	if len(lat) == 0 {
		return 0, 0
	}
	sort.Ints(lat)
	return len(lat), time.Duration(lat[(len(lat)*99)/100]) * time.Microsecond
}
