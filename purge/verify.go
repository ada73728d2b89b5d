package purge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
)

// VerificationError says that erased subjects still have data where the
// policy says none may remain.
type VerificationError struct {
	// Failed maps subject hashes to what was found.
	Failed map[string][]string
}

func (e *VerificationError) Error() string {
	return fmt.Sprintf("verification failed for %d subject(s): data remains after the purge", len(e.Failed))
}

// verify checks, after commit, that no row the policy removes or whose
// matching column it replaces still holds the subjects' keys, and that the
// erasers find nothing left outside the database, and records the result
// in their receipts.
func (j *Job) verify(ctx context.Context, subs []Subject, batchID int64) error {
	keys := make([]string, len(subs))
	hashes := make([]string, len(subs))
	for i, s := range subs {
		keys[i], hashes[i] = s.Key, s.Hash
	}
	found := map[string][]string{}
	for _, e := range j.cfg.Erasers {
		for i, err := range e.Verify(ctx, subs) {
			if err != nil && i < len(subs) {
				found[subs[i].Key] = append(found[subs[i].Key], fmt.Sprintf("%s: %v", e.Name(), err))
			}
		}
	}
	// The pipeline is one implicit transaction: the local timeout bounds
	// every search in it.
	b := &pgx.Batch{}
	b.Queue("SELECT set_config('statement_timeout', $1, true)", strconv.FormatInt(j.verifyTimeout.Milliseconds(), 10))
	for i, st := range j.sql.verify {
		b.Queue(st.SQL, append([]any{keys}, j.sql.verifyArgs(i, subs, j.pl.Subject.Key.Name)...)...)
	}
	br := j.cfg.Pool.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return fmt.Errorf("verify: %w", err)
	}
	for i := range j.sql.verify {
		step := j.sql.verifyOf[i]
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return fmt.Errorf("verify: %s: %w", step, err)
		}
		for rows.Next() {
			var k string
			var c int64
			if err := rows.Scan(&k, &c); err != nil {
				rows.Close()
				br.Close()
				return fmt.Errorf("verify: %w", err)
			}
			found[k] = append(found[k], fmt.Sprintf("%s still has %d row(s)", step.Table, c))
		}
		rows.Close()
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	byHash := map[string][]string{}
	for i, k := range keys {
		if f, ok := found[k]; ok {
			byHash[hashes[i]] = f
		}
	}
	hs := make([]string, 0, len(byHash))
	for h := range byHash {
		hs = append(hs, h)
	}
	sort.Strings(hs)
	rec := &pgx.Batch{}
	for _, h := range hs {
		j.cfg.Logger.Error("verification failed", slog.String("subject", h), slog.String("found", strings.Join(byHash[h], "; ")))
		rec.Queue(ledger.SetVerificationSQL, h, batchID, "failed: "+strings.Join(byHash[h], "; "))
	}
	result := "passed"
	if len(hs) > 0 {
		result = fmt.Sprintf("failed: %d subject(s)", len(hs))
	}
	rec.Queue(ledger.SetBatchVerificationSQL, batchID, result)
	rec.Queue(ledger.SetBatchSearchedSQL, batchID, j.sql.searched)
	rec.Queue(ledger.DoneVerifyingSQL, batchID)
	if err := j.cfg.Pool.SendBatch(ctx, rec).Close(); err != nil {
		return fmt.Errorf("verify: record: %w", err)
	}
	if len(hs) == 0 {
		return nil
	}
	return &VerificationError{Failed: byHash}
}

// verifyOwed verifies the batches that committed in runs that ended before
// verifying them (killed, or their connection or server lost), and closes
// the older ones that cannot be verified any more.
func (j *Job) verifyOwed(ctx context.Context, r *jobs.Report) error {
	owed, err := ledger.OwedVerifications(ctx, j.cfg.Pool)
	if err != nil {
		return err
	}
	var errs []error
	for start := 0; start < len(owed); {
		end := start
		var subs []Subject
		for ; end < len(owed) && owed[end].BatchID == owed[start].BatchID; end++ {
			u := owed[end]
			subs = append(subs, Subject{Key: u.Key, Hash: u.Hash, Row: u.Row})
		}
		if err := j.verify(ctx, subs, owed[start].BatchID); err != nil {
			var ve *VerificationError
			if !errors.As(err, &ve) {
				return err
			}
			errs = append(errs, err)
		}
		r.Add(ReceiptsVerifiedLate, int64(len(subs)))
		start = end
	}
	if _, err := ledger.MarkUnverifiable(ctx, j.cfg.Pool); err != nil {
		return err
	}
	return errors.Join(errs...)
}
