package ledger

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are applied in order, each once, each in its own transaction.
// Never edit one that has shipped: add a new one.
var migrations = []string{
	// 1: runs and receipts.
	`CREATE TABLE lethe.runs (
		id          bigserial PRIMARY KEY,
		job         text NOT NULL,
		dry_run     boolean NOT NULL,
		started_at  timestamptz NOT NULL DEFAULT now(),
		finished_at timestamptz,
		status      text NOT NULL DEFAULT 'running',
		report      jsonb
	);
	CREATE TABLE lethe.receipts (
		id            bigserial PRIMARY KEY,
		subject_hash  text NOT NULL,
		run_id        bigint REFERENCES lethe.runs (id),
		requested_at  timestamptz,
		purged_at     timestamptz NOT NULL DEFAULT now(),
		policy_digest text NOT NULL,
		rows          jsonb NOT NULL,
		objects       jsonb NOT NULL DEFAULT '[]',
		processors    jsonb NOT NULL DEFAULT '[]',
		verification  text NOT NULL DEFAULT 'pending',
		verified_at   timestamptz
	);
	CREATE INDEX receipts_subject_hash_idx ON lethe.receipts (subject_hash);
	COMMENT ON TABLE lethe.receipts IS 'One row per erased subject. No personal data: subject_hash is an HMAC of the key.';`,
	// 2: inactivity notices. They hold the subject's key (the warning must
	// reach the application and the person), so the purge deletes a
	// subject's notices in the batch that erases the subject.
	`CREATE TABLE lethe.notices (
		id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
		subject_key     text NOT NULL,
		last_active_at  timestamptz NOT NULL,
		status          text NOT NULL DEFAULT 'pending'
		                CHECK (status IN ('pending', 'sent', 'requested', 'closed')),
		needs_webhook   boolean NOT NULL,
		needs_email     boolean NOT NULL,
		webhook_sent_at timestamptz,
		email_sent_at   timestamptz,
		created_at      timestamptz NOT NULL DEFAULT now(),
		sent_at         timestamptz,
		attempts        integer NOT NULL DEFAULT 0,
		last_error      text,
		requested_at    timestamptz,
		closed_at       timestamptz,
		UNIQUE (subject_key, last_active_at)
	);
	CREATE UNIQUE INDEX notices_open_idx ON lethe.notices (subject_key) WHERE status IN ('pending', 'sent');
	CREATE INDEX notices_status_idx ON lethe.notices (status, created_at) WHERE status IN ('pending', 'sent');
	COMMENT ON TABLE lethe.notices IS 'One row per inactivity warning: at most one per subject and period of inactivity. Deleted with the subject by the purge.';`,
	// 3: verification per batch. A batch's receipts share its result, so
	// that recording "passed" is one row, not one per subject; a subject
	// that fails verification has its own receipt's verification set.
	`CREATE TABLE lethe.batches (
		id           bigserial PRIMARY KEY,
		run_id       bigint REFERENCES lethe.runs (id),
		committed_at timestamptz NOT NULL DEFAULT now(),
		verification text NOT NULL DEFAULT 'pending',
		verified_at  timestamptz
	);
	ALTER TABLE lethe.receipts ADD COLUMN batch_id bigint REFERENCES lethe.batches (id);
	CREATE INDEX receipts_batch_idx ON lethe.receipts (batch_id);`,
	// 4: the fingerprint of the subject hash key each run used, so that a
	// receipt looked up with another key is told apart from no receipt;
	// and the subjects of batches not verified yet, so that a run killed
	// between commit and verification leaves them for the next purge to
	// verify. They hold keys: verification deletes them, normally seconds
	// after the commit.
	`ALTER TABLE lethe.runs ADD COLUMN key_fingerprint text;
	CREATE TABLE lethe.unverified (
		batch_id     bigint NOT NULL REFERENCES lethe.batches (id),
		subject_hash text NOT NULL,
		subject_key  text NOT NULL,
		row          jsonb NOT NULL DEFAULT '{}'
	);
	CREATE INDEX unverified_batch_idx ON lethe.unverified (batch_id);
	COMMENT ON TABLE lethe.unverified IS 'Subjects erased by a batch whose verification has not run yet. Holds keys: deleted when the batch is verified, by the run that erased them or, after a crash, by the next purge.';`,
	// 5: the erasure journal's outbox. A receipt is journaled once its
	// copy outside the database is confirmed; until then the next run
	// copies it. replayed_at marks a receipt that lethe replay restored
	// after a database restore (purged_at keeps the original erasure).
	`ALTER TABLE lethe.receipts ADD COLUMN journaled_at timestamptz, ADD COLUMN replayed_at timestamptz;
	CREATE INDEX receipts_unjournaled_idx ON lethe.receipts (id) WHERE journaled_at IS NULL;`,
	// 6: the export job's outbox: one row per access request, from its
	// recording to its archive, its notices and its done mark, then the
	// archive's expiry. subject_key is cleared when the request is done.
	`CREATE TABLE lethe.exports (
		id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
		subject_key     text,
		requested_at    timestamptz NOT NULL,
		status          text NOT NULL DEFAULT 'pending'
		                CHECK (status IN ('pending', 'written', 'done', 'gone')),
		needs_webhook   boolean NOT NULL,
		needs_email     boolean NOT NULL,
		created_at      timestamptz NOT NULL DEFAULT now(),
		subject_hash    text,
		run_id          bigint REFERENCES lethe.runs (id),
		archive         text,
		rows            jsonb,
		written_at      timestamptz,
		expires_at      timestamptz,
		webhook_sent_at timestamptz,
		email_sent_at   timestamptz,
		done_at         timestamptz,
		attempts        integer NOT NULL DEFAULT 0,
		last_error      text,
		expired_at      timestamptz,
		UNIQUE (subject_key, requested_at)
	);
	CREATE INDEX exports_open_idx ON lethe.exports (status, created_at) WHERE status IN ('pending', 'written');
	CREATE INDEX exports_expiry_idx ON lethe.exports (expires_at) WHERE expired_at IS NULL;
	COMMENT ON TABLE lethe.exports IS 'One row per access request served by the export job. Holds the subject key until the request is done; archives are named by id.';`,
	// 7: what a batch's verification searched (table.column names, no
	// values), which its receipts show.
	`ALTER TABLE lethe.batches ADD COLUMN searched text[] NOT NULL DEFAULT '{}';`,
	// 8: the purge finds an erased subject's export requests by the keyed
	// hash too (a served request no longer holds the key).
	`CREATE INDEX exports_subject_hash_idx ON lethe.exports (subject_hash) WHERE subject_hash IS NOT NULL;`,
	// 9: where retention's block walk of a relation stopped (budget,
	// SIGTERM), so that the next run goes on from there instead of
	// reading again the blocks it emptied. Keyed by the relation and its
	// file: a rewrite (VACUUM FULL, CLUSTER) starts the walk again.
	`CREATE TABLE lethe.retention_walks (
		relid      oid PRIMARY KEY,
		filenode   oid NOT NULL,
		next_block bigint NOT NULL,
		updated_at timestamptz NOT NULL DEFAULT now()
	);
	COMMENT ON TABLE lethe.retention_walks IS 'Where retention''s block walk of a table stopped; the next run goes on from there and around.';`,
}

// migrateLockKey is the advisory lock that serializes migrations.
const migrateLockKey = 0x6c65746865 // "lethe"

// Migrate creates the lethe schema on first use and applies the migrations
// it lacks. Concurrent callers wait for each other.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		// CREATE SCHEMA IF NOT EXISTS wants CREATE on the database even when
		// the schema exists: a least-privilege role owns schema lethe (see
		// lethe grants) but may not create schemas.
		if _, err := tx.Exec(ctx, `DO $$ BEGIN
				IF to_regnamespace('lethe') IS NULL THEN CREATE SCHEMA lethe; END IF;
			END $$;
			CREATE TABLE IF NOT EXISTS lethe.schema_migrations (
				version    integer PRIMARY KEY,
				applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("migrate: create schema: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, "SELECT COALESCE(max(version), 0) FROM lethe.schema_migrations").Scan(&have); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if have > len(migrations) {
			return fmt.Errorf("migrate: the lethe schema is at version %d, newer than this binary knows (%d): upgrade lethe", have, len(migrations))
		}
		for v := have + 1; v <= len(migrations); v++ {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("migrate: version %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO lethe.schema_migrations (version) VALUES ($1)", v); err != nil {
				return fmt.Errorf("migrate: version %d: %w", v, err)
			}
		}
		return nil
	})
}
