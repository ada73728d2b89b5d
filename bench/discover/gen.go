package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lethe-project/lethe/bench/internal/servercpu"
	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/lethe-project/lethe/internal/pgtest"
)

// generated builds a schema of n tables shaped like a large application's
// (a third reference users by foreign key, a fifth by a user-named column
// without one, the rest by a chain to another table; text, JSON and
// timestamp columns everywhere, the text and JSON filled), then times
// lethe init and lethe check with discovery on it.
func generated(ctx context.Context, srv *pgtest.Server, bin string, n, rows, runs int, baseline string) error {
	// Text and JSON as applications hold them: sentences, and small
	// objects, with no personal data in them.
	const fill = `'Fixed the build on the main branch; see the notes in the release checklist, item ' || g, jsonb_build_object('state', 'open', 'labels', jsonb_build_array('bug', 'ui'), 'weight', g % 5)`
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text, deleted_at timestamptz, created_at timestamptz);\n")
	fmt.Fprintf(&b, "INSERT INTO users SELECT g, 'u' || g || '@example.org', 'n' || g, NULL, now() FROM generate_series(1, %d) g;\n", 10*rows)
	for i := 1; i < n; i++ {
		t := fmt.Sprintf("t%04d", i)
		ref := ""
		switch {
		case i%3 == 0:
			ref = "user_id bigint REFERENCES users, "
		case i%5 == 0:
			ref = "author_id bigint, "
		case i > 1:
			ref = fmt.Sprintf("parent_id bigint REFERENCES t%04d, ", i-1)
		}
		fmt.Fprintf(&b, "CREATE TABLE %s (id bigint PRIMARY KEY, %stitle text, body text, payload jsonb, position integer, created_at timestamptz, updated_at timestamptz);\n", t, ref)
		if strings.HasPrefix(ref, "user_id") || strings.HasPrefix(ref, "author_id") {
			col := strings.Fields(ref)[0]
			fmt.Fprintf(&b, "CREATE INDEX ON %s (%s);\n", t, col)
			fmt.Fprintf(&b, "INSERT INTO %s (id, %s, title, body, payload, position) SELECT g, 1 + g %% %d, 't' || g, %s, g %% 7 FROM generate_series(1, %d) g;\n", t, col, 10*rows, fill, rows)
		} else {
			fmt.Fprintf(&b, "INSERT INTO %s (id, title, body, payload, position) SELECT g, 't' || g, %s, g %% 7 FROM generate_series(1, %d) g;\n", t, fill, rows)
		}
	}
	b.WriteString("ANALYZE;\n")
	name := "generated"
	if err := createDB(ctx, srv, name); err != nil {
		return err
	}
	p, err := pool(ctx, srv.URLFor(name))
	if err != nil {
		return err
	}
	_, err = p.Exec(ctx, b.String())
	p.Close()
	if err != nil {
		return fmt.Errorf("generated schema: %w", err)
	}
	fmt.Printf("\ngenerated schema: %d tables, %d rows each (users %d)\n", n, rows, 10*rows)
	url := srv.URLFor(name)
	bins := []struct{ name, path string }{{"lethe", bin}}
	if baseline != "" {
		old, cleanup, err := letheproc.BuildAt(repoRoot(), baseline)
		if err != nil {
			return err
		}
		defer cleanup()
		bins = append([]struct{ name, path string }{{"lethe@" + baseline, old}}, bins...)
	}
	// Each run: every binary's init, then its check --strict on its own
	// draft, alternating, so that both see the same machine.
	times := map[string][]letheResult{}
	var draft string
	for r := 0; r < runs; r++ {
		for _, b := range bins {
			initRun, checkRun, d, err := initAndCheck(b.path, url, fmt.Sprintf("%s, %d tables, run %d", b.name, n, r+1), "users")
			if err != nil {
				return err
			}
			times[b.name+" init"] = append(times[b.name+" init"], initRun)
			times[b.name+" check"] = append(times[b.name+" check"], checkRun)
			draft = d
		}
	}
	// Baselines in the same run: lethe check with discovery's sampling off,
	// and one count(*) per table on one connection (the server's first
	// look at each table, which sampling cannot avoid).
	dir, err := os.MkdirTemp("", "bench-discover-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	noSample := filepath.Join(dir, "nosample.yaml")
	if err := os.WriteFile(noSample, []byte(draft+"\ndiscovery:\n  sample_rows: -1\n"), 0o600); err != nil {
		return err
	}
	shape, err := lethe(bin, url, "check", "--strict", "--policy", noSample)
	if err != nil || shape.code != 0 {
		return fmt.Errorf("check without sampling exited %d: %v %s", shape.code, err, lastLines(shape.stderr, 10))
	}
	counts, err := countEach(ctx, url, n)
	if err != nil {
		return err
	}
	fmt.Printf("\n%d tables, median of %d run(s); targets: ≤ 5 s and ≤ 100 MiB each\n", n, runs)
	for _, b := range bins {
		for _, cmd := range []string{"init", "check"} {
			m := median(times[b.name+" "+cmd])
			fmt.Printf("  %-22s %-6s %7s wall, cpu %7s, peak RSS %5.1f MiB", b.name, cmd, m.elapsed.Round(time.Millisecond),
				m.cpu.Round(time.Millisecond), float64(m.rssKiB)/1024)
			if len(bins) > 1 && b.name == "lethe" {
				fmt.Printf(", %.2fx of lethe@%s", m.elapsed.Seconds()/median(times[bins[0].name+" "+cmd]).elapsed.Seconds(), baseline)
			}
			fmt.Printf(", %.2fx of one count(*) per table\n", m.elapsed.Seconds()/counts.Seconds())
		}
	}
	fmt.Printf("  baseline: lethe check without sampling %s (cpu %s, peak RSS %.1f MiB); one count(*) per table %s\n",
		shape.elapsed.Round(time.Millisecond), shape.cpu.Round(time.Millisecond), float64(shape.rssKiB)/1024, counts.Round(time.Millisecond))
	fmt.Printf("  load average while measured: %s\n", servercpu.LoadAverage())
	return nil
}

// median returns the run with the median wall time.
func median(rs []letheResult) letheResult {
	s := append([]letheResult{}, rs...)
	sort.Slice(s, func(i, j int) bool { return s[i].elapsed < s[j].elapsed })
	return s[len(s)/2]
}

// countEach runs SELECT count(*) on each generated table, one after the
// other, on one connection.
func countEach(ctx context.Context, url string, n int) (time.Duration, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	t0 := time.Now()
	for i := 1; i < n; i++ {
		var c int
		if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM t%04d", i)).Scan(&c); err != nil {
			return 0, err
		}
	}
	return time.Since(t0), nil
}
