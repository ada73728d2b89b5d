package outside

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/processors"
	"github.com/lethe-project/lethe/purge"
)

// Processors is the [purge.Eraser] for the policy's processors: section:
// one HTTP call per subject and processor, with an Idempotency-Key derived
// from the subject's hash and the processor's name, retried within the
// processor's bounds. A subject is done only when every processor answered
// with a done status.
type Processors struct {
	set     processors.Set
	columns []string
	logger  *slog.Logger
}

var _ purge.Eraser = (*Processors)(nil)

// NewProcessors builds the processors, resolving their ${NAME} references
// with lookupEnv. A variable that is not set, or any other configuration
// problem, is a *jobs.ConfigError: the run stops before any change.
func NewProcessors(cfgs []policy.Processor, lookupEnv func(string) (string, bool), client *http.Client, logger *slog.Logger) (*Processors, error) {
	pc := make([]processors.Config, len(cfgs))
	for i, c := range cfgs {
		pc[i] = c.Config
	}
	set, err := processors.NewSet(pc, lookupEnv, client)
	if err != nil {
		return nil, &jobs.ConfigError{Err: fmt.Errorf("processors: %w", err)}
	}
	var ph [][]string
	for _, p := range set {
		ph = append(ph, p.Placeholders())
	}
	return &Processors{set: set, columns: columnsOf(ph...), logger: logger}, nil
}

// Name implements [purge.Eraser].
func (p *Processors) Name() string { return "processors" }

// Columns returns the subject-table columns the URL and body templates use.
func (p *Processors) Columns() []string { return p.columns }

// Erase calls every processor for each subject. A processor whose template
// needs a column that is NULL for the subject is not called: the subject
// has nothing there. In a dry run nothing is called; the processors that
// would be are logged.
func (p *Processors) Erase(ctx context.Context, b *purge.Batch) []purge.Outcome {
	outs := make([]purge.Outcome, len(b.Subjects))
	if b.DryRun {
		p.logDry(b.Subjects)
		return outs
	}
	forEach(len(b.Subjects), func(i int) {
		outs[i] = p.eraseSubject(ctx, b.Subjects[i])
	})
	return outs
}

func (p *Processors) eraseSubject(ctx context.Context, s purge.Subject) purge.Outcome {
	var out purge.Outcome
	values := subjectValues(s)
	var errs []error
	for _, proc := range p.set {
		if col, null := missing(proc.Placeholders(), values); null {
			p.logger.Debug("processor not called: column is null", slog.String("processor", proc.Name()),
				slog.String("column", col), slog.String("subject", s.Hash))
			continue
		}
		r := proc.Erase(ctx, processors.Subject{Hash: s.Hash, Values: values})
		if r.Confirmed {
			out.Confirmed = append(out.Confirmed, proc.Name())
			continue
		}
		errs = append(errs, r.Err)
	}
	out.Err = errors.Join(errs...)
	return out
}

// Verify returns no error: a processor's done status is its confirmation,
// and there is no portable way to ask a third party whether data remains.
func (p *Processors) Verify(_ context.Context, subjects []purge.Subject) []error {
	return make([]error, len(subjects))
}

func (p *Processors) logDry(subjects []purge.Subject) {
	for _, proc := range p.set {
		n := 0
		for _, s := range subjects {
			if _, null := missing(proc.Placeholders(), subjectValues(s)); !null {
				n++
			}
		}
		p.logger.Info("dry run: processor a run would call", slog.String("processor", proc.Name()), slog.Int("subjects", n))
	}
}
