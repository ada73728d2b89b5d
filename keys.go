package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/internal/pgerr"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
)

// canonicalKey returns a subject key that a person typed as the database
// prints it: cast through the type of the subject's key column, so that
// 24C9E15E-..., {...}, a uuid without dashes, or " 0042" name the subject
// the purge selects, and erase and receipt hash the same text. A key the
// type refuses (not a uuid, out of range), or would change into another
// subject's (a text key cut to its varchar(n), a number rounded to its
// scale), is a *jobs.ConfigError that never repeats the key.
func canonicalKey(ctx context.Context, pool *pgxpool.Pool, pol *policy.Policy, raw string) (string, error) {
	cat, err := catalog.Load(ctx, pool)
	if err != nil {
		return "", fmt.Errorf("read catalog: %w", err)
	}
	t, ok := cat.Lookup(pol.Subject.Table)
	if !ok {
		return "", &jobs.ConfigError{Err: fmt.Errorf("policy %s: subject table %s does not exist", pol.Path, pol.Subject.Table)}
	}
	col, ok := t.Columns[pol.Subject.Key.Column()]
	if !ok {
		return "", &jobs.ConfigError{Err: fmt.Errorf("policy %s: subject key %s does not exist in %s", pol.Path, pol.Subject.Key, t)}
	}
	// The type without its modifier (varchar, not varchar(5)) holds the key
	// as written, to compare with what the column's type makes of it.
	var bare string
	err = pool.QueryRow(ctx, "SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = $1 AND attname = $2",
		t.OID, col.Name).Scan(&bare)
	if err != nil {
		return "", fmt.Errorf("read the subject key's type: %w", err)
	}
	var (
		canon string
		same  bool
	)
	q := fmt.Sprintf("SELECT $1::text::%s::text, $1::text::%s = $1::text::%s", col.Type, col.Type, bare)
	err = pool.QueryRow(ctx, q, raw).Scan(&canon, &same)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pgerr.IsDataError(pe):
		return "", &jobs.ConfigError{Err: fmt.Errorf("the subject key is not a valid %s (%s, SQLSTATE %s)", col.Type, pgerr.Describe(pe), pe.Code)}
	case err != nil:
		return "", fmt.Errorf("read the subject key as %s: %w", col.Type, pgerr.Redact(err))
	case !same:
		return "", &jobs.ConfigError{Err: fmt.Errorf("the subject key is not a valid %s: the column would store another value (too long, or rounded)", col.Type)}
	}
	return canon, nil
}

// receiptKey is canonicalKey for lethe receipt, which reads the policy
// only for the subject key's table and column.
func receiptKey(ctx context.Context, cfg *Config, pool *pgxpool.Pool) (string, error) {
	pol, err := policy.Load(cfg.Policy)
	if err != nil {
		return "", &jobs.ConfigError{Err: err}
	}
	return canonicalKey(ctx, pool, pol, cfg.Subject)
}
