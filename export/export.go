package export

import (
	"archive/zip"
	"compress/flate"
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/plan"
)

// Config is everything an export needs. Whether it is a dry run, and its
// lock timeout, come from the run's jobs.Limits.
type Config struct {
	// Deps are the process's pool, policy, logger, hasher and object
	// router, built once by main; Pool and Policy are required.
	jobs.Deps
	// Destination is where the archive goes; ignored by a dry run.
	Destination Destination

	// afterPart, when set, is called after each file of the archive is
	// written (tests make faults there).
	afterPart func(file string)
}

// Job exports one subject; it implements jobs.Job so that the runner
// reports and records it like the other jobs.
type Job struct {
	cfg Config
	key string
	// Manifest is the last run's manifest, nil before a run.
	Manifest *Manifest
}

var _ jobs.Job = (*Job)(nil)

// New returns the export of the subject with key, as the application stores
// it (any form the key column's type accepts).
func New(cfg Config, key string) (*Job, error) {
	if cfg.Pool == nil || cfg.Policy == nil {
		return nil, errors.New("export: Pool and Policy are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Job{cfg: cfg, key: key}, nil
}

// Name implements jobs.Job.
func (j *Job) Name() string { return "export" }

// Run implements jobs.Job: it reads the subject's rows in one snapshot and
// writes the archive, or in a dry run only counts them. An unknown or
// malformed key is a *jobs.ConfigError and nothing is written or recorded.
// The run is recorded in lethe.runs with the subject's keyed hash, the
// destination's kind and the row counts.
func (j *Job) Run(ctx context.Context, s *jobs.Session) (err error) {
	cfg := &j.cfg
	r, dry := s.Report, s.DryRun()
	pl, err := plan.Build(ctx, cfg.Pool, cfg.Policy)
	if err != nil {
		// A policy problem, or the catalog read (which says so).
		return err
	}
	parts, err := buildParts(pl)
	if err != nil {
		return err
	}
	if !dry && cfg.Hasher == nil {
		return &jobs.ConfigError{Err: errors.New("LETHE_SUBJECT_HASH_KEY is not set: the manifest and the audit record name the subject by its keyed hash")}
	}
	if !dry {
		if err := cfg.Destination.check(); err != nil {
			return &jobs.ConfigError{Err: err}
		}
	}
	snap, err := j.begin(ctx, pl, s.Limits.LockTimeout)
	if err != nil {
		return err
	}
	defer snap.close(ctx)
	if dry {
		for _, p := range parts {
			n, err := snap.count(ctx, p)
			if err != nil {
				return err
			}
			if n > 0 {
				r.AddRows(p.step.Table.String(), string(p.step.Action), n)
			}
		}
		return nil
	}
	m := &Manifest{Format: FormatVersion, ExportedAt: snap.at, PolicySHA256: cfg.Policy.Digest, SubjectHash: cfg.Hasher.Hash(snap.key[0])}
	r.SetLabel("subject_hash", m.SubjectHash)
	r.SetLabel("destination", cfg.Destination.Kind())
	r.SetLabel("policy_sha256", m.PolicySHA256)
	r.SetLabel("format", strconv.Itoa(FormatVersion))
	if err := s.Start(ctx); err != nil {
		return err
	}
	if err := j.write(ctx, snap, parts, m); err != nil {
		return err
	}
	for _, e := range m.Tables {
		if e.Rows > 0 {
			r.AddRows(e.Table, e.Category, e.Rows)
		}
	}
	j.Manifest = m
	cfg.Logger.Info("exported", slog.String("subject", m.SubjectHash), slog.String("destination", cfg.Destination.Kind()))
	return nil
}

// write streams every part into the destination's archive and publishes it
// once complete; on any failure nothing is published.
func (j *Job) write(ctx context.Context, snap *snapshot, parts []*part, m *Manifest) (err error) {
	out, err := j.cfg.Destination.open(ctx, m.SubjectHash)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.discard()
		}
	}()
	a := &archive{zw: zip.NewWriter(out), at: m.ExportedAt}
	a.zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	for _, p := range parts {
		w, err := a.create(p.entry.File)
		if err != nil {
			return err
		}
		n, err := snap.stream(ctx, p, w)
		if err != nil {
			return err
		}
		e := p.entry
		e.Rows = n
		m.Tables = append(m.Tables, e)
		if j.cfg.afterPart != nil {
			j.cfg.afterPart(e.File)
		}
	}
	if err := a.finish(m); err != nil {
		return err
	}
	return out.publish()
}
