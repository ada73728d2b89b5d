package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/lethe-project/lethe/grants"
	"github.com/lethe-project/lethe/jobs"
	"github.com/sethvargo/go-envconfig"
)

// Config is lethe's whole configuration: the environment first, then flags.
// Secrets (the database URL's password, the hash key) come only from the
// environment, never from flags or the policy file.
type Config struct {
	Job            string        `env:"LETHE_JOB"`
	DatabaseURL    string        `env:"LETHE_DATABASE_URL"`
	DatabaseURLAlt string        `env:"DATABASE_URL"`
	Policy         string        `env:"LETHE_POLICY, default=policy.yaml"`
	BatchSize      int           `env:"LETHE_BATCH_SIZE, default=500"`
	Workers        int           `env:"LETHE_WORKERS, default=2"`
	TimeBudget     time.Duration `env:"LETHE_TIME_BUDGET, default=10m"`
	MaxSubjects    int           `env:"LETHE_MAX_SUBJECTS, default=10000"`
	MaxShare       float64       `env:"LETHE_MAX_SHARE, default=0.25"`
	SubjectHashKey string        `env:"LETHE_SUBJECT_HASH_KEY"`
	LogFormat      string        `env:"LETHE_LOG_FORMAT"`
	LogLevel       string        `env:"LETHE_LOG_LEVEL, default=info"`
	StmtTimeout    time.Duration `env:"LETHE_STATEMENT_TIMEOUT, default=30s"`
	LockTimeout    time.Duration `env:"LETHE_LOCK_TIMEOUT, default=5s"`
	// DryRun is --dry-run or LETHE_DRY_RUN (see dryRunMode).
	DryRun         bool
	DryRunEnv      dryRunEnv `env:"LETHE_DRY_RUN"`
	PushgatewayURL string    `env:"LETHE_PUSHGATEWAY_URL"`
	S3Endpoint     string    `env:"LETHE_S3_ENDPOINT"`
	S3PathStyle    bool      `env:"LETHE_S3_PATH_STYLE"`
	Schedule       string    `env:"LETHE_SCHEDULE"`
	ScheduleListen string    `env:"LETHE_SCHEDULE_LISTEN, default=:9090"`
	// ScheduleSeconds accepts six-field specs with seconds (tests, demos).
	ScheduleSeconds bool `env:"LETHE_SCHEDULE_SECONDS"`
	// SMTPURL is where the inactivity job sends mail (it holds a password).
	SMTPURL string `env:"LETHE_SMTP_URL"`
	// SMTPRate is the most mails per second the inactivity job sends.
	SMTPRate float64 `env:"LETHE_SMTP_RATE, default=5"`
	// Journal is the erasure journal's location (see journalcmd.go).
	Journal string `env:"LETHE_JOURNAL"`
	// JournalRetention is how long journal objects are kept.
	JournalRetention string `env:"LETHE_JOURNAL_RETENTION, default=400d"`
	// PreviousHashKeys are the subject hash keys used before
	// SubjectHashKey, comma-separated.
	PreviousHashKeys string `env:"LETHE_SUBJECT_HASH_KEYS_PREVIOUS"`
	// Governor and adaptive batch size (see jobs.Governor, jobs.Sizer):
	// zero values take the defaults of package jobs.
	Governor        bool          `env:"LETHE_GOVERNOR, default=true"`
	MaxReplicaLag   time.Duration `env:"LETHE_MAX_REPLICA_LAG"`
	ReplicaURLs     []string      `env:"LETHE_REPLICA_URLS"`
	MaxActive       int           `env:"LETHE_MAX_ACTIVE_CONNECTIONS"`
	MaxLockWaiters  int           `env:"LETHE_MAX_LOCK_WAITERS"`
	MaxThrottle     time.Duration `env:"LETHE_MAX_THROTTLE"`
	LatencyProbe    bool          `env:"LETHE_LATENCY_PROBE, default=true"`
	ProbeFactor     float64       `env:"LETHE_PROBE_FACTOR"`
	MinProbeLatency time.Duration `env:"LETHE_PROBE_MIN_LATENCY"`
	MinShare        float64       `env:"LETHE_MIN_DB_SHARE"`
	MaxDBShare      float64       `env:"LETHE_MAX_DB_SHARE"`
	ShareRamp       float64       `env:"LETHE_DB_SHARE_RAMP"`
	TargetBatchTime time.Duration `env:"LETHE_TARGET_BATCH_TIME"`
	MaxBatchSize    int           `env:"LETHE_MAX_BATCH_SIZE"`
	// Shard is "i/N" (LETHE_SHARD or --shard), or i from a Kubernetes
	// Indexed Job's JOB_COMPLETION_INDEX with N from LETHE_SHARDS.
	Shard           string `env:"LETHE_SHARD"`
	Shards          int    `env:"LETHE_SHARDS"`
	CompletionIndex string `env:"JOB_COMPLETION_INDEX"`
	// Pods is how many processes run this job at once (the chart sets it
	// from parallelism): the share caps are the job's, each pacing at its
	// part of them.
	Pods int `env:"LETHE_PODS"`
	shard           jobs.Shard

	// DryRunExecute is --dry-run=execute: the dry run executes every
	// statement and rolls back (jobs.Limits.ExecuteDryRun).
	DryRunExecute bool
	AllowLarge    bool
	Summary       bool
	Subject       string
	Confirm       bool
	// Role and GrantsFormat are lethe grants' --role and --format.
	Role, GrantsFormat string
	Out                string
	// Since is lethe replay's --since.
	Since string
	// Strict and CheckFormat are lethe check's --strict and --format.
	Strict      bool
	CheckFormat string
	// InitTable and InitKey are lethe init's --table and --key.
	InitTable, InitKey string
}

// envVars documents every variable for --help, in order.
var envVars = [][2]string{
	{"LETHE_JOB", "job to run when --job is not given"},
	{"LETHE_DATABASE_URL", "PostgreSQL connection URL (falls back to DATABASE_URL)"},
	{"LETHE_POLICY", "path of the policy file (default policy.yaml)"},
	{"LETHE_BATCH_SIZE", "subjects (or rows) per transaction (default 500)"},
	{"LETHE_WORKERS", "batches in flight at once (default 2)"},
	{"LETHE_TIME_BUDGET", "stop starting batches after this long, e.g. 10m (default 10m)"},
	{"LETHE_MAX_SUBJECTS", "refuse a purge with more eligible subjects than this (default 10000)"},
	{"LETHE_MAX_SHARE", "refuse a purge whose eligible subjects exceed this share of all (default 0.25)"},
	{"LETHE_SUBJECT_HASH_KEY", "secret for the keyed hash that names subjects in logs and receipts (required for real runs)"},
	{"LETHE_LOG_FORMAT", "json or text (default json; text on a terminal)"},
	{"LETHE_LOG_LEVEL", "debug, info, warn or error (default info)"},
	{"LETHE_STATEMENT_TIMEOUT", "statement_timeout of each batch (default 30s)"},
	{"LETHE_LOCK_TIMEOUT", "lock_timeout of each batch (default 5s)"},
	{"LETHE_DRY_RUN", "true: change nothing, report what would be done; execute: as --dry-run=execute"},
	{"LETHE_PUSHGATEWAY_URL", "push run metrics to this Prometheus Pushgateway"},
	{"LETHE_S3_ENDPOINT", "S3-compatible endpoint (MinIO, Ceph, R2); AWS settings otherwise"},
	{"LETHE_S3_PATH_STYLE", "true: path-style S3 addressing"},
	{"LETHE_SCHEDULE", "lethe schedule: jobs and cron specs, e.g. \"purge=0 3 * * *;retention=*/15 * * * *\""},
	{"LETHE_SCHEDULE_LISTEN", "lethe schedule: address of /metrics and /healthz (default :9090)"},
	{"LETHE_SCHEDULE_SECONDS", "lethe schedule: true to accept six-field specs with seconds"},
	{"LETHE_SMTP_URL", "inactivity mails: smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465 (implicit TLS)"},
	{"LETHE_SMTP_RATE", "inactivity mails: most sent per second (default 5)"},
	{"LETHE_JOURNAL", "erasure journal outside the database: s3://bucket/prefix/ or file:///dir/ (see docs/backups-and-restores.md)"},
	{"LETHE_JOURNAL_RETENTION", "keep journal objects this long, e.g. 400d or 8760h; 0 keeps them forever (default 400d)"},
	{"LETHE_SUBJECT_HASH_KEYS_PREVIOUS", "comma-separated hash keys used before LETHE_SUBJECT_HASH_KEY (replay and receipt accept them)"},
	{"LETHE_GOVERNOR", "false: never wait for the database's health before a batch (default true)"},
	{"LETHE_MAX_REPLICA_LAG", "wait while a replica's replay lag is above this (default 5s)"},
	{"LETHE_REPLICA_URLS", "comma-separated replica URLs whose own lag the governor reads too"},
	{"LETHE_MAX_ACTIVE_CONNECTIONS", "wait while this many client connections are not idle (default 80% of max_connections)"},
	{"LETHE_MAX_LOCK_WAITERS", "wait while more sessions than this wait on lethe's locks (default 0)"},
	{"LETHE_MAX_THROTTLE", "most time a run waits for the database; past it the run stops, exit 1 (default 5m)"},
	{"LETHE_LATENCY_PROBE", "false: no latency probe; true: time a tiny commit every 100ms and pace while it is slow (default true)"},
	{"LETHE_PROBE_FACTOR", "the probe is slow above this many times its baseline while lethe is idle (default 2)"},
	{"LETHE_PROBE_MIN_LATENCY", "the probe is never slow below this (default 5ms)"},
	{"LETHE_MIN_DB_SHARE", "least share of database time (batch seconds per second) the pacing leaves lethe (default 0.05; purge, retention 0.02)"},
	{"LETHE_MAX_DB_SHARE", "most share of database time the pacing gives lethe while the application works (default 0.1; purge, retention 0.02)"},
	{"LETHE_DB_SHARE_RAMP", "how much each fast probe raises lethe's share, as a fraction of it (default 0.05)"},
	{"LETHE_TARGET_BATCH_TIME", "transaction time the adaptive batch size aims for (default 500ms; retention 250ms)"},
	{"LETHE_MAX_BATCH_SIZE", "largest adaptive batch (default the batch size; retention 20000)"},
	{"LETHE_SHARD", "i/N: this process's share of retention and orphans when N run at once (or --shard)"},
	{"LETHE_SHARDS", "N, with JOB_COMPLETION_INDEX as i (a Kubernetes Indexed Job)"},
	{"LETHE_PODS", "how many processes run this job at once (the chart: parallelism; default LETHE_SHARDS, else 1): each paces at 1/N of the share caps"},
}

// parseConfig reads the environment, then the flags of the command in args.
// It returns flag.ErrHelp for -h/--help.
func parseConfig(ctx context.Context, cmd string, args []string, lookup envconfig.Lookuper, stderr io.Writer) (*Config, error) {
	cfg := &Config{}
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: cfg, Lookuper: lookup}); err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = cfg.DatabaseURLAlt
	}
	cfg.DryRun, cfg.DryRunExecute = cfg.DryRunEnv.m.on, cfg.DryRunEnv.m.execute
	fs := flag.NewFlagSet("lethe "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.Job, "job", cfg.Job, "job to run: purge, retention, inactivity or orphans")
	fs.StringVar(&cfg.Policy, "policy", cfg.Policy, "path of the policy file")
	fs.Var(dryRunFlag{cfg}, "dry-run", "change nothing; report what a real run would do (=execute: the purge runs every statement of each batch and rolls back)")
	fs.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "subjects (or rows) per transaction")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "batches in flight at once")
	fs.DurationVar(&cfg.TimeBudget, "time-budget", cfg.TimeBudget, "stop starting batches after this long")
	fs.IntVar(&cfg.MaxSubjects, "max-subjects", cfg.MaxSubjects, "blast-radius guard: most eligible subjects a purge may erase")
	fs.Float64Var(&cfg.MaxShare, "max-share", cfg.MaxShare, "blast-radius guard: largest share of all subjects a purge may erase")
	fs.BoolVar(&cfg.AllowLarge, "allow-large", false, "run even when the blast-radius guard would refuse")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "json or text")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.BoolVar(&cfg.Summary, "summary", false, "print the summary table even when stdout is not a terminal")
	fs.StringVar(&cfg.Shard, "shard", cfg.Shard, "i/N: this process's share of retention and orphans when N run at once")
	if cmd == "check" {
		fs.BoolVar(&cfg.Strict, "strict", false, "unclassified references, personal data and stale ignore entries are problems (exit 2)")
		fs.StringVar(&cfg.CheckFormat, "format", "text", "text or json")
	}
	if cmd == "init" {
		fs.StringVar(&cfg.Out, "out", "", "write the draft policy to this file (it must not exist); default stdout")
		fs.StringVar(&cfg.InitTable, "table", "", "the subject (account) table; default: the table most foreign keys point at among users, accounts, ...")
		fs.StringVar(&cfg.InitKey, "key", "", "the subject table's key column; default its primary key")
	}
	if cmd == "export" {
		fs.StringVar(&cfg.Out, "out", "", "the archive file (written as FILE.tmp, then renamed) or s3://bucket/prefix/; default stdout")
	}
	if cmd == "erase" || cmd == "receipt" || cmd == "export" {
		fs.StringVar(&cfg.Subject, "subject", "", "the subject's key (as the application stores it)")
	}
	if cmd == "replay" || cmd == "run" {
		fs.StringVar(&cfg.Since, "since", "", "lethe replay: only erasures at or after this time (RFC 3339 or YYYY-MM-DD)")
	}
	if cmd == "erase" {
		fs.BoolVar(&cfg.Confirm, "confirm", false, "really erase; without it, show what would happen")
	}
	if cmd == "grants" {
		fs.StringVar(&cfg.Role, "role", grants.DefaultRole, "name of the role to create")
		fs.StringVar(&cfg.GrantsFormat, "format", "sql", "sql (the script, the IAM policy in comments) or iam (the IAM policy JSON)")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{fmt.Errorf("%v (see lethe --help)", err)}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Errorf("unexpected argument %q (see lethe --help)", fs.Arg(0))}
	}
	return cfg, cfg.validate(cmd)
}

type usageError struct{ error }

func (c *Config) validate(cmd string) error {
	var errs []string
	if cmd == "run" {
		names := strings.Join(jobsFor(c).Names(), ", ")
		if c.Job == "" {
			errs = append(errs, "no job selected: use --job NAME or LETHE_JOB ("+names+")")
		} else if _, ok := jobsFor(c).Lookup(c.Job); !ok {
			errs = append(errs, fmt.Sprintf("unknown job %q: want one of %s", c.Job, names))
		}
	}
	if c.DryRunExecute && (cmd != "run" || c.Job != "purge") {
		errs = append(errs, "--dry-run=execute is for the purge (lethe --job purge), as flag or as LETHE_DRY_RUN: other dry runs only read")
	}
	if (cmd == "erase" || cmd == "receipt" || cmd == "export") && c.Subject == "" {
		errs = append(errs, "--subject KEY is required")
	}
	if cmd == "grants" {
		if err := grants.CheckRole(c.Role); err != nil {
			errs = append(errs, err.Error())
		}
		if c.GrantsFormat != "sql" && c.GrantsFormat != "iam" {
			errs = append(errs, fmt.Sprintf("--format %q: want sql or iam", c.GrantsFormat))
		}
	}
	if cmd == "check" && c.CheckFormat != "text" && c.CheckFormat != "json" {
		errs = append(errs, fmt.Sprintf("--format %q: want text or json", c.CheckFormat))
	}
	errs = append(errs, c.validateJournal()...)
	if c.BatchSize < 1 {
		errs = append(errs, "batch size must be at least 1")
	}
	if c.Workers < 1 || c.Workers > 64 {
		errs = append(errs, "workers must be between 1 and 64")
	}
	if c.MaxShare <= 0 || c.MaxShare > 1 {
		errs = append(errs, "max share must be in (0, 1]")
	}
	if c.TimeBudget <= 0 {
		errs = append(errs, "time budget must be positive")
	}
	if c.MaxReplicaLag < 0 || c.MaxThrottle < 0 || c.TargetBatchTime < 0 || c.MaxActive < 0 || c.MaxLockWaiters < 0 || c.MaxBatchSize < 0 {
		errs = append(errs, "LETHE_MAX_REPLICA_LAG, LETHE_MAX_THROTTLE, LETHE_TARGET_BATCH_TIME, LETHE_MAX_ACTIVE_CONNECTIONS, LETHE_MAX_LOCK_WAITERS and LETHE_MAX_BATCH_SIZE must not be negative")
	}
	if c.ProbeFactor < 0 || c.MinProbeLatency < 0 || c.MinShare < 0 || c.MinShare > 1 {
		errs = append(errs, "LETHE_PROBE_FACTOR and LETHE_PROBE_MIN_LATENCY must not be negative, LETHE_MIN_DB_SHARE must be in [0, 1]")
	}
	if c.MaxDBShare < 0 || c.MaxDBShare > 1 || (c.MaxDBShare > 0 && c.MaxDBShare < c.MinShare) || c.ShareRamp < 0 || c.ShareRamp > 1 {
		errs = append(errs, "LETHE_MAX_DB_SHARE must be in [0, 1] and not below LETHE_MIN_DB_SHARE, LETHE_DB_SHARE_RAMP in [0, 1]")
	}
	if err := c.readShard(); err != nil {
		errs = append(errs, err.Error())
	}
	if c.Pods < 0 {
		errs = append(errs, fmt.Sprintf("LETHE_PODS=%d: want a count", c.Pods))
	}
	switch c.LogFormat {
	case "", "json", "text":
	default:
		errs = append(errs, fmt.Sprintf("log format %q: want json or text", c.LogFormat))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Sprintf("log level %q: want debug, info, warn or error", c.LogLevel))
	}
	if cmd != "version" && c.DatabaseURL == "" {
		errs = append(errs, "LETHE_DATABASE_URL (or DATABASE_URL) is not set")
	}
	if len(errs) > 0 {
		return usageError{errors.New(strings.Join(errs, "; "))}
	}
	return nil
}

// readShard reads the shard from LETHE_SHARD (--shard), or from
// JOB_COMPLETION_INDEX and LETHE_SHARDS.
func (c *Config) readShard() error {
	switch {
	case c.Shard != "":
		sh, err := jobs.ParseShard(c.Shard)
		c.shard = sh
		return err
	case c.Shards > 1:
		if c.CompletionIndex == "" {
			return fmt.Errorf("LETHE_SHARDS=%d needs JOB_COMPLETION_INDEX (an Indexed Job) or LETHE_SHARD i/N", c.Shards)
		}
		sh, err := jobs.ParseShard(c.CompletionIndex + "/" + strconv.Itoa(c.Shards))
		c.shard = sh
		if err != nil {
			return fmt.Errorf("JOB_COMPLETION_INDEX with LETHE_SHARDS: %w", err)
		}
	case c.Shards < 0:
		return fmt.Errorf("LETHE_SHARDS=%d: want a count", c.Shards)
	}
	return nil
}

// dryRunFlag is --dry-run, a boolean flag that also takes =execute.
type dryRunFlag struct{ cfg *Config }

func (f dryRunFlag) IsBoolFlag() bool { return true }

func (f dryRunFlag) String() string {
	switch {
	case f.cfg == nil || !f.cfg.DryRun:
		return "false"
	case f.cfg.DryRunExecute:
		return "execute"
	}
	return "true"
}

func (f dryRunFlag) Set(v string) error {
	var m dryRunMode
	if err := m.UnmarshalText([]byte(v)); err != nil {
		return err
	}
	f.cfg.DryRun, f.cfg.DryRunExecute = m.on, m.execute
	return nil
}

// dryRunMode is a value of --dry-run or LETHE_DRY_RUN: a boolean, or
// execute (a dry run that executes every statement and rolls back). The
// flag, when given, replaces the variable's value.
type dryRunMode struct{ on, execute bool }

// UnmarshalText implements encoding.TextUnmarshaler, which go-envconfig
// uses for LETHE_DRY_RUN.
func (m *dryRunMode) UnmarshalText(b []byte) error {
	v := string(b)
	if v == "execute" {
		*m = dryRunMode{on: true, execute: true}
		return nil
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("want true, false or execute, not %q", v)
	}
	*m = dryRunMode{on: on}
	return nil
}

// dryRunEnv is LETHE_DRY_RUN, a dryRunMode whose error names the variable
// (go-envconfig does not).
type dryRunEnv struct{ m dryRunMode }

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *dryRunEnv) UnmarshalText(b []byte) error {
	if err := e.m.UnmarshalText(b); err != nil {
		return fmt.Errorf("LETHE_DRY_RUN: %w", err)
	}
	return nil
}
