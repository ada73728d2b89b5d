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
	"sort"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/grants"
	"github.com/lethe-project/lethe/inactivity"
	"github.com/lethe-project/lethe/internal/pgerr"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/metrics"
	"github.com/lethe-project/lethe/orphans"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/retention"
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

var commands = map[string]bool{"check": true, "erase": true, "receipt": true, "version": true, "help": true, "schedule": true, "grants": true}

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
	pool, err := connect(stop, cfg)
	if stop.Err() != nil {
		if pool != nil {
			pool.Close()
		}
		return stopped(stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", err)
		return jobs.ExitCode(err)
	}
	defer pool.Close()

	if cmd == "check" {
		return check(ctx, cfg, pool, pol, logger, stdout, stderr)
	}
	if cmd == "grants" {
		return printGrants(ctx, cfg, pool, pol, stdout, stderr)
	}
	grants.WarnPrivileged(ctx, pool, pol, logger)
	if cmd == "erase" {
		if err := pol.Require("erase"); err != nil {
			fmt.Fprintf(stderr, "lethe: %v\n", err)
			return jobs.ExitConfig
		}
		if cfg.Subject, err = canonicalKey(ctx, pool, pol, cfg.Subject); err != nil {
			fmt.Fprintf(stderr, "lethe: %v\n", err)
			return jobs.ExitCode(err)
		}
	}
	if cmd == "erase" {
		cfg.DryRun = !cfg.Confirm
	}
	runner := &jobs.Runner{Logger: logger, Pool: pool}
	if cfg.SubjectHashKey != "" {
		runner.KeyFingerprint = subject.NewHasher(cfg.SubjectHashKey).Fingerprint()
	}
	if cfg.PushgatewayURL != "" {
		runner.Hooks = append(runner.Hooks, metrics.PushHook(cfg.PushgatewayURL, logger))
	}
	if cmd == "schedule" {
		return runSchedule(ctx, stop, cfg, pool, pol, runner, logger, stderr)
	}
	job, err := buildJob(cmd, cfg, pool, pol, logger, stop)
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", err)
		return jobs.ExitConfig
	}
	if cfg.Summary || isTerminal(stdout) || cmd == "erase" {
		runner.Table = stdout
	}
	_, code := runner.Run(ctx, job, limitsOf(cfg, stop))
	return code
}

// limitsOf is the one place the run's limits are read from the
// configuration.
func limitsOf(cfg *Config, stop context.Context) jobs.Limits {
	return jobs.Limits{
		BatchSize: cfg.BatchSize, TimeBudget: cfg.TimeBudget,
		StatementTimeout: cfg.StmtTimeout, LockTimeout: cfg.LockTimeout,
		MaxSubjects: cfg.MaxSubjects, MaxShare: cfg.MaxShare, AllowLarge: cfg.AllowLarge,
		DryRun: cfg.DryRun, Stop: stop,
	}
}

// stopped reports a signal that came before the job started.
func stopped(stderr io.Writer) int {
	fmt.Fprintln(stderr, "lethe: stopped by a signal before the job started; nothing was changed")
	return jobs.ExitFailed
}

func buildJob(cmd string, cfg *Config, pool *pgxpool.Pool, pol *policy.Policy, logger *slog.Logger, stop context.Context) (jobs.Job, error) {
	need := cfg.Job
	if cmd == "erase" {
		need = "erase"
	}
	if err := pol.Require(need); err != nil {
		return nil, err
	}
	var hasher *subject.Hasher
	if cfg.SubjectHashKey != "" {
		hasher = subject.NewHasher(cfg.SubjectHashKey)
	}
	limits := limitsOf(cfg, stop)
	pc := purge.Config{
		Pool: pool, Policy: pol, Hasher: hasher, Logger: logger.With("job", cfg.Job),
		Workers: cfg.Workers,
	}
	if cmd == "erase" || cfg.Job == "purge" {
		erasers, err := buildErasers(stop, cfg, pol, pc.Logger)
		if err != nil {
			return nil, err
		}
		pc.Erasers = erasers
	}
	if cmd == "erase" {
		pc.Logger = logger.With("job", "erase")
		return purge.NewErase(pc, cfg.Subject)
	}
	switch cfg.Job {
	case "purge":
		return purge.New(pc)
	case "retention":
		return retention.New(retention.Config{
			Pool: pool, Policy: pol, Logger: logger.With("job", cfg.Job), Limits: limits,
		})
	case "orphans":
		return orphans.New(orphans.Config{
			Pool: pool, Policy: pol, Logger: logger.With("job", cfg.Job),
			S3Endpoint: cfg.S3Endpoint, S3PathStyle: cfg.S3PathStyle, Limits: limits,
		})
	case "inactivity":
		ic := inactivity.Config{
			Pool: pool, Policy: pol, Hasher: hasher, Logger: logger.With("job", cfg.Job),
			SMTPURL: cfg.SMTPURL, SMTPRate: cfg.SMTPRate, Limits: limits,
		}
		if pol.Inactivity != nil && pol.Inactivity.Notify.Webhook != nil {
			// The secret is named by the policy and read here, in main.
			ic.WebhookSecret = os.Getenv(pol.Inactivity.Notify.Webhook.SecretEnv)
		}
		return inactivity.New(ic)
	}
	return nil, fmt.Errorf("job %q is not available in this build yet", cfg.Job)
}

func runSchedule(ctx, stop context.Context, cfg *Config, pool *pgxpool.Pool, pol *policy.Policy, runner *jobs.Runner, logger *slog.Logger, stderr io.Writer) int {
	entries, err := schedule.ParseEntries(cfg.Schedule)
	if err != nil {
		fmt.Fprintf(stderr, "lethe: LETHE_SCHEDULE: %v\n", err)
		return jobs.ExitConfig
	}
	err = schedule.Run(ctx, stop, schedule.Config{
		Jobs: entries, Listen: cfg.ScheduleListen, Limits: limitsOf(cfg, stop), Seconds: cfg.ScheduleSeconds,
		Runner: runner, Logger: logger.With("component", "schedule"),
		NewJob: func(name string, stop context.Context) (jobs.Job, error) {
			c := *cfg
			c.Job = name
			return buildJob("run", &c, pool, pol, logger, stop)
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", err)
		return jobs.ExitCode(err)
	}
	return 0
}

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

// check validates every section of the policy against the database, the
// purge's plan first, and prints the plan; nothing is changed. The
// problems of every section are reported together, by line.
func check(ctx context.Context, cfg *Config, pool *pgxpool.Pool, pol *policy.Policy, logger *slog.Logger, stdout, stderr io.Writer) int {
	problems := &policy.Error{Path: pol.Path}
	// fail reports an error that is not a list of policy problems (the
	// database went away): it stops the check.
	collect := func(section string, err error) (fail bool) {
		var pe *policy.Error
		switch {
		case err == nil:
		case errors.As(err, &pe):
			problems.Problems = append(problems.Problems, pe.Problems...)
		case jobs.ExitCode(err) == jobs.ExitConfig:
			problems.Add(0, "%s: %v", section, err)
		default:
			return true
		}
		return false
	}
	var pl *plan.Plan
	var checked []string
	if pol.HasSubject() {
		var err error
		if pl, err = plan.Build(ctx, pool, pol); collect("subject", err) {
			fmt.Fprintf(stderr, "lethe: %v\n", err)
			return jobs.ExitCode(err)
		}
		checked = append(checked, "subject and tables")
	}
	sections := map[string]bool{
		"retention":  len(pol.Retention) > 0,
		"inactivity": pol.Inactivity != nil,
		"orphans":    pol.Orphans != nil,
	}
	for _, name := range []string{"retention", "inactivity", "orphans"} {
		if !sections[name] {
			continue
		}
		c := *cfg
		c.Job, c.DryRun = name, true
		job, err := buildJob("run", &c, pool, pol, logger, context.Background())
		if err == nil {
			if checker, ok := job.(jobs.Checker); ok {
				err = checker.Check(ctx)
			}
		}
		if collect(name, err) {
			fmt.Fprintf(stderr, "lethe: %s: %v\n", name, err)
			return jobs.ExitCode(err)
		}
		checked = append(checked, name)
	}
	if len(problems.Problems) > 0 {
		dedupe(problems)
		fmt.Fprintf(stderr, "lethe: %v\n", problems)
		return jobs.ExitConfig
	}
	fmt.Fprintf(stdout, "policy %s is valid (sha256 %s)\n", pol.Path, pol.Digest[:12])
	warnMonth(stderr, cfg, pol)
	fmt.Fprintf(stdout, "checked against the database: %s\n", strings.Join(checked, ", "))
	if pl != nil {
		pl.Describe(stdout)
	}
	return 0
}

// dedupe sorts problems by line and drops repeats: the inactivity check
// builds the purge's plan too.
func dedupe(e *policy.Error) {
	sort.SliceStable(e.Problems, func(i, j int) bool { return e.Problems[i].Line < e.Problems[j].Line })
	seen := map[policy.Problem]bool{}
	out := e.Problems[:0]
	for _, p := range e.Problems {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	e.Problems = out
}

func receipt(ctx context.Context, cfg *Config, stdout, stderr io.Writer) int {
	if cfg.SubjectHashKey == "" {
		fmt.Fprintln(stderr, "lethe: LETHE_SUBJECT_HASH_KEY is not set: receipts are found by the keyed hash of the subject")
		return jobs.ExitConfig
	}
	pool, err := connect(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", err)
		return jobs.ExitCode(err)
	}
	defer pool.Close()
	key, err := receiptKey(ctx, cfg, pool)
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", err)
		return jobs.ExitCode(err)
	}
	hasher := subject.NewHasher(cfg.SubjectHashKey)
	hash := hasher.Hash(key)
	rs, err := ledger.ReceiptsFor(ctx, pool, hash)
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", pgerr.Redact(err))
		return jobs.ExitFailed
	}
	if len(rs) == 0 {
		return noReceipt(ctx, pool, hasher, hash, stdout, stderr)
	}
	for _, r := range rs {
		writeReceipt(stdout, r)
	}
	return 0
}

// noReceipt answers for a subject without a receipt under this key: not
// erased, unless receipts exist made with another LETHE_SUBJECT_HASH_KEY,
// in which case this key cannot tell (exit 2).
func noReceipt(ctx context.Context, pool *pgxpool.Pool, hasher *subject.Hasher, hash string, stdout, stderr io.Writer) int {
	other, err := ledger.OtherKeyReceipts(ctx, pool, hasher.Fingerprint())
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", err)
		return jobs.ExitFailed
	}
	if other > 0 {
		fmt.Fprintf(stdout, "no receipt for subject %s under this LETHE_SUBJECT_HASH_KEY, but %d receipt(s) exist, made with a different key: "+
			"look the subject up with the key those runs used (see \"Hash key loss and rotation\" in the README)\n", hash, other)
		return jobs.ExitConfig
	}
	fmt.Fprintf(stdout, "no receipt for subject %s: lethe has not erased it\n", hash)
	return jobs.ExitFailed
}

func writeReceipt(w io.Writer, r ledger.Receipt) {
	fmt.Fprintf(w, "subject %s erased at %s (run %d)\n", r.SubjectHash, r.PurgedAt.UTC().Format("2006-01-02 15:04:05Z"), r.RunID)
	if r.RequestedAt != nil {
		fmt.Fprintf(w, "  deletion requested: %s\n", r.RequestedAt.UTC().Format("2006-01-02 15:04:05Z"))
	}
	fmt.Fprintf(w, "  policy sha256: %s\n", r.PolicyDigest)
	for _, rc := range r.Rows {
		fmt.Fprintf(w, "  %-40s %-10s %d row(s)\n", rc.Table, rc.Action, rc.Rows)
	}
	for _, o := range r.Objects {
		fmt.Fprintf(w, "  %-40s %-10s %d object version(s), %d bytes\n", o.Location, "removed", o.Objects, o.Bytes)
	}
	if len(r.Processors) > 0 {
		fmt.Fprintf(w, "  processors confirmed: %s\n", strings.Join(r.Processors, ", "))
	}
	fmt.Fprintf(w, "  verification: %s\n", r.Verification)
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

func usage(w io.Writer) {
	fmt.Fprint(w, `lethe erases personal data from a PostgreSQL application when it is due.

Usage:
  lethe --job NAME [--dry-run] [flags]   run a job
  lethe check [--policy FILE]            check the policy against the database and print the plan
  lethe erase --subject KEY [--confirm]  erase one subject now (no grace period, never a hold)
  lethe receipt --subject KEY            show the receipt that proves a subject was erased
  lethe grants [--role R] [--format F]   print the SQL (and IAM policy) of a least-privilege role
  lethe schedule                         run jobs on cron schedules (LETHE_SCHEDULE), serve /metrics
  lethe version                          print version, commit and Go version (also --version)

lethe with no arguments and no LETHE_JOB prints this and exits 2.

Jobs:
`)
	for _, j := range jobNames {
		fmt.Fprintf(w, "  %-12s %s\n", j[0], j[1])
	}
	fmt.Fprint(w, `
Flags (override the environment):
  --job NAME            job to run
  --policy FILE         policy file
  --dry-run             change nothing; report what a real run would do
  --batch-size N        subjects (or rows) per transaction
  --workers N           batches in flight at once
  --time-budget D       stop starting batches after D (e.g. 10m)
  --max-subjects N      blast-radius guard: most subjects one purge may erase
  --max-share F         blast-radius guard: largest share of all subjects (0-1); at any size,
                        more than 90% (and at least 2) of all is refused too
  --allow-large         run even when the blast-radius guard would refuse
  --log-format F        json or text
  --log-level L         debug, info, warn or error
  --summary             print the summary table even when stdout is not a terminal

Environment:
`)
	for _, e := range envVars {
		fmt.Fprintf(w, "  %-24s %s\n", e[0], e[1])
	}
	fmt.Fprint(w, `
Exit codes:
  0  done
  1  the job failed; what was committed stays committed and is correct, the next run continues
  2  configuration or policy is wrong; nothing was changed
  3  refused by a safety guard (blast radius); nothing was changed
`)
}
