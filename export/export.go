package export

import (
	"archive/zip"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/plan"
)

// Config is everything an export needs. Whether it is a dry run, and its
// lock timeout, come from the run's jobs.Limits.
type Config struct {
	// Deps are the process's pool, policy, logger, hasher and object
	// router, built once by main; Pool and Policy are required. Objects
	// reads the subject's files (required when the policy has objects:),
	// Env resolves the processors' ${NAME} references.
	jobs.Deps
	// Destination is where the archive goes; ignored by a dry run.
	Destination Destination
	// HTTPClient calls the processors; nil is http.DefaultClient.
	HTTPClient *http.Client

	// afterPart, when set, is called after each file of the archive is
	// written (tests make faults there).
	afterPart func(file string)
}

// Job exports one subject; it implements jobs.Job so that the runner
// reports and records it like the other jobs.
type Job struct {
	cfg Config
	key string
	out *outside
	// pipelined reads a subject's tables in one round trip (the export
	// job's many small subjects); off, a part at a time.
	pipelined bool
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
	var store objstore.Store
	if cfg.Objects != nil {
		store = cfg.Objects
	}
	out, err := newOutside(cfg.Policy, store, cfg.Env, cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	return &Job{cfg: cfg, key: key, out: out}, nil
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
	pr, err := j.prepare(ctx)
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
	snap, err := j.begin(ctx, pr.pl, j.key, s.Limits.LockTimeout)
	if err != nil {
		return err
	}
	defer snap.close(ctx)
	if dry {
		return j.countAll(ctx, r, pr, snap)
	}
	r.SetLabel("subject_hash", cfg.Hasher.Hash(snap.key[0]))
	r.SetLabel("destination", cfg.Destination.Kind())
	r.SetLabel("policy_sha256", cfg.Policy.Digest)
	r.SetLabel("format", strconv.Itoa(FormatVersion))
	if err := s.Start(ctx); err != nil {
		return err
	}
	m, err := j.exportOne(ctx, pr, snap, cfg.Destination)
	if err != nil {
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

// writeParts writes each part's rows into the archive. Pipelined, it sends
// every part's query at once and reads the results in order: one round
// trip for a subject's tables, which is what many small subjects cost.
func (j *Job) writeParts(ctx context.Context, a *archive, snap *snapshot, parts []*part, m *Manifest) error {
	var br pgx.BatchResults
	if j.pipelined {
		b := &pgx.Batch{}
		for _, p := range parts {
			b.Queue(p.rowsText, snap.key, []string{""})
		}
		br = snap.tx.SendBatch(ctx, b)
		defer br.Close()
	}
	for _, p := range parts {
		w, err := a.create(p.entry.File)
		if err != nil {
			return err
		}
		var n int64
		if br != nil {
			rows, qerr := br.Query()
			if qerr != nil {
				return fmt.Errorf("read %s: %w", p.step, qerr)
			}
			n, err = streamRows(rows, p, w)
		} else {
			n, err = snap.stream(ctx, p, w)
		}
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
	if br != nil {
		if err := br.Close(); err != nil {
			return fmt.Errorf("read the rows: %w", err)
		}
	}
	return nil
}

// compressors are reused: a flate.Writer is large to allocate, and an
// archive has an entry per table.
var compressors sync.Pool

// pooledWriter gives its flate.Writer back to compressors when closed.
type pooledWriter struct{ *flate.Writer }

func (w pooledWriter) Close() error {
	err := w.Writer.Close()
	compressors.Put(w.Writer)
	return err
}

func newCompressor(w io.Writer) (io.WriteCloser, error) {
	if fw, ok := compressors.Get().(*flate.Writer); ok {
		fw.Reset(w)
		return pooledWriter{fw}, nil
	}
	fw, err := flate.NewWriter(w, flate.BestSpeed)
	if err != nil {
		return nil, err
	}
	return pooledWriter{fw}, nil
}

// prepared is what every export of a run shares: the plan and the queries
// built from it.
type prepared struct {
	pl        *plan.Plan
	parts     []*part
	valuesSQL string
}

// prepare builds the plan and the export's queries; a policy problem is a
// *policy.Error.
func (j *Job) prepare(ctx context.Context) (*prepared, error) {
	pl, err := plan.Build(ctx, j.cfg.Pool, j.cfg.Policy)
	if err != nil {
		// A policy problem, or the catalog read (which says so).
		return nil, err
	}
	parts, err := buildParts(pl)
	if err != nil {
		return nil, err
	}
	valuesSQL, err := j.out.valuesSQL(pl)
	if err != nil {
		return nil, err
	}
	return &prepared{pl: pl, parts: parts, valuesSQL: valuesSQL}, nil
}

// countAll counts, for a dry run, what the archive would hold.
func (j *Job) countAll(ctx context.Context, r *jobs.Report, pr *prepared, snap *snapshot) error {
	for _, p := range pr.parts {
		n, err := snap.count(ctx, p)
		if err != nil {
			return err
		}
		if n > 0 {
			r.AddRows(p.step.Table.String(), string(p.step.Action), n)
		}
	}
	values, err := snap.subjectValues(ctx, pr.valuesSQL, j.out.columns)
	if err != nil {
		return err
	}
	stored, err := snap.storedObjects(ctx, pr.pl, j.out.byRows)
	if err != nil {
		return err
	}
	return j.out.count(ctx, r, values, stored)
}

// exportOne writes the archive of the subject of snap to dest and returns
// its manifest.
func (j *Job) exportOne(ctx context.Context, pr *prepared, snap *snapshot, dest Destination) (*Manifest, error) {
	m := &Manifest{Format: FormatVersion, ExportedAt: snap.at, PolicySHA256: j.cfg.Policy.Digest, SubjectHash: j.cfg.Hasher.Hash(snap.key[0])}
	values, err := snap.subjectValues(ctx, pr.valuesSQL, j.out.columns)
	if err != nil {
		return nil, err
	}
	stored, err := snap.storedObjects(ctx, pr.pl, j.out.byRows)
	if err != nil {
		return nil, err
	}
	if err := j.write(ctx, snap, pr.parts, m, values, stored, dest); err != nil {
		return nil, err
	}
	return m, nil
}

// write streams every part into the destination's archive and publishes it
// once complete; on any failure nothing is published.
func (j *Job) write(ctx context.Context, snap *snapshot, parts []*part, m *Manifest, values map[string]string, stored []objstore.Resolved, dest Destination) (err error) {
	out, err := dest.open(ctx, m.SubjectHash)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.discard()
		}
	}()
	a := &archive{zw: zip.NewWriter(out), at: m.ExportedAt}
	a.zw.RegisterCompressor(zip.Deflate, newCompressor)
	if err := j.writeParts(ctx, a, snap, parts, m); err != nil {
		return err
	}
	// The rows are read: give the connection back before the slower part,
	// the objects, processors and the upload.
	snap.close(ctx)
	if m.Objects, err = j.out.writeObjects(ctx, a, values, stored); err != nil {
		return err
	}
	if m.Processors, err = j.out.writeProcessors(ctx, a, m.SubjectHash, values); err != nil {
		return err
	}
	if err := a.finish(m); err != nil {
		return err
	}
	return out.publish()
}
