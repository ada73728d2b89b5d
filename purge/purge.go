package purge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/plan"
)

// Job is the grace-period purge.
type Job struct {
	cfg Config
	pl  *plan.Plan
	sql queries

	// one, when set, erases this single subject now (lethe erase).
	one *string
	// replay, when set, re-erases these subjects after a restore (lethe
	// replay); see NewReplay.
	replay *replaySet
	// jstate is the run's erasure journal state.
	jstate journalState
	// hooks let tests order workers and make faults at exact points.
	hooks hooks
	// verifyTimeout bounds each verification query (statement_timeout).
	verifyTimeout time.Duration
}

// hooks are called, when set, at fixed points of a batch; only tests set
// them.
type hooks struct {
	// selecting runs after a batch read the run's failed subjects and
	// before its select is sent.
	selecting func()
	// beforeCommit runs just before a batch commits, with the server
	// process id of its connection.
	beforeCommit func(pid uint32)
	// batchEnded runs after each attempt at a batch, once its transaction
	// has ended.
	batchEnded func()
	// inTx runs inside a batch's transaction just before it commits.
	inTx func(tx pgx.Tx)
	// turning runs before a worker asks for its turn (Job.turn).
	turning func()
}

var _ jobs.Job = (*Job)(nil)

// New returns the purge job.
func New(cfg Config) (*Job, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Job{cfg: cfg}, nil
}

// NewErase returns a job that erases one subject now, skipping the grace
// period but never a hold: the same code path as the scheduled purge.
func NewErase(cfg Config, key string) (*Job, error) {
	j, err := New(cfg)
	if err != nil {
		return nil, err
	}
	j.one = &key
	return j, nil
}

// Name implements jobs.Job.
func (j *Job) Name() string {
	if j.one != nil {
		return "erase"
	}
	if j.replay != nil {
		return "replay"
	}
	return "purge"
}

// DefaultPacedShare is the purge's cap on its share of database time
// while the application works, when LETHE_MAX_DB_SHARE is not set: a
// fifth of the other jobs' (jobs.DefaultMaxShare). Beside the benchmark's
// load on a quiet machine the load's p99 was 1.93x of the load alone at
// 0.1, 1.53x at 0.05 (B15), 1.14x at 0.02 (B16), at 474, 221 and 94
// subjects/s: a commit of the application's that meets one of lethe's
// batches waits for the WAL flush that carries it, and the cap is how
// often that happens (README, Benchmarks).
const DefaultPacedShare = 0.02

// PacedShareCap is the purge's default cap on its share of database time
// while the application works (jobs.PacedShareCapper).
func (j *Job) PacedShareCap() float64 { return DefaultPacedShare }

var _ jobs.PacedShareCapper = (*Job)(nil)

// Plan returns the plan the last Run built.
func (j *Job) Plan() *plan.Plan { return j.pl }

// Run implements jobs.Job.
func (j *Job) Run(ctx context.Context, s *jobs.Session) (err error) {
	cfg := &j.cfg
	r := s.Report
	ph := newPhases(cfg.Logger, j.Name(), s.Limits.Now)
	pl, err := plan.Build(ctx, cfg.Pool, cfg.Policy)
	if err != nil {
		// A policy problem, or the catalog read (which says so).
		return err
	}
	j.pl = pl
	ph.done("plan")
	var extra []string
	for _, e := range cfg.Erasers {
		for _, c := range e.Columns() {
			if _, ok := pl.Subject.Table.Columns[c]; !ok {
				return &jobs.ConfigError{Err: fmt.Errorf("%s needs column %q of the subject table %s, which does not exist", e.Name(), c, pl.Subject.Table)}
			}
			if !slices.Contains(extra, c) {
				extra = append(extra, c)
			}
		}
	}
	j.sql = buildQueries(pl, extra...)
	j.verifyTimeout = s.Limits.StatementTimeout
	if !s.DryRun() && cfg.Hasher == nil {
		return &jobs.ConfigError{Err: errors.New("LETHE_SUBJECT_HASH_KEY is not set: receipts and logs need it to name subjects without their key")}
	}

	st, err := j.stats(ctx)
	if err != nil {
		return err
	}
	ph.done("count")
	setGauges(r, st)
	r.SetGauge(jobs.GraceSeconds, pl.Subject.Grace.Seconds())
	r.Set(jobs.SubjectsEligible, st.eligible)
	if j.one == nil && j.replay == nil {
		if err := j.guard(ctx, s.Limits, st.eligible); err != nil {
			return err
		}
	}
	if j.one != nil && st.eligible == 0 {
		return &jobs.ConfigError{Err: errors.New("no such subject, or it is on hold, or already erased")}
	}

	if !s.DryRun() {
		if err = s.Start(ctx); err != nil {
			return err
		}
		if err = j.verifyOwed(ctx, r); err != nil {
			var ve *VerificationError
			if !errors.As(err, &ve) {
				return err
			}
			// Earlier receipts failed: say so, and erase what is due.
			defer func(owed error) { err = errors.Join(owed, err) }(err)
		}
		j.journalStart(ctx, s)
		defer func() { err = errors.Join(err, j.journalEnd(ctx, s)) }()
		ph.done("start")
	}

	err = j.work(ctx, s, ph)
	if j.one == nil && j.replay == nil {
		left, cerr := j.stats(context.WithoutCancel(ctx))
		if cerr == nil {
			if s.DryRun() {
				r.Set(jobs.SubjectsLeft, left.eligible-r.Counter(jobs.SubjectsDone))
			} else {
				r.Set(jobs.SubjectsLeft, left.eligible)
				setGauges(r, left)
			}
		}
		ph.done("final count")
	}
	return err
}

// setGauges reports the pending requests st counted.
func setGauges(r *jobs.Report, st stats) {
	r.SetGauge(jobs.PendingSubjects, float64(st.pending))
	r.SetGauge(jobs.OldestRequestAgeSeconds, st.oldestAge)
	r.SetGauge(jobs.OldestOverdueSeconds, st.oldestOverdue)
}

type stats struct {
	eligible, pending, total int64 // total: one subject or a replay's keys
	oldestAge                float64
	// oldestOverdue is how long, in seconds, the oldest eligible request
	// has been past requested_at + grace; 0 when none is.
	oldestOverdue float64
}

// guard is the blast-radius check of eligible subjects against all of
// them, counted only as far as the guard needs.
func (j *Job) guard(ctx context.Context, l jobs.Limits, eligible int64) error {
	var total int64
	if limit := l.GuardTotalCap(eligible, guardFloor); limit > 0 {
		if err := j.cfg.Pool.QueryRow(ctx, j.sql.total, limit).Scan(&total); err != nil {
			return fmt.Errorf("count subjects: %w", err)
		}
	}
	return l.Guard("subjects are eligible", eligible, total, guardFloor, "check subject.requested_at and grace")
}

// guardFloor is how many eligible subjects the share guard starts at.
const guardFloor = 50

// stats counts the eligible and pending subjects.
func (j *Job) stats(ctx context.Context) (stats, error) {
	var st stats
	args := []any{j.pl.Subject.Grace}
	q := j.sql.stats
	if j.one != nil {
		q, args = j.sql.statsOne, []any{*j.one}
	}
	if j.replay != nil {
		q, args = j.sql.statsMany, []any{j.replay.keys}
	}
	err := j.cfg.Pool.QueryRow(ctx, q, args...).Scan(&st.eligible, &st.pending, &st.total, &st.oldestAge, &st.oldestOverdue)
	if j.one != nil && jobs.SQLState(err) == "22P02" {
		// The server's message would repeat the key: say what is wrong
		// without it.
		return st, &jobs.ConfigError{Err: fmt.Errorf("the subject key is not a valid %s", j.pl.Subject.Key.Type)}
	}
	if err != nil {
		return st, fmt.Errorf("count eligible subjects: %w", err)
	}
	return st, nil
}

// work runs the workers until nothing is left, the run must stop (see
// jobs.Session.Continue), or a batch fails.
func (j *Job) work(ctx context.Context, s *jobs.Session, ph *phases) error {
	cfg := &j.cfg
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
		stop     atomic.Bool
		cursor   = newCursor()
	)
	progressDone := make(chan struct{})
	go j.progress(s.Report, progressDone)
	defer close(progressDone)
	workers := cfg.Workers
	if j.one != nil || s.DryRun() {
		workers = 1
	}
	if s.Report.Counter(jobs.SubjectsEligible) > 0 {
		if err := j.warm(ctx, cfg.Pool, workers, s.DryRun()); err != nil {
			return err
		}
		ph.done("prepare")
	}
	z := j.sizer(s)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				release, err := j.turn(ctx, s)
				if err != nil || !s.Continue(ctx) {
					release()
					return
				}
				n, size, err := j.batchWithRetry(ctx, s, z, cursor)
				release()
				if err != nil {
					errMu.Lock()
					firstErr = errors.Join(firstErr, err)
					errMu.Unlock()
					var fe *failedSubjectsError
					if !errors.As(err, &fe) {
						stop.Store(true)
					}
				}
				if j.replay != nil {
					if j.replay.empty() {
						return
					}
					continue
				}
				if n < size || j.one != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	ph.done("batches")
	return firstErr
}

// pacedCap is the most a paced batch aims at: PacedBatchTime at the
// default target batch time, scaled with the run's target, so that a run
// told to aim at longer transactions (LETHE_TARGET_BATCH_TIME) gets longer
// paced ones too.
func pacedCap(paced, target time.Duration) time.Duration {
	if target <= 0 {
		return paced
	}
	return time.Duration(float64(paced) * float64(target) / float64(jobs.DefaultTargetBatchTime))
}

// turn waits, while the run is paced, until no other worker's batch is in
// flight (jobs.Session.PacedTurn), unless Config.PacedParallel.
func (j *Job) turn(ctx context.Context, s *jobs.Session) (func(), error) {
	if j.hooks.turning != nil {
		j.hooks.turning()
	}
	if j.cfg.PacedParallel {
		return func() {}, nil
	}
	return s.PacedTurn(ctx)
}

// firstBatchSize caps the size of a run's first batches: a schema's cost
// per subject is unknown until a batch ran (on a thousand tables, each
// subject row deleted fires hundreds of foreign-key checks, and the 500
// subjects of a default batch took 5 s, and 64 took 0.5-0.7 s, 2.3 s at a
// load spike), so the run starts small and the sizer grows its batches
// towards the target transaction time.
const firstBatchSize = 32

// sizer returns the run's adaptive batch size, which starts at the batch
// size or firstBatchSize, the smaller, and adapts (see jobs.Sizer) up to
// LETHE_MAX_BATCH_SIZE.
func (j *Job) sizer(s *jobs.Session) *jobs.Sizer {
	start := min(s.Limits.BatchSize, firstBatchSize)
	s.Report.SetGauge(jobs.BatchSize, float64(start))
	z := s.NewSizer(start, s.Limits.MaxBatchSize, 0)
	z.CapPaced(pacedCap(j.cfg.PacedBatchTime, s.Limits.TargetBatchTime))
	return z
}

func (j *Job) progress(r *jobs.Report, done <-chan struct{}) {
	t := time.NewTicker(j.cfg.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			el := time.Since(r.Started)
			n := r.Counter(jobs.SubjectsDone)
			j.cfg.Logger.Info("progress", slog.String("job", j.Name()), slog.Int64(string(jobs.SubjectsDone), n),
				slog.Int64(string(jobs.SubjectsEligible), r.Counter(jobs.SubjectsEligible)),
				slog.Float64("subjects_per_second", float64(n)/el.Seconds()),
				slog.Float64("elapsed_seconds", el.Seconds()))
		}
	}
}
