package purge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/jobs"
)

// batchWithRetry runs batch, of the run's adaptive size, under the
// session's retry policy, which counts the retries; it returns how many
// subjects the last attempt selected and the size it asked for. A replay's
// batch takes that many keys of the journal, and gives them back when it
// does not commit.
func (j *Job) batchWithRetry(ctx context.Context, s *jobs.Session, z *jobs.Sizer, cur *cursor) (n, size int, err error) {
	return s.SizedBatch(ctx, z, func(ctx context.Context, size int) (n int, err error) {
		var chunk []string // a replay's keys for this batch, the same on a retry
		if j.replay != nil {
			chunk = j.replay.take(size)
		}
		err = s.Retry(ctx, func(ctx context.Context) error {
			n, err = j.batch(ctx, s, cur, size, chunk)
			if j.hooks.batchEnded != nil {
				j.hooks.batchEnded()
			}
			return err
		})
		if err != nil && j.replay != nil {
			j.replay.giveBack(chunk)
		}
		return n, err
	})
}

type selected struct {
	// n is how many subjects the select returned, dropped ones included.
	n         int
	subjects  []Subject
	requested []time.Time
	lastRA    string
}

// batch erases (or, dry, counts) one batch of subjects in one transaction.
// It returns how many subjects it selected.
func (j *Job) batch(ctx context.Context, s *jobs.Session, cur *cursor, size int, chunk []string) (int, error) {
	started := s.Limits.Now()
	sel, tx, err := j.selectSubjects(ctx, s, cur, size, chunk)
	if tx != nil {
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	}
	if err != nil || len(sel.subjects) == 0 {
		return sel.n, err
	}
	n := sel.n
	if s.DryRun() {
		last := sel.subjects[n-1].Key
		cur.ra, cur.key = &sel.lastRA, &last
	}

	live, outcomes, failErr := j.eraseOutside(ctx, tx, s.DryRun(), sel, cur)
	if len(live) == 0 {
		return n, failErr
	}
	keys := make([]string, len(live))
	pseudos := make([]string, len(live))
	hashes := make([]string, len(live))
	for i, idx := range live {
		sub := sel.subjects[idx]
		keys[i], pseudos[i], hashes[i] = sub.Key, sub.pseudonym, sub.Hash
	}

	// An executing dry run runs the real statements; the transaction is
	// rolled back below, as every dry run's is.
	stmts := j.sql.steps
	if s.DryRun() && !s.Limits.ExecuteDryRun {
		stmts = j.sql.counts
	}
	selected := s.Limits.Now()
	t := jobs.NewTally()
	perSubject, err := j.runSteps(ctx, tx, stmts, keys, pseudos, t)
	if err != nil {
		return n, err
	}
	stepped := s.Limits.Now()
	var batchID int64
	if !s.DryRun() {
		if batchID, err = j.finishBatch(ctx, tx, s.RunID, keys, live, sel, hashes, perSubject, outcomes); err != nil {
			return n, err
		}
		if j.replay != nil {
			if err := j.replay.markReplayed(ctx, tx, batchID, keys, hashes); err != nil {
				return n, err
			}
		}
		if j.hooks.inTx != nil {
			j.hooks.inTx(tx)
		}
		if j.hooks.beforeCommit != nil {
			j.hooks.beforeCommit(tx.Conn().PgConn().PID())
		}
		if err := tx.Commit(ctx); err != nil {
			return n, fmt.Errorf("purge batch: commit: %w", err)
		}
	}
	// Only now, committed (or counted, dry), does the batch count: a batch
	// that rolled back or is retried adds nothing.
	committed := s.Limits.Now()
	t.Add(jobs.SubjectsDone, int64(len(live)))
	s.Commit(t, committed.Sub(started))
	if !s.DryRun() {
		j.journal(ctx, s, batchID)
		subs := make([]Subject, len(live))
		for i, idx := range live {
			subs[i] = sel.subjects[idx]
		}
		if err := j.verify(ctx, subs, batchID); err != nil {
			return n, errors.Join(err, failErr)
		}
	}
	j.cfg.Logger.Debug("batch done", slog.Int("subjects", len(live)),
		slog.Duration("select_and_erasers", selected.Sub(started)), slog.Duration("steps", stepped.Sub(selected)),
		slog.Duration("receipts_and_commit", committed.Sub(stepped)), slog.Duration("verify", s.Limits.Now().Sub(committed)))
	return n, failErr
}

// selectSubjects begins the batch's transaction and selects its subjects in
// the same round trip. The transaction is returned (to roll back) whenever
// it began, even with an error.
func (j *Job) selectSubjects(ctx context.Context, s *jobs.Session, cur *cursor, size int, chunk []string) (selected, pgx.Tx, error) {
	cfg := &j.cfg
	b := &pgx.Batch{}
	if !s.DryRun() {
		b.Queue(genericPlansSQL)
	}
	switch {
	case j.replay != nil && s.DryRun():
		b.Queue(j.sql.selectManyDry, chunk)
	case j.replay != nil:
		b.Queue(j.sql.selectMany, chunk)
	case j.one != nil && s.DryRun():
		b.Queue(j.sql.selectOneDry, *j.one)
	case j.one != nil:
		b.Queue(j.sql.selectOne, *j.one)
	case s.DryRun():
		b.Queue(j.sql.selectDry, j.pl.Subject.Grace, size, cur.ra, cur.key)
	default:
		b.Queue(j.sql.selectBatch, j.pl.Subject.Grace, size, cur.failedKeys())
	}
	if j.hooks.selecting != nil {
		j.hooks.selecting()
	}
	var sel selected
	tx, br, err := s.BeginBatch(ctx, b)
	if err != nil {
		return sel, nil, fmt.Errorf("purge batch: %w", err)
	}
	defer br.Close()
	if !s.DryRun() {
		if _, err := br.Exec(); err != nil {
			return sel, tx, fmt.Errorf("purge batch: %w", err)
		}
	}
	rows, err := br.Query()
	if err != nil {
		return sel, tx, fmt.Errorf("purge batch: select subjects: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return sel, tx, fmt.Errorf("purge batch: select subjects: %w", err)
		}
		sub := Subject{Key: vals[0].(string), Row: map[string]string{}}
		if cfg.Hasher != nil {
			sub.Hash, sub.pseudonym = cfg.Hasher.Hash(sub.Key), cfg.Hasher.Pseudonym(sub.Key)
		}
		for i, c := range j.sql.extraColumns {
			if v, ok := vals[3+i].(string); ok {
				sub.Row[c] = v
			}
		}
		t, _ := vals[1].(time.Time)
		sel.n++
		sel.subjects = append(sel.subjects, sub)
		sel.requested = append(sel.requested, t)
		sel.lastRA, _ = vals[2].(string)
	}
	if err := rows.Err(); err != nil {
		return sel, tx, fmt.Errorf("purge batch: select subjects: %w", err)
	}
	if j.one != nil || j.replay != nil || s.DryRun() {
		return sel, tx, nil // one subject, a replay's own keys, or keyset pagination: never selected twice
	}
	return dropFailed(sel, cur), tx, nil
}

// eraseOutside runs the erasers and returns the indexes of the subjects
// whose outside data is all gone.
func (j *Job) eraseOutside(ctx context.Context, tx pgx.Tx, dry bool, sel selected, cur *cursor) ([]int, []Outcome, error) {
	n := len(sel.subjects)
	merged := make([]Outcome, n)
	if len(j.cfg.Erasers) == 0 {
		live := make([]int, n)
		for i := range live {
			live[i] = i
		}
		return live, merged, nil
	}
	b := &Batch{Subjects: sel.subjects, Tx: tx, Plan: j.pl, DryRun: dry}
	for _, s := range sel.subjects {
		b.Keys = append(b.Keys, s.Key)
		b.Pseudonyms = append(b.Pseudonyms, s.pseudonym)
	}
	for _, e := range j.cfg.Erasers {
		outs := e.Erase(ctx, b)
		for i := range merged {
			if i >= len(outs) {
				merged[i].Err = errors.Join(merged[i].Err, fmt.Errorf("%s: no outcome", e.Name()))
				continue
			}
			o := outs[i]
			if o.Err != nil {
				merged[i].Err = errors.Join(merged[i].Err, fmt.Errorf("%s: %w", e.Name(), o.Err))
			}
			for loc, c := range o.Objects {
				if merged[i].Objects == nil {
					merged[i].Objects = map[string][2]int64{}
				}
				prev := merged[i].Objects[loc]
				merged[i].Objects[loc] = [2]int64{prev[0] + c[0], prev[1] + c[1]}
			}
			merged[i].Confirmed = append(merged[i].Confirmed, o.Confirmed...)
			for loc, n := range o.Archives {
				if merged[i].Archives == nil {
					merged[i].Archives = map[string]int64{}
				}
				merged[i].Archives[loc] += n
			}
			merged[i].Exports = append(merged[i].Exports, o.Exports...)
		}
	}
	var live []int
	var fail *failedSubjectsError
	for i, o := range merged {
		if o.Err == nil {
			live = append(live, i)
			continue
		}
		if fail == nil {
			fail = &failedSubjectsError{first: o.Err}
		}
		fail.n++
		j.cfg.Logger.Error("subject kept for the next run", slog.String("subject", sel.subjects[i].Hash), slog.String("error", o.Err.Error()))
		cur.mu.Lock()
		cur.failed = append(cur.failed, sel.subjects[i].Key)
		cur.mu.Unlock()
	}
	if fail != nil {
		return live, merged, fail
	}
	return live, merged, nil
}
