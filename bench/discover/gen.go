package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/internal/pgtest"
)

// generated builds a schema of n tables shaped like a large application's
// (a third reference users by foreign key, a fifth by a user-named column
// without one, the rest by a chain to another table; text, JSON and
// timestamp columns everywhere), then times lethe init and lethe check
// with discovery on it.
func generated(ctx context.Context, srv *pgtest.Server, bin string, n, rows int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text, deleted_at timestamptz, created_at timestamptz);\n")
	fmt.Fprintf(&b, "INSERT INTO users SELECT g, 'u' || g || '@example.org', 'n' || g, NULL, now() FROM generate_series(1, %d) g;\n", 10*rows)
	for i := 1; i < n; i++ {
		t := fmt.Sprintf("t%04d", i)
		ref := ""
		switch {
		case i%3 == 0:
			ref = "user_id bigint REFERENCES users, "
		case i%5 == 0:
			ref = "author_id bigint, "
		case i > 1:
			ref = fmt.Sprintf("parent_id bigint REFERENCES t%04d, ", i-1)
		}
		fmt.Fprintf(&b, "CREATE TABLE %s (id bigint PRIMARY KEY, %stitle text, body text, payload jsonb, position integer, created_at timestamptz, updated_at timestamptz);\n", t, ref)
		if strings.HasPrefix(ref, "user_id") || strings.HasPrefix(ref, "author_id") {
			col := strings.Fields(ref)[0]
			fmt.Fprintf(&b, "CREATE INDEX ON %s (%s);\n", t, col)
			fmt.Fprintf(&b, "INSERT INTO %s (id, %s, title) SELECT g, 1 + g %% %d, 't' FROM generate_series(1, %d) g;\n", t, col, 10*rows, rows)
		} else {
			fmt.Fprintf(&b, "INSERT INTO %s (id, title) SELECT g, 't' FROM generate_series(1, %d) g;\n", t, rows)
		}
	}
	b.WriteString("ANALYZE;\n")
	name := "generated"
	if err := createDB(ctx, srv, name); err != nil {
		return err
	}
	p, err := pool(ctx, srv.URLFor(name))
	if err != nil {
		return err
	}
	_, err = p.Exec(ctx, b.String())
	p.Close()
	if err != nil {
		return fmt.Errorf("generated schema: %w", err)
	}
	fmt.Printf("\ngenerated schema: %d tables, %d rows each (users %d)\n", n, rows, 10*rows)
	return initAndCheck(bin, srv.URLFor(name), fmt.Sprintf("generated %d tables", n), "users")
}
