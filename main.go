// Command lethe erases personal data from a PostgreSQL application once it is
// due: the grace-period purge of deleted accounts, time-based retention,
// inactivity notices and orphan cleanup, each a named job driven by one
// policy file. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/export"
	"github.com/lethe-project/lethe/grants"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/metrics"
	"github.com/lethe-project/lethe/objstore/s3store"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/schedule"
	"github.com/lethe-project/lethe/subject"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "none"
)

func main() {
	ctx, stop, cancel := signalContexts()
	defer cancel()
	os.Exit(run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

// signalContexts returns a context cancelled by the second SIGINT/SIGTERM
// and a stop context done at the first: the first signal lets the batch in
// flight commit and starts no new one; the second aborts it (it rolls back).
func signalContexts() (ctx, stop context.Context, cancel func()) {
	ctx, cancelCtx := context.WithCancel(context.Background())
	stop, cancelStop := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ch
		cancelStop()
		<-ch
		cancelCtx()
	}()
	return ctx, stop, func() { signal.Stop(ch); cancelStop(); cancelCtx() }
}

var commands = map[string]bool{"check": true, "erase": true, "receipt": true, "version": true, "help": true, "schedule": true, "grants": true, "export": true, "replay": true, "init": true}

// run is the whole program; it returns the exit code.
func run(ctx, stop context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	cmd := "run"
	if len(args) > 0 && commands[args[0]] {
		cmd, args = args[0], args[1:]
	}
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		cmd = "version"
	}
	if _, job := lookup("LETHE_JOB"); cmd == "run" && len(args) == 0 && !job {
		// lethe alone: a usage error, with the usage.
		usage(stderr)
		return jobs.ExitConfig
	}
	switch cmd {
	case "help":
		usage(stdout)
		return 0
	case "version":
		fmt.Fprintf(stdout, "lethe %s (commit %s, %s)\n", version, commit, runtime.Version())
		return 0
	}
	cfg, err := parseConfig(ctx, cmd, args, envLookup(lookup), stderr)
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", err)
		return jobs.ExitConfig
	}
	logger := newLogger(cfg, stderr)

	switch cmd {
	case "receipt":
		return receipt(ctx, cfg, stdout, stderr)
	case "init":
		return runInit(ctx, stop, cfg, logger, stdout, stderr)
	}
	// Before the job starts there is nothing to let finish: the first
	// signal stops the policy read (a FIFO may block) and the connect.
	pol, err := policy.LoadContext(stop, cfg.Policy)
	if stop.Err() != nil {
		return stopped(stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", err)
		return jobs.ExitConfig
	}
	pool, code := open(stop, cfg, stderr)
	if pool == nil {
		return code
	}
	defer pool.Close()

	deps, err := newDeps(stop, cfg, pool, pol, logger, lookup)
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", err)
		return jobs.ExitCode(err)
	}
	if cmd == "check" {
		return check(ctx, cfg, deps, stdout, stderr)
	}
	if cmd == "grants" {
		return printGrants(ctx, cfg, pool, pol, stdout, stderr)
	}
	grants.WarnPrivileged(ctx, pool, pol, logger)
	runner := &jobs.Runner{Logger: logger, Pool: pool}
	if deps.Hasher != nil {
		runner.KeyFingerprint = deps.Hasher.Fingerprint()
	}
	if cfg.PushgatewayURL != "" {
		runner.Hooks = append(runner.Hooks, metrics.PushHook(cfg.PushgatewayURL, logger, metrics.WithShard(cfg.shard)))
	}
	var job jobs.Job
	switch cmd {
	case "schedule":
		return runSchedule(ctx, stop, cfg, deps, runner, stderr)
	case "export":
		return runExport(ctx, cfg, deps, runner, stdout, stderr)
	case "replay":
		if job, err = newReplay(cfg, deps); err != nil {
			fmt.Fprintf(stderr, "lethe: %v\n", err)
			return jobs.ExitCode(err)
		}
	case "erase":
		if job, err = newErase(ctx, cfg, deps); err != nil {
			fmt.Fprintf(stderr, "lethe: %v\n", err)
			return jobs.ExitCode(err)
		}
	default:
		if job, err = jobsFor(cfg).Build(cfg.Job, deps); err != nil {
			fmt.Fprintf(stderr, "lethe: %v\n", err)
			return jobs.ExitConfig
		}
	}
	if cfg.Summary || isTerminal(stdout) || cmd == "erase" || cmd == "replay" {
		runner.Table = stdout
	}
	_, code = runner.Run(ctx, job, limitsOf(cfg, stop))
	return code
}

// newDeps builds once what every job may use.
func newDeps(ctx context.Context, cfg *Config, pool *pgxpool.Pool, pol *policy.Policy, logger *slog.Logger, lookup func(string) (string, bool)) (jobs.Deps, error) {
	d := jobs.Deps{Pool: pool, Policy: pol, Logger: logger, Env: lookup}
	if cfg.SubjectHashKey != "" {
		d.Hasher = subject.NewHasher(cfg.SubjectHashKey)
	}
	var err error
	d.Objects, err = objectRouter(ctx, cfg, pol)
	return d, err
}

// newErase is lethe erase: the purge of one subject, now, whose key is
// read through the key's type (so that every way of writing it names the
// same subject, as lethe receipt does); without --confirm, a dry run.
func newErase(ctx context.Context, cfg *Config, d jobs.Deps) (jobs.Job, error) {
	if err := d.Policy.Require("lethe erase", "subject"); err != nil {
		return nil, err
	}
	key, err := canonicalKey(ctx, d.Pool, d.Policy, cfg.Subject)
	if err != nil {
		return nil, err
	}
	cfg.DryRun = !cfg.Confirm
	d.Logger = d.Logger.With("job", "erase")
	return newPurge(cfg, d, &key)
}

// limitsOf is the one place the run's limits are read from the
// configuration.
func limitsOf(cfg *Config, stop context.Context) jobs.Limits {
	return jobs.Limits{
		BatchSize: cfg.BatchSize, TimeBudget: cfg.TimeBudget,
		StatementTimeout: cfg.StmtTimeout, LockTimeout: cfg.LockTimeout,
		MaxSubjects: cfg.MaxSubjects, MaxShare: cfg.MaxShare, AllowLarge: cfg.AllowLarge,
		DryRun: cfg.DryRun, ExecuteDryRun: cfg.DryRunExecute, Stop: stop,
		TargetBatchTime: cfg.TargetBatchTime, MaxBatchSize: cfg.MaxBatchSize, Shard: cfg.shard,
		Governor: jobs.Governor{
			Off: !cfg.Governor, MaxReplicaLag: cfg.MaxReplicaLag, ReplicaURLs: cfg.ReplicaURLs,
			MaxActive: cfg.MaxActive, MaxLockWaiters: cfg.MaxLockWaiters, MaxThrottle: cfg.MaxThrottle,
			LatencyProbe: cfg.LatencyProbe, ProbeFactor: cfg.ProbeFactor, MinProbeLatency: cfg.MinProbeLatency,
			MinShare: cfg.MinShare, MaxShare: cfg.MaxDBShare, ShareRamp: cfg.ShareRamp,
			Processes: cfg.Pods,
		},
	}
}

// stopped reports a signal that came before the job started.
func stopped(stderr io.Writer) int {
	fmt.Fprintln(stderr, "lethe: stopped by a signal before the job started; nothing was changed")
	return jobs.ExitFailed
}

func runSchedule(ctx, stop context.Context, cfg *Config, deps jobs.Deps, runner *jobs.Runner, stderr io.Writer) int {
	entries, err := schedule.ParseEntries(cfg.Schedule)
	if err != nil {
		fmt.Fprintf(stderr, "lethe: LETHE_SCHEDULE: %v\n", err)
		return jobs.ExitConfig
	}
	err = schedule.Run(ctx, stop, schedule.Config{
		Jobs: entries, Listen: cfg.ScheduleListen, Limits: limitsOf(cfg, stop), Seconds: cfg.ScheduleSeconds,
		Runner: runner, Logger: deps.Logger.With("component", "schedule"),
		NewJob: func(name string, stop context.Context) (jobs.Job, error) {
			return jobsFor(cfg).Build(name, deps)
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", err)
		return jobs.ExitCode(err)
	}
	return 0
}

// runExport writes one subject's archive to --out (a file or
// s3://bucket/prefix/), or to stdout when it is not a terminal; with --dry-run it prints the row counts and writes
// nothing.
func runExport(ctx context.Context, cfg *Config, d jobs.Deps, runner *jobs.Runner, stdout, stderr io.Writer) int {
	ec := export.Config{
		Deps:        d,
		Destination: export.Destination{Path: cfg.Out, Writer: stdout},
	}
	ec.Logger = d.Logger.With("job", "export")
	if cfg.SubjectHashKey != "" {
		ec.Hasher = subject.NewHasher(cfg.SubjectHashKey)
	}
	if strings.HasPrefix(cfg.Out, "s3://") {
		client, err := s3store.NewClient(ctx, s3store.Config{Endpoint: cfg.S3Endpoint, ForcePathStyle: cfg.S3PathStyle})
		if err != nil {
			fmt.Fprintf(stderr, "lethe: export: %v\n", err)
			return jobs.ExitConfig
		}
		ec.Destination.S3 = client
	}
	if cfg.Out == "" && isTerminal(stdout) && !cfg.DryRun {
		fmt.Fprintln(stderr, "lethe: export: stdout is a terminal: use --out FILE, or redirect the output")
		return jobs.ExitConfig
	}
	if cfg.DryRun || (cfg.Out != "" && (cfg.Summary || isTerminal(stdout))) {
		runner.Table = stdout
	}
	job, err := export.New(ec, cfg.Subject)
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", err)
		return jobs.ExitConfig
	}
	_, code := runner.Run(ctx, job, limitsOf(cfg, ctx))
	return code
}

// open connects as connect does and reports a stop or an error itself: it
// returns the pool, or nil and the exit code.
func open(stop context.Context, cfg *Config, stderr io.Writer) (*pgxpool.Pool, int) {
	pool, err := connect(stop, cfg)
	if stop.Err() != nil {
		if pool != nil {
			pool.Close()
		}
		return nil, stopped(stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", err)
		return nil, jobs.ExitCode(err)
	}
	return pool, 0
}

// connect opens a pool on LETHE_DATABASE_URL and checks that the server
// answers; ctx (the first signal) cancels a connect that hangs.
func connect(ctx context.Context, cfg *Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		// The URL holds a password: never echo it.
		return nil, &jobs.ConfigError{Err: errors.New("LETHE_DATABASE_URL is not a valid connection string")}
	}
	pc.MaxConns = int32(cfg.Workers + 2)
	if cfg.Schedule != "" {
		// lethe schedule may run every job at once.
		pc.MaxConns = int32(4 * (cfg.Workers + 1))
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "lethe"
	// timestamp columns without a time zone are read as UTC.
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to the database: %w", err)
	}
	return pool, nil
}

func newLogger(cfg *Config, stderr io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if isTerminal(stderr) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(stderr, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
