package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/metrics"
	"github.com/robfig/cron/v3"
)

// Config is what `lethe schedule` runs.
type Config struct {
	// Jobs are the jobs to run and their schedules, usually from
	// [ParseEntries]. At least one.
	Jobs []Entry
	// Seconds, when true, reads each spec as six fields with seconds first
	// ("*/10 * * * * *"), for tests and demonstrations. Default false: the
	// five standard fields of a Kubernetes CronJob.
	Seconds bool
	// Location is the time zone of specs that do not start with CRON_TZ=.
	// Default time.Local (the TZ environment variable; UTC in the image).
	Location *time.Location
	// Listen is the TCP address that serves /metrics and /healthz, such as
	// ":8080" or "127.0.0.1:0". Empty serves nothing.
	Listen string
	// NewJob builds a fresh job for one run of the job named name. stop is
	// the job's stop context: when it is done the job starts no new batch
	// and returns. It is called once per entry by [New] to check the name,
	// then once per run. Required.
	NewJob func(name string, stop context.Context) (jobs.Job, error)
	// Runner runs each job; its hooks (a Pushgateway push, say) run after
	// every run. Default: a runner that logs to Logger.
	Runner *jobs.Runner
	// Limits are every run's limits; each run gets its own Stop. With
	// Limits.DryRun every job is a dry run: nothing is changed, and no
	// metrics are recorded.
	Limits jobs.Limits
	// Metrics receives every run's metrics and is served on /metrics.
	// Default: a new metrics.Registry.
	Metrics *metrics.Registry
	// Logger receives the scheduler's own lines. Default: discard.
	Logger *slog.Logger
}

// Scheduler runs jobs on their schedules; build it with [New].
type Scheduler struct {
	cfg     Config
	runner  jobs.Runner
	entries []*entry
	ln      net.Listener
}

// entry is one scheduled job and the lock that keeps its runs apart.
type entry struct {
	Entry
	schedule cron.Schedule
	running  sync.Mutex
}

// standardParser is cron.ParseStandard's parser, the CronJob controller's.
var (
	standardParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	secondsParser  = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
)

// New checks cfg, parses every schedule, builds each job once to check its
// name, and binds cfg.Listen. A bad schedule or job is a *jobs.ConfigError
// (exit code 2) that names the job and its spec.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if cfg.NewJob == nil {
		return nil, &jobs.ConfigError{Err: errors.New("schedule: NewJob is required")}
	}
	if len(cfg.Jobs) == 0 {
		return nil, &jobs.ConfigError{Err: errors.New("schedule: no job scheduled")}
	}
	parser := standardParser
	if cfg.Seconds {
		parser = secondsParser
	}
	s := &Scheduler{cfg: cfg}
	seen := map[string]bool{}
	for _, e := range cfg.Jobs {
		if seen[e.Name] {
			return nil, &jobs.ConfigError{Err: fmt.Errorf("schedule: job %s is scheduled twice", e.Name)}
		}
		seen[e.Name] = true
		sched, err := parser.Parse(e.Spec)
		if err != nil {
			return nil, &jobs.ConfigError{Err: fmt.Errorf("schedule of job %s: invalid spec %q: %w", e.Name, e.Spec, err)}
		}
		if _, err := cfg.NewJob(e.Name, context.Background()); err != nil {
			return nil, &jobs.ConfigError{Err: fmt.Errorf("schedule of job %s: %w", e.Name, err)}
		}
		s.entries = append(s.entries, &entry{Entry: e, schedule: sched})
	}
	if cfg.Runner != nil {
		s.runner = *cfg.Runner
	} else {
		s.runner = jobs.Runner{Logger: cfg.Logger}
	}
	s.runner.Hooks = append(slices.Clone(s.runner.Hooks), cfg.Metrics.Hook())
	if cfg.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("schedule: listen for /metrics: %w", err)
		}
		s.ln = ln
	}
	return s, nil
}

// Addr is the address /metrics and /healthz are served on, or nil when
// Config.Listen is empty.
func (s *Scheduler) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Run runs the jobs on their schedules until stop is done, then waits for
// the running jobs to finish and returns nil. ctx is each run's context:
// cancelling it aborts the runs in flight, and Run then returns an error
// once they have returned. A failing job does not stop the scheduler; its
// failure is in its log line and its metrics.
func (s *Scheduler) Run(ctx, stop context.Context) error {
	serveErr := make(chan error, 1)
	var srv *http.Server
	if s.ln != nil {
		srv = s.server()
		go func() { serveErr <- srv.Serve(s.ln) }()
	}
	c := cron.New(cron.WithLocation(s.cfg.Location), cron.WithLogger(cron.DiscardLogger))
	for _, e := range s.entries {
		c.Schedule(e.schedule, cron.FuncJob(func() { s.runOnce(ctx, stop, e) }))
	}
	c.Start()
	s.logStarted(c)

	var err error
	select {
	case <-stop.Done():
		s.cfg.Logger.Info("stopping: no new run starts; waiting for the running ones to finish their batch")
	case <-ctx.Done():
		s.cfg.Logger.Warn("aborting: waiting for the running jobs to roll back")
	case err = <-serveErr:
		err = fmt.Errorf("schedule: serve /metrics: %w", err)
		s.cfg.Logger.Error("serving /metrics failed; stopping", slog.String("error", err.Error()))
	}
	<-c.Stop().Done()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("schedule aborted: %w", context.Cause(ctx))
	}
	s.cfg.Logger.Info("stopped")
	return err
}

// Run is New then Scheduler.Run.
func Run(ctx, stop context.Context, cfg Config) error {
	s, err := New(cfg)
	if err != nil {
		return err
	}
	return s.Run(ctx, stop)
}

// runOnce runs e's job once, unless it is still running or stop is done.
func (s *Scheduler) runOnce(ctx, stop context.Context, e *entry) {
	log := s.cfg.Logger.With(slog.String("job", e.Name))
	if stop.Err() != nil || ctx.Err() != nil {
		return
	}
	if !e.running.TryLock() {
		log.Warn("run skipped: the previous run is still going", slog.String("schedule", e.Spec))
		s.cfg.Metrics.Skipped(e.Name)
		return
	}
	defer e.running.Unlock()
	job, err := s.cfg.NewJob(e.Name, stop)
	if err != nil {
		// Run it anyway, so the failure is logged and counted like any other.
		job = brokenJob{name: e.Name, err: &jobs.ConfigError{Err: err}}
	}
	log.Debug("run starting")
	limits := s.cfg.Limits
	limits.Stop = stop
	s.runner.Run(ctx, job, limits)
}

func (s *Scheduler) server() *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.cfg.Metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
}

func (s *Scheduler) logStarted(c *cron.Cron) {
	attrs := []any{slog.Bool("dry_run", s.cfg.Limits.DryRun)}
	if s.ln != nil {
		attrs = append(attrs, slog.String("listen", s.ln.Addr().String()))
	}
	for _, ce := range c.Entries() {
		// Entries come back sorted by next run; name each by its job.
		attrs = append(attrs, slog.Time("next_"+s.entryFor(ce.Schedule).Name, ce.Next))
	}
	s.cfg.Logger.Info("schedule started", attrs...)
}

func (s *Scheduler) entryFor(sched cron.Schedule) *entry {
	for _, e := range s.entries {
		if e.schedule == sched {
			return e
		}
	}
	return &entry{Entry: Entry{Name: "unknown"}}
}

// brokenJob stands for a job that could not be built, so that the failure
// goes through the runner like any other.
type brokenJob struct {
	name string
	err  error
}

func (j brokenJob) Name() string                             { return j.name }
func (j brokenJob) Run(context.Context, *jobs.Session) error { return j.err }
