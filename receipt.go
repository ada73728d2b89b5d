package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/internal/pgerr"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/subject"
)

// receipt is lethe receipt: it shows the receipts that prove a subject was
// erased, found by the keyed hash of its key.
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
	// The current key first, then the previous ones: a receipt made
	// before a rotation is found by the key its run used.
	hashers := append([]*subject.Hasher{subject.NewHasher(cfg.SubjectHashKey)}, previousHashers(cfg)...)
	hash := hashers[0].Hash(key)
	var rs []ledger.Receipt
	for _, h := range hashers {
		more, err := ledger.ReceiptsFor(ctx, pool, h.Hash(key))
		if err != nil {
			fmt.Fprintf(stderr, "lethe: %v\n", pgerr.Redact(err))
			return jobs.ExitFailed
		}
		rs = append(rs, more...)
	}
	if len(rs) == 0 {
		return noReceipt(ctx, pool, hashers, hash, stdout, stderr)
	}
	for _, r := range rs {
		writeReceipt(stdout, r)
	}
	return 0
}

// noReceipt answers for a subject without a receipt under this key: not
// erased, unless receipts exist made with another LETHE_SUBJECT_HASH_KEY,
// in which case this key cannot tell (exit 2).
func noReceipt(ctx context.Context, pool *pgxpool.Pool, hashers []*subject.Hasher, hash string, stdout, stderr io.Writer) int {
	known := make([]string, len(hashers))
	for i, h := range hashers {
		known[i] = h.Fingerprint()
	}
	other, err := ledger.OtherKeyReceipts(ctx, pool, known)
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
		if o.Archives > 0 {
			fmt.Fprintf(w, "  %-40s %-10s %d export archive(s): %d object version(s), %d bytes\n", o.Location, "removed", o.Archives, o.Objects, o.Bytes)
			continue
		}
		fmt.Fprintf(w, "  %-40s %-10s %d object version(s), %d bytes\n", o.Location, "removed", o.Objects, o.Bytes)
	}
	if len(r.Processors) > 0 {
		fmt.Fprintf(w, "  processors confirmed: %s\n", strings.Join(r.Processors, ", "))
	}
	fmt.Fprintf(w, "  verification: %s\n", r.Verification)
	if len(r.Searched) > 0 {
		fmt.Fprintf(w, "  searched: %s\n", strings.Join(r.Searched, ", "))
	}
}
