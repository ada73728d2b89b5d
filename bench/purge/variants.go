package main

import (
	"context"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/ledger"
)

const eligibleSQL = `requested_at <= now() - interval '30 days' AND NOT hold`

// buildTemplate creates the database name with the shape's schema for
// users users, eligible of them past their grace period, and lethe's own
// schema (as every run after lethe's first finds it), vacuumed and
// analyzed.
func buildTemplate(ctx context.Context, srv *pgtest.Server, name string, sh shape, users, eligible int) error {
	admin, err := pgx.Connect(ctx, srv.AdminURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return err
	}
	c, err := pgx.Connect(ctx, srv.URLFor(name))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sh.schemaSQL(users, users/eligible)); err != nil {
		return err
	}
	if err := migrateLethe(ctx, srv.URLFor(name)); err != nil {
		return err
	}
	_, err = c.Exec(ctx, "VACUUM ANALYZE")
	return err
}

// migrateLethe creates lethe's schema in the database at u: a one-time
// cost of lethe's first run on a database, which the set-based transaction
// has no equivalent of.
func migrateLethe(ctx context.Context, u string) error {
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		return err
	}
	defer pool.Close()
	return ledger.Migrate(ctx, pool)
}

func cloneTemplate(ctx context.Context, srv *pgtest.Server, tmpl, db string) error {
	admin, err := pgx.Connect(ctx, srv.AdminURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db+" TEMPLATE "+tmpl); err != nil {
		return err
	}
	if _, err = admin.Exec(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	// The copy, the checkpoint and the previous run left dirty pages in
	// the kernel: write them now, not during the run.
	syscall.Sync()
	return nil
}

func dropDB(ctx context.Context, srv *pgtest.Server, db string) error {
	admin, err := pgx.Connect(ctx, srv.AdminURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)")
	return err
}

// naive erases each subject in its own transaction with one statement per
// table, the way the reference guide's code does.
func naive(ctx context.Context, u string, sh shape, sample int) (result, error) {
	c, err := connect(ctx, u)
	if err != nil {
		return result{}, err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "SELECT id FROM users WHERE "+eligibleSQL+" ORDER BY requested_at, id LIMIT $1", sample)
	if err != nil {
		return result{}, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	var longest time.Duration
	for _, id := range ids {
		t0 := time.Now()
		tx, err := c.Begin(ctx)
		if err != nil {
			return result{}, err
		}
		if _, err := tx.Exec(ctx, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", id); err != nil {
			return result{}, err
		}
		for _, q := range sh.naiveSQL() {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return result{}, err
			}
		}
		if _, err := tx.Exec(ctx, "DELETE FROM users WHERE id = $1", id); err != nil {
			return result{}, err
		}
		if err := tx.Commit(ctx); err != nil {
			return result{}, err
		}
		longest = max(longest, time.Since(t0))
	}
	return result{subjects: len(ids), elapsed: time.Since(start), longestTx: longest}, nil
}

// setBased erases every eligible subject in one transaction with one
// statement per table: the limit for a single connection.
func setBased(ctx context.Context, u string, sh shape) (result, error) {
	c, err := connect(ctx, u)
	if err != nil {
		return result{}, err
	}
	defer c.Close(ctx)
	start := time.Now()
	tx, err := c.Begin(ctx)
	if err != nil {
		return result{}, err
	}
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE doomed ON COMMIT DROP AS SELECT id FROM users WHERE "+eligibleSQL+" FOR UPDATE"); err != nil {
		return result{}, err
	}
	for _, q := range sh.setBasedSQL() {
		if _, err := tx.Exec(ctx, q); err != nil {
			return result{}, err
		}
	}
	tag, err := tx.Exec(ctx, "DELETE FROM users WHERE id IN (SELECT id FROM doomed)")
	if err != nil {
		return result{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return result{}, err
	}
	el := time.Since(start)
	return result{subjects: int(tag.RowsAffected()), elapsed: el, longestTx: el}, nil
}
