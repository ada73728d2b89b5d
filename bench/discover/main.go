// Command discover measures lethe's discovery on real application schemas
// that nobody on this project wrote, against the references each
// application's own code declares (its Rails models' belongs_to, and the
// subject's model's has_many and has_one), and
// times lethe check (with discovery) and lethe init on a 1,000-table
// schema. Run it with go run ./bench/discover; see docs/discovery.md.
//
// The schemas stay outside the repository: OSM's is read from
// ../shared/fixtures/osm; the others from checkouts named in
// LETHE_BENCH_APPS, "name:subject=dir,..." where dir holds db/structure.sql
// and app/models (e.g. danbooru:users=/tmp/apps/danbooru). OSM's models
// come from LETHE_BENCH_OSM_APP (a checkout of openstreetmap-website);
// without it OSM is checked (init, check) but not scored.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/bench/internal/servercpu"
	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/lethe-project/lethe/internal/pgtest"
)

// app is one real schema.
type app struct {
	name, subject, schema, models string
}

func main() {
	tables := flag.Int("tables", 1000, "tables in the generated schema")
	rows := flag.Int("rows", 200, "rows per generated table (users: 10x)")
	runs := flag.Int("runs", 1, "runs of lethe init and check on the generated schema (the median is printed)")
	baseline := flag.String("baseline", "", "also run lethe built from this git revision (e.g. main) on the generated schema, alternating")
	flag.BoolVar(&withApps, "apps", true, "also score and check the real schemas (OSM, LETHE_BENCH_APPS); false: the generated schema only")
	flag.BoolVar(&showPhases, "phases", false, "print the time of each phase of lethe check and lethe init (their debug log)")
	flag.BoolVar(&showCandidates, "candidates", false, "print every reference candidate of each scored schema: true, false or not scored")
	flag.Parse()
	if err := run(*tables, *rows, *runs, *baseline); err != nil {
		fmt.Fprintln(os.Stderr, "bench-discover:", err)
		os.Exit(1)
	}
}

// withApps, showPhases and showCandidates are the -apps, -phases and
// -candidates flags.
var withApps, showPhases, showCandidates bool

func apps() []app {
	if !withApps {
		return nil
	}
	root := repoRoot()
	osm := app{name: "osm", subject: "users", schema: filepath.Join(root, "..", "shared", "fixtures", "osm", "structure.sql")}
	if dir := os.Getenv("LETHE_BENCH_OSM_APP"); dir != "" {
		osm.models = dir
	} else {
		fmt.Println("osm: LETHE_BENCH_OSM_APP is not set (a checkout of openstreetmap-website): init and check only, not scored")
	}
	out := []app{osm}
	spec := os.Getenv("LETHE_BENCH_APPS")
	if spec == "" {
		fmt.Println("LETHE_BENCH_APPS is not set (name:subject=dir,...): only OSM and the generated schema")
	}
	for _, e := range strings.Split(spec, ",") {
		name, dir, ok := strings.Cut(strings.TrimSpace(e), "=")
		if !ok {
			continue
		}
		n, subject, _ := strings.Cut(name, ":")
		if subject == "" {
			subject = "users"
		}
		a := app{name: n, subject: subject, schema: filepath.Join(dir, "db", "structure.sql"), models: dir}
		if _, err := os.Stat(a.schema); err != nil {
			a.schema = filepath.Join(dir, "db", "schema.rb")
		}
		if _, err := os.Stat(a.schema); err != nil {
			fmt.Printf("%s: no db/structure.sql or db/schema.rb under %s: skipped\n", n, dir)
			continue
		}
		out = append(out, a)
	}
	return out
}

func run(tables, rows, runs int, baseline string) error {
	ctx := context.Background()
	srv, err := pgtest.NewServer([]string{"max_locks_per_transaction=2048"})
	if err != nil {
		return err
	}
	defer srv.Close()
	bin, err := letheproc.Build()
	if err != nil {
		return err
	}
	defer letheproc.Cleanup()
	var scores []score
	for _, a := range apps() {
		url, err := loadSchema(ctx, srv, a.name, a.schema)
		if err != nil {
			fmt.Printf("%s: %v: skipped\n", a.name, err)
			continue
		}
		if a.models != "" {
			s, err := scoreApp(ctx, url, a)
			if err != nil {
				return fmt.Errorf("%s: %w", a.name, err)
			}
			scores = append(scores, s)
		}
		if _, _, _, err := initAndCheck(bin, url, a.name, a.subject); err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
	}
	printScores(scores)
	return generated(ctx, srv, bin, tables, rows, max(runs, 1), baseline)
}

// loadSchema creates a database from a schema dump with psql.
func loadSchema(ctx context.Context, srv *pgtest.Server, name, path string) (string, error) {
	if err := createDB(ctx, srv, name); err != nil {
		return "", err
	}
	url := srv.URLFor(name)
	src, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	// A Rails schema.rb or a MySQL dump is turned into PostgreSQL DDL.
	var ddl string
	switch {
	case strings.HasSuffix(path, ".rb"):
		ddl = schemaRB(string(src))
	case strings.Contains(string(src), "ENGINE=InnoDB"):
		ddl = mysqlDump(string(src))
	}
	if ddl != "" {
		path = filepath.Join(os.TempDir(), "bench-discover-"+name+".sql")
		if err := os.WriteFile(path, []byte(ddl), 0o600); err != nil {
			return "", err
		}
		defer os.Remove(path)
	}
	cmd := exec.Command(filepath.Join(srv.BinDirOf(), "psql"), "-q", "-X", "-d", url, "-f", path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("psql: %v: %s", err, lastLines(string(out), 5))
	}
	if n := strings.Count(string(out), "ERROR:"); n > 0 {
		fmt.Printf("%s: %d statements of the dump failed (extensions this server lacks): %s\n", name, n, lastLines(grepLines(string(out), "ERROR:"), 2))
	}
	return url, nil
}

func createDB(ctx context.Context, srv *pgtest.Server, name string) error {
	conn, err := pgx.Connect(ctx, srv.AdminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// letheResult is one lethe command's outcome.
type letheResult struct {
	code           int
	stdout, stderr string
	elapsed, cpu   time.Duration
	rssKiB         int64
}

func lethe(bin, url string, args ...string) (letheResult, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LETHE_DATABASE_URL=" + url, "LETHE_LOG_FORMAT=text"}
	if showPhases {
		cmd.Env = append(cmd.Env, "LETHE_LOG_LEVEL=debug")
	}
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	t0 := time.Now()
	err := cmd.Run()
	r := letheResult{elapsed: time.Since(t0), stdout: so.String(), stderr: se.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		return r, err
	}
	if showPhases {
		fmt.Printf("  lethe %s:\n%s\n", args[0], indent(grepLines(r.stderr, "phase done"), "    "))
	}
	r.cpu, r.rssKiB = servercpu.Child(cmd.ProcessState)
	return r, nil
}

// initAndCheck writes a draft with lethe init and checks it with lethe
// check --strict: the draft must pass as written. It returns both runs
// and the draft's text.
func initAndCheck(bin, url, name, subject string) (initRun, checkRun letheResult, draft string, err error) {
	dir, err := os.MkdirTemp("", "bench-discover-")
	if err != nil {
		return
	}
	defer os.RemoveAll(dir)
	pol := filepath.Join(dir, "policy.yaml")
	initRun, err = lethe(bin, url, "init", "--table", subject, "--key", "id", "--out", pol)
	if err != nil || initRun.code != 0 {
		return initRun, checkRun, "", fmt.Errorf("lethe init exited %d: %v %s", initRun.code, err, initRun.stderr)
	}
	b, _ := os.ReadFile(pol)
	draft = string(b)
	if checkRun, err = lethe(bin, url, "check", "--strict", "--policy", pol); err != nil {
		return
	}
	rules, ignores := draftCounts(draft)
	fmt.Printf("%s: lethe init wrote %d rules, %d ignore entries, %d # review lines in %s (cpu %s, peak RSS %.1f MiB); lethe check --strict on it: exit %d in %s (cpu %s, peak RSS %.1f MiB); %s\n",
		name, rules, ignores, strings.Count(draft, "# review"),
		initRun.elapsed.Round(time.Millisecond), initRun.cpu.Round(time.Millisecond), float64(initRun.rssKiB)/1024,
		checkRun.code, checkRun.elapsed.Round(time.Millisecond), checkRun.cpu.Round(time.Millisecond), float64(checkRun.rssKiB)/1024,
		grepLines(checkRun.stdout, "discovery:"))
	if checkRun.code != 0 {
		err = fmt.Errorf("the draft does not pass lethe check --strict:\n%s", lastLines(checkRun.stderr, 30))
	}
	return
}

// draftCounts counts the rules and the ignore entries of a draft.
func draftCounts(draft string) (rules, ignores int) {
	before, after, _ := strings.Cut(draft, "\nignore:\n")
	return strings.Count(before, "\n  - table:"), strings.Count("\n"+after, "\n  - table:")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func grepLines(s, what string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, what) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/lethe-project/lethe\n") {
			return d
		}
	}
	return dir
}

func pool(ctx context.Context, url string) (*pgxpool.Pool, error) { return pgxpool.New(ctx, url) }

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
