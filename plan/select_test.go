package plan_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/pgtest"

	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// TestSelectSQLReadsWhatTheStepTouches: for every step of the example plan
// and several subjects, SelectSQL lists as many rows as the step's own
// count statement, and the catalog keeps the table's column order.
func TestSelectSQLReadsWhatTheStepTouches(t *testing.T) {
	t.Parallel()
	db := pgtestExample(t, 40)
	p, err := policy.Parse([]byte(read(t, "../examples/policy.yaml")), "policy.yaml")
	require.NoError(t, err)
	ctx := context.Background()
	pl, err := plan.Build(ctx, db.Pool, p)
	require.NoError(t, err)
	require.Equal(t, []string{"id", "email", "name", "invited_by", "created_at", "last_active_at", "deleted_at", "legal_hold"},
		pl.Subject.Table.ColumnOrder)
	key := pl.Subject.Key
	for _, i := range []int{6, 7, 14, 30} {
		keys, hs := []string{jobtest.MD5UUID(fmt.Sprintf("user%d", i))}, []string{""}
		for _, s := range append([]*plan.Step{pl.Final}, pl.Steps...) {
			var want int64
			err := db.Pool.QueryRow(ctx, s.SQL(key, true, nil).SQL, keys, hs).Scan(new(string), &want)
			if !errors.Is(err, pgx.ErrNoRows) {
				require.NoError(t, err, s.String())
			}
			rows, err := db.Pool.Query(ctx, s.SelectSQL(key, "t.*"), keys, hs)
			require.NoError(t, err, s.String())
			var got int64
			for rows.Next() {
				got++
			}
			require.NoError(t, rows.Err())
			require.Equal(t, want, got, "user%d %s", i, s)
		}
	}
}

// pgtestExample is the sample schema with examples/data.sql for n users.
func pgtestExample(t *testing.T, users int) *pgtest.DB {
	db := pgtest.NewDB(t, read(t, "../examples/schema.sql"))
	data := read(t, "../examples/data.sql")
	data = data[strings.Index(data, "INSERT"):] // drop the psql \if preamble
	db.Exec(t, strings.ReplaceAll(data, ":users", strconv.Itoa(users)))
	return db
}
