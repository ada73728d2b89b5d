package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/journal"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/subject"
)

// Counters the replay reports besides the purge's.
const (
	// JournalEntries is how many journal entries the run read.
	JournalEntries jobs.Counter = "journal_entries"
	// SubjectsScanned is how many subjects of the (restored) database the
	// run hashed and compared.
	SubjectsScanned jobs.Counter = "subjects_scanned"
	// SubjectsFound is how many of them the journal says were erased and
	// are to be erased again.
	SubjectsFound jobs.Counter = "subjects_found"
	// SubjectsHeld is how many of those are on hold: reported, not erased.
	SubjectsHeld jobs.Counter = "subjects_held"
	// FindMS is how long, in milliseconds, reading the journal and
	// scanning the subject table took, before any erasure.
	FindMS jobs.Counter = "find_ms"
)

// Config is what the replay needs besides the run's limits.
type Config struct {
	// Purge configures the erasure of the subjects found: pool, policy,
	// current hasher, erasers, workers. Its Journal is not used.
	Purge purge.Config
	// Journal is the erasure journal to replay.
	Journal *journal.Journal
	// Previous are the hash keys used before the current one, so that
	// journal entries made with them are found too.
	Previous []*subject.Hasher
	// Since, when set, replays only the erasures at or after it.
	Since time.Time
}

// Job is lethe replay.
type Job struct {
	cfg Config
	// hooks.found, when set, runs once the subjects are found, before any
	// is erased; only tests set it.
	found func()
}

var _ jobs.Job = (*Job)(nil)

// New returns the replay job. Its run refuses (a *jobs.ConfigError)
// without a journal or a hash key: without them nothing can be found.
func New(cfg Config) (*Job, error) {
	if err := cfg.Purge.Require("replay"); err != nil {
		return nil, err
	}
	cfg.Purge.Journal = nil
	return &Job{cfg: cfg}, nil
}

// Name implements jobs.Job.
func (j *Job) Name() string { return "replay" }

// Run implements jobs.Job: it finds the journal's subjects in the
// database and re-erases them; with a subject on hold it erases the others
// and returns a *jobs.GuardError, so that a person decides.
func (j *Job) Run(ctx context.Context, s *jobs.Session) error {
	pc := j.cfg.Purge
	if j.cfg.Journal == nil {
		return &jobs.ConfigError{Err: errors.New("lethe replay needs the erasure journal: set LETHE_JOURNAL")}
	}
	if pc.Hasher == nil {
		return &jobs.ConfigError{Err: errors.New("LETHE_SUBJECT_HASH_KEY is not set: the journal names subjects by their keyed hash")}
	}
	pl, err := plan.Build(ctx, pc.Pool, pc.Policy)
	if err != nil {
		return err
	}
	started := s.Limits.Now()
	ix, err := readIndex(ctx, j.cfg.Journal, j.cfg.Since)
	if err != nil {
		return err
	}
	s.Report.Set(JournalEntries, ix.entries)
	ps, err := ix.probes(append([]*subject.Hasher{pc.Hasher}, j.cfg.Previous...))
	if err != nil {
		return err
	}
	read := s.Limits.Now()
	f, err := scan(ctx, pc.Pool, pl, ps)
	if err != nil {
		return err
	}
	s.Report.Set(SubjectsScanned, f.scanned)
	s.Report.Set(SubjectsFound, int64(len(f.hits)))
	s.Report.Set(SubjectsHeld, f.held)
	s.Report.Set(jobs.SubjectsEligible, int64(len(f.hits)))
	s.Report.Set(FindMS, s.Limits.Now().Sub(started).Milliseconds())
	pc.Logger.Info("journal replayed against the database", slog.Int64(string(JournalEntries), ix.entries),
		slog.Int64(string(SubjectsScanned), f.scanned), slog.Int(string(SubjectsFound), len(f.hits)),
		slog.Int64(string(SubjectsHeld), f.held), slog.Float64("journal_read_seconds", read.Sub(started).Seconds()),
		slog.Float64("scan_seconds", s.Limits.Now().Sub(read).Seconds()))
	if j.found != nil {
		j.found()
	}
	if len(f.hits) > 0 {
		pj, perr := purge.NewReplay(pc, f.hits)
		if perr != nil {
			return perr
		}
		err = pj.Run(ctx, s)
		f.hits = nil
	}
	if f.held > 0 {
		err = errors.Join(err, &jobs.GuardError{Reason: fmt.Sprintf(
			"%d subject(s) that the journal says were erased are on hold in this database: not erased; a person must decide (lift the hold and rerun lethe replay, or keep them)", f.held)})
	}
	return err
}
