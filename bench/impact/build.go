package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// dataSQL fills the example schema (examples/schema.sql): $1 users, of
// which the first $2 asked for deletion 45 days ago (past the 30-day
// grace), each with the example's related rows and 6 activities 20 to 120
// days old; then $3 more activities older than the 90-day retention, of
// active users.
const dataSQL = `
INSERT INTO users (id, email, name, created_at, last_active_at, deleted_at)
SELECT md5('user' || i)::uuid, 'user' || i || '@example.com', 'User ' || i, now() - interval '400 days',
       now() - (i % 500) * interval '1 day', CASE WHEN i <= $2 THEN now() - interval '45 days' END
FROM generate_series(1, $1::int) AS i;
INSERT INTO sessions (user_id, ip, created_at) SELECT u.id, '192.0.2.1', now() - s * interval '1 hour' FROM users u, generate_series(1, 3) s;
INSERT INTO notes (created_by, body) SELECT u.id::text, 'a note' FROM users u, generate_series(1, 2);
INSERT INTO "UserProfiles" ("userId", bio, "avatarUrl") SELECT id, 'bio of ' || name, 'https://cdn.example.com/' || id || '.png' FROM users;
INSERT INTO billing.invoices (user_id, customer_email, amount_cents) SELECT id, email, 1999 FROM users WHERE (substr(email, 5, length(email) - 16))::int % 3 = 0;
INSERT INTO wishlists (user_id, title) SELECT id, 'Wishes' FROM users;
INSERT INTO wishlist_items (wishlist_id, product) SELECT w.id, 'item ' || k FROM wishlists w, generate_series(1, 2) k;
INSERT INTO consent_records (user_id, purpose) SELECT id, 'newsletter' FROM users;
INSERT INTO activity_log (user_id, action, created_at) SELECT u.id, 'login', now() - k * interval '20 days' FROM users u, generate_series(1, 6) k;
INSERT INTO activity_log (user_id, action, created_at)
SELECT md5('user' || ($2 + 1 + g % ($1 - $2)))::uuid, 'old', now() - interval '91 days' - (g % 300) * interval '1 day' - (g % 86400) * interval '1 second'
FROM generate_series(1, $3::bigint) g;
CREATE INDEX activity_log_created_idx ON activity_log (created_at, id);`

// partitionSQL turns activity_log into a table partitioned by week on
// created_at with a default partition (as pg_partman makes it), the rows
// kept: the partitioned path of retention.
const partitionSQL = `
ALTER TABLE activity_log RENAME TO activity_log_plain;
ALTER SEQUENCE activity_log_id_seq OWNED BY NONE;
CREATE TABLE activity_log (id bigint NOT NULL DEFAULT nextval('activity_log_id_seq'), user_id uuid, action text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (created_at, id)) PARTITION BY RANGE (created_at);
DO $$ DECLARE d timestamptz; BEGIN
  FOR d IN SELECT generate_series(date_trunc('week', now() - interval '420 days'), now() + interval '14 days', interval '7 days') LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF activity_log FOR VALUES FROM (%L) TO (%L)', 'activity_log_w' || to_char(d, 'YYYYMMDD'), d, d + interval '7 days');
  END LOOP; END $$;
CREATE TABLE activity_log_default PARTITION OF activity_log DEFAULT;
INSERT INTO activity_log SELECT * FROM activity_log_plain;
DROP TABLE activity_log_plain;
ALTER SEQUENCE activity_log_id_seq OWNED BY activity_log.id;
CREATE INDEX ON activity_log (user_id);`

// policyText is examples/policy.yaml without its objects: (a file
// directory the benchmark does not have).
func policyText() (string, error) {
	b, err := os.ReadFile("examples/policy.yaml")
	if err != nil {
		return "", fmt.Errorf("run from the repository's root: %w", err)
	}
	return regexp.MustCompile(`(?m)^objects:\n(  .*\n)+`).ReplaceAllString(string(b), ""), nil
}

// makeTemplate creates database name from the example schema and data,
// partitioned when part, then vacuums and analyzes it.
func makeTemplate(ctx context.Context, s *server, name string, users, eligible, oldRows int, part bool) error {
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, s.URLFor(name))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	schema, err := os.ReadFile("examples/schema.sql")
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, string(schema)); err != nil {
		return fmt.Errorf("%s schema: %w", name, err)
	}
	for _, stmt := range strings.Split(dataSQL, ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		args := []any{}
		for i, p := range []string{"$1", "$2", "$3"} {
			if strings.Contains(stmt, p) {
				args = append(args, []int{users, eligible, oldRows}[i])
			}
		}
		if _, err := conn.Exec(ctx, stmt, args...); err != nil {
			return fmt.Errorf("%s data: %w", name, err)
		}
	}
	if part {
		if _, err := conn.Exec(ctx, partitionSQL); err != nil {
			return fmt.Errorf("%s partitions: %w", name, err)
		}
	}
	_, err = conn.Exec(ctx, "VACUUM ANALYZE")
	return err
}
