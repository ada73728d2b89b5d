package pgerr_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lethe-project/lethe/internal/pgerr"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

const schema = `
CREATE TABLE people (
    id    bigint PRIMARY KEY,
    email text UNIQUE,
    code  varchar(5),
    born  date,
    name  text NOT NULL,
    age   int CHECK (age >= 0)
);
INSERT INTO people VALUES (1, 'ann@example.com', 'x', '2000-01-01', 'Ann', 30);
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'cannot delete %', OLD.email; END $$;
CREATE TABLE guarded (email text);
INSERT INTO guarded VALUES ('bob@example.com');
CREATE TRIGGER refuse BEFORE DELETE ON guarded FOR EACH ROW EXECUTE FUNCTION refuse();
`

// Each statement makes the server quote a value in its message or its
// DETAIL; none of them may be left in the text lethe shows, and the
// SQLSTATE and the chain stay.
func TestRedactDropsEveryValue(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, schema)
	ctx := context.Background()
	cases := []struct {
		code, sql, value, want string
		args                   []any
	}{
		{"22P02", `SELECT $1::text::uuid`, "secret-key-1", "invalid input syntax for type uuid", []any{"secret-key-1"}},
		{"22003", `SELECT $1::text::bigint`, "99999999999999999999", "numeric value out of range for type bigint", []any{"99999999999999999999"}},
		{"22003", `SELECT $1::text::int`, "31415926535", "numeric value out of range for type integer", []any{"31415926535"}},
		{"22007", `SELECT $1::text::timestamptz`, "born-on-mars", "invalid datetime format", []any{"born-on-mars"}},
		{"22008", `SELECT $1::text::date`, "2001-13-45", "datetime field overflow", []any{"2001-13-45"}},
		{"22001", `INSERT INTO people (id, code, name) VALUES (2, $1, 'x')`, "toolongcode", "value too long for type character varying(5)", []any{"toolongcode"}},
		{"23505", `INSERT INTO people (id, email, name) VALUES (3, $1, 'x')`, "ann@example.com", `unique constraint "people_email_key"`, []any{"ann@example.com"}},
		{"23502", `INSERT INTO people (id, email) VALUES (4, $1)`, "carl@example.com", `null value in column "name"`, []any{"carl@example.com"}},
		{"23514", `INSERT INTO people (id, email, name, age) VALUES (5, $1, 'x', -1)`, "dora@example.com", `check constraint "people_age_check"`, []any{"dora@example.com"}},
		{"P0001", `DELETE FROM guarded`, "bob@example.com", "an error raised by PL/pgSQL function refuse()", nil},
	}
	for _, tc := range cases {
		_, err := db.Pool.Exec(ctx, tc.sql, tc.args...)
		var pe *pgconn.PgError
		require.True(t, errors.As(err, &pe), "%s: %v", tc.sql, err)
		require.Equal(t, tc.code, pe.Code)
		if tc.code != "22001" { // its message names the type only
			require.Contains(t, pe.Message+pe.Detail, tc.value, "the server quotes the value: the case tests something")
		}

		wrapped := errors.Join(errors.New("other"), fmt.Errorf("erase batch: %w", err))
		safe := pgerr.Redact(wrapped)
		require.NotContains(t, safe.Error(), tc.value, tc.sql)
		require.Contains(t, safe.Error(), tc.want, tc.sql)
		require.Contains(t, safe.Error(), "erase batch: ERROR: ")
		require.Contains(t, safe.Error(), "(SQLSTATE "+tc.code+")")
		require.True(t, errors.As(safe, &pe), "the chain is kept")
	}
	require.NoError(t, pgerr.Redact(nil))
	plain := errors.New("no server error")
	require.Same(t, plain, pgerr.Redact(plain))
}
