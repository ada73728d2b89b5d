package orphans_test

import (
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// TestShardsSplitOrganizations runs the orphans job as shard 0/2: it
// removes only the orphaned organizations whose key hashes to it (the
// server's hashtext), and shard 1/2 removes the rest.
func TestShardsSplitOrganizations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.addUser("member", "")
	b.db.Exec(t, `INSERT INTO organizations (id, name, created_at) SELECT md5('o' || i)::uuid, 'o', now() - interval '2 days' FROM generate_series(1, 200) i`)
	b.db.Exec(t, `INSERT INTO memberships (org_id, user_id) SELECT md5('o' || i)::uuid, $1 FROM generate_series(1, 160) i`, u)
	mine := b.db.Int(t, `SELECT count(*) FROM organizations o WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = o.id)
		AND mod(abs(hashtext(o.id::text)::bigint), 2) = 0`)
	require.Greater(t, mine, 0)
	require.Less(t, mine, 40)

	shard := func(i int) func(*runSpec) {
		return func(rs *runSpec) {
			rs.limits.BatchSize, rs.limits.Shard = 3, jobs.Shard{Index: i, Count: 2}
		}
	}
	r, err := b.run(shard(0))
	require.NoError(t, err)
	require.EqualValues(t, mine, r.Counter("organizations_removed"))
	require.Equal(t, 200-mine, b.db.Int(t, `SELECT count(*) FROM organizations`))

	r, err = b.run(shard(1))
	require.NoError(t, err)
	require.EqualValues(t, 40-mine, r.Counter("organizations_removed"))
	require.Equal(t, 160, b.db.Int(t, `SELECT count(*) FROM organizations`))
}
