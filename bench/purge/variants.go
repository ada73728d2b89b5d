package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/pgtest"
)

const eligibleSQL = `requested_at <= now() - interval '30 days' AND NOT hold`

func buildTemplate(ctx context.Context, srv *pgtest.Server, o options) error {
	admin, err := pgx.Connect(ctx, srv.AdminURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE bench_template"); err != nil {
		return err
	}
	c, err := pgx.Connect(ctx, srv.URLFor("bench_template"))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	var sql strings.Builder
	fmt.Fprintf(&sql, `CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, requested_at timestamptz, hold boolean NOT NULL DEFAULT false);
		INSERT INTO users SELECT i, 'user' || i || '@example.com',
			CASE WHEN i %% %d = 0 THEN now() - interval '40 days' END, false
		FROM generate_series(1, %d) i;
		CREATE INDEX ON users (requested_at) WHERE requested_at IS NOT NULL;`, o.users/o.eligible, o.users)
	for _, t := range tables {
		fmt.Fprintf(&sql, `CREATE TABLE %[1]s (id bigserial PRIMARY KEY, user_id bigint REFERENCES users (id), body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
			INSERT INTO %[1]s (user_id, body) SELECT u, md5(u::text || k) FROM generate_series(1, %[2]d) u, generate_series(1, %[3]d) k ORDER BY random();
			CREATE INDEX ON %[1]s (user_id);`, t.name, o.users, t.rows)
	}
	if _, err := c.Exec(ctx, sql.String()); err != nil {
		return err
	}
	_, err = c.Exec(ctx, "VACUUM ANALYZE")
	return err
}

func cloneTemplate(ctx context.Context, srv *pgtest.Server, db string) error {
	admin, err := pgx.Connect(ctx, srv.AdminURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db+" TEMPLATE bench_template"); err != nil {
		return err
	}
	_, err = admin.Exec(ctx, "CHECKPOINT")
	return err
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
func naive(ctx context.Context, u string, sample int) (result, error) {
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
		for i, t := range tables {
			q := "DELETE FROM " + t.name + " WHERE user_id = $1"
			if i == 0 {
				q = "UPDATE " + t.name + " SET user_id = NULL, body = 'gone-' || md5(user_id::text) WHERE user_id = $1"
			}
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
func setBased(ctx context.Context, u string) (result, error) {
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
	for i, t := range tables {
		q := "DELETE FROM " + t.name + " WHERE user_id IN (SELECT id FROM doomed)"
		if i == 0 {
			q = "UPDATE " + t.name + " SET user_id = NULL, body = 'gone-' || md5(user_id::text) WHERE user_id IN (SELECT id FROM doomed)"
		}
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
