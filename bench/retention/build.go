package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const tableSQL = `
CREATE TABLE activity_log (id bigint NOT NULL, user_id int NOT NULL, created_at timestamptz NOT NULL, payload text%s)%s;
`

// buildTemplates makes tmpl_plain (activity_log with its three indexes)
// and tmpl_part (the same rows in daily partitions, created by pg_partman
// when it is installed). Row i is asOf - i*days/rows: evenly spread.
func buildTemplates(ctx context.Context, s *server, admin *pgx.Conn, o options, asOf time.Time) error {
	fill := `INSERT INTO activity_log SELECT g, (g % 10000) + 1, $1::timestamptz - (g::float8 / $2 * $3) * interval '1 day', md5(g::text)
		FROM generate_series(1, $2) g`
	plain := fmt.Sprintf(tableSQL, ", PRIMARY KEY (id)", "") + `
CREATE INDEX activity_log_created ON activity_log (created_at, id);
CREATE INDEX activity_log_user ON activity_log (user_id, created_at);`
	if err := makeDB(ctx, s, admin, "tmpl_plain", plain, fill, o, asOf); err != nil {
		return err
	}
	var partman bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_partman')").Scan(&partman); err != nil {
		return err
	}
	part := fmt.Sprintf(tableSQL, ", PRIMARY KEY (created_at, id)", " PARTITION BY RANGE (created_at)")
	start := fmt.Sprintf("(date_trunc('day', $1::timestamptz) - interval '%d days')", o.days+1)
	if partman {
		part += `CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman;
SELECT partman.create_parent('public.activity_log', 'created_at', 'native', 'daily', p_premake := 4, p_start_partition := ` + start + `::text);`
	} else {
		part += `DO $$ DECLARE d timestamptz; BEGIN
  FOR d IN SELECT generate_series(` + start + `, date_trunc('day', $1::timestamptz) + interval '4 days', interval '1 day') LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF activity_log FOR VALUES FROM (%L) TO (%L)', 'activity_log_p' || to_char(d, 'YYYYMMDD'), d, d + interval '1 day');
  END LOOP; END $$;
CREATE TABLE activity_log_default PARTITION OF activity_log DEFAULT;`
	}
	part += `
CREATE INDEX activity_log_user ON activity_log (user_id, created_at);`
	return makeDB(ctx, s, admin, "tmpl_part", part, fill, o, asOf)
}

func makeDB(ctx context.Context, s *server, admin *pgx.Conn, name, schema, fill string, o options, asOf time.Time) error {
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, s.url(name))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	// The schema's $1 is asOf; it is inlined since a DO block takes no parameters.
	lit := "'" + asOf.UTC().Format("2006-01-02 15:04:05+00") + "'"
	if _, err := conn.Exec(ctx, replaceParam(schema, lit)); err != nil {
		return fmt.Errorf("%s schema: %w", name, err)
	}
	if _, err := conn.Exec(ctx, fill, asOf, o.rows, o.days); err != nil {
		return fmt.Errorf("%s fill: %w", name, err)
	}
	_, err = conn.Exec(ctx, fmt.Sprintf("CREATE SEQUENCE bench_ids START %d", o.rows+1))
	return err
}

func replaceParam(s, lit string) string {
	out := ""
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) && s[i+1] == '1' {
			out += lit
			i++
			continue
		}
		out += string(s[i])
	}
	return out
}
