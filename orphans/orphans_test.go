package orphans_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/roletest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

// The guide's exercise 3: the last member of an organization is purged;
// the orphans job removes the organization with its data and files, and
// leaves an organization with a member and one created a minute ago.
func TestLastMemberPurgedThenOrganizationGoes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, bob := b.addUser("alice", ""), b.addUser("bob", "")
	carol := b.addUser("carol", "40 days")
	kept := b.addOrg("kept", "1 year", alice, bob)
	shared := b.addOrg("shared", "1 year", alice, carol)
	last := b.addOrg("last", "1 year", carol)
	young := b.addOrg("young", "1 minute")

	p, err := purge.New(purge.Config{Deps: jobs.Deps{Pool: roletest.Pool(t, b.db, b.pol), Policy: b.pol, Hasher: subject.NewHasher("k")}})
	require.NoError(t, err)
	_, err = jobtest.Run(t, roletest.Pool(t, b.db, b.pol), p, jobs.Limits{StatementTimeout: 5 * time.Second})
	require.NoError(t, err)
	require.Equal(t, 0, b.db.Int(t, `SELECT count(*) FROM users WHERE id = $1`, carol))
	require.Equal(t, full(0), b.org(last), "the purge alone leaves the organization behind")

	r, err := b.run()
	require.NoError(t, err)
	require.Equal(t, orgState{}, b.org(last))
	require.Equal(t, full(2), b.org(kept))
	require.Equal(t, full(1), b.org(shared))
	require.Equal(t, full(0), b.org(young))
	require.Equal(t, int64(1), r.Counter("organizations_removed"))
	require.Equal(t, int64(4), r.Counter("objects_removed"))
	require.Equal(t, map[string]int64{
		"note_comments delete": 1, "notes delete": 2, "custom_roles delete": 1, "invites delete": 1, "organizations delete": 1,
	}, r.Rows)
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM lethe.runs WHERE job = 'orphans' AND status = 'succeeded'`),
		"the run is recorded")

	// Idempotent: a second run finds nothing.
	before := b.db.Snapshot(t, "public")
	r, err = b.run()
	require.NoError(t, err)
	require.Equal(t, int64(0), r.Counter("organizations_removed"))
	requireSameRows(t, before, b.db.Snapshot(t, "public"))
}

// A membership whose insert is in flight when the job reaches the
// organization keeps it: the insert's foreign-key check holds a KEY SHARE
// lock on the organization row, the job skips the row, and after the
// insert commits the organization has a member.
func TestMembershipInsertedDuringRunKeepsOrganization(t *testing.T) {
	t.Parallel()
	b := setup(t)
	joiner := b.addUser("joiner", "")
	saved := b.addOrg("saved", "1 year")
	gone := b.addOrg("gone", "1 year")
	b.addOrg("busy", "1 year", joiner) // so that 2 of 3, not all, are orphaned

	ctx := context.Background()
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `INSERT INTO memberships (org_id, user_id) VALUES ($1, $2)`, saved, joiner)
	require.NoError(t, err)

	type result struct {
		r   *jobs.Report
		err error
	}
	var insertPID int
	require.NoError(t, tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&insertPID))
	done := make(chan result, 1)
	go func() { r, err := b.run(); done <- result{r, err} }()
	// The job either finishes, or some session of it waits for the insert:
	// the test sees which, however long the job takes.
	var res result
poll:
	for {
		select {
		case res = <-done:
			break poll
		default:
		}
		if b.db.Int(t, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))`, insertPID) > 0 {
			// Let the insert commit and see what the job does then.
			require.NoError(t, tx.Commit(ctx))
			res = <-done
			t.Fatalf("the job waited for the membership insert instead of skipping the organization (err %v)", res.err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, res.err)
	require.Equal(t, full(1), b.org(saved))
	require.Equal(t, orgState{}, b.org(gone))
	require.Equal(t, int64(1), res.r.Counter("organizations_removed"))
}

// A membership inserted while the job holds an organization's lock, in
// the middle of removing it, waits for the job and then fails on its
// foreign key: no membership ever points at a removed organization, and
// nothing of the organization is half removed.
func TestMembershipInsertedWhileOrganizationLockedWaits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	joiner := b.addUser("joiner", "")
	org := b.addOrg("org", "1 year")
	// The job's delete of notes waits on an advisory lock the test holds.
	b.db.Exec(t, `CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN OLD; END $$;
		CREATE TRIGGER hold BEFORE DELETE ON notes FOR EACH ROW EXECUTE FUNCTION hold();`)
	ctx := context.Background()
	holder, err := b.db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer holder.Release()
	_, err = holder.Exec(ctx, `SELECT pg_advisory_lock(4242)`)
	require.NoError(t, err)

	done := make(chan error, 1)
	// The job waits on the advisory lock for as long as the test takes to
	// set the insert up: no lock_timeout may end that wait first.
	go func() { _, err := b.run(func(rs *runSpec) { rs.limits.LockTimeout = time.Hour }); done <- err }()
	waitFor(t, func() bool {
		return b.db.Int(t, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted`) == 1
	})
	inserted := make(chan error, 1)
	go func() {
		_, err := b.db.Pool.Exec(ctx, `INSERT INTO memberships (org_id, user_id) VALUES ($1, $2)`, org, joiner)
		inserted <- err
	}()
	// The insert waits for the job's row lock on the organization.
	waitFor(t, func() bool {
		return b.db.Int(t, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO memberships%'`) == 1
	})
	_, err = holder.Exec(ctx, `SELECT pg_advisory_unlock(4242)`)
	require.NoError(t, err)
	require.NoError(t, <-done)
	err = <-inserted
	var pe *pgconn.PgError
	require.True(t, errors.As(err, &pe), "want a foreign-key violation, got %v", err)
	require.Equal(t, "23503", pe.Code)
	require.Equal(t, orgState{}, b.org(org))
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPendingInvitesOfGoneInvitersGo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alive := b.addUser("alive", "")
	leaving := b.addUser("leaving", "2 hours")
	org := b.addOrg("org", "1 year", alive)
	gone := jobtest.MD5UUID("gone") // no user row
	b.db.Exec(t, `DELETE FROM invites`)
	for _, inv := range []struct {
		by       any
		accepted bool
	}{{alive, false}, {alive, true}, {leaving, false}, {leaving, true}, {gone, false}, {gone, true}, {nil, false}} {
		acc := any(nil)
		if inv.accepted {
			acc = time.Now()
		}
		b.db.Exec(t, `INSERT INTO invites (org_id, invited_by, email, accepted_at) VALUES ($1, $2, 'x@example.com', $3)`, org, inv.by, acc)
	}
	r, err := b.run()
	require.NoError(t, err)
	require.Equal(t, int64(2), r.Counter("invites_removed"))
	require.Equal(t, int64(2), r.Rows["invites delete"])
	require.Equal(t, 0, b.db.Int(t, `SELECT count(*) FROM invites WHERE accepted_at IS NULL AND invited_by IN ($1, $2)`, leaving, gone))
	require.Equal(t, 5, b.db.Int(t, `SELECT count(*) FROM invites`))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM invites WHERE accepted_at IS NULL AND invited_by = $1`, alive))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM invites WHERE invited_by IS NULL`))
}

// Prefixes under users/ named after a key no user row holds go, every
// version and delete marker, once their newest version is older than
// min_age; live users' prefixes, fresh orphans and anything not named
// after a key stay.
func TestOrphanedObjectPrefixesGo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var live, gone []string
	for i := 0; i < 5; i++ {
		live = append(live, b.addUser(fmt.Sprint("live", i), ""))
		gone = append(gone, jobtest.MD5UUID(fmt.Sprint("gone", i)))
	}
	for _, id := range append(append([]string{}, live...), gone...) {
		b.put("users/"+id+"/a.txt", "1")
		b.put("users/"+id+"/a.txt", "22")
		b.put("users/"+id+"/b.txt", "333")
		b.deleteObject("users/" + id + "/b.txt")
	}
	b.put("users/not-a-key/x", "x")
	b.put("users/readme.txt", "x")
	// The run's clock is min_age (1s) after the newest of these, and the
	// fresh prefix is newer than them all: it is younger than min_age.
	cutoff := b.newestModified(b.bucket, "users/")
	b.waitServerPast(cutoff)
	fresh := jobtest.MD5UUID("fresh")
	b.put("users/"+fresh+"/new.txt", "n")

	r, err := b.run(func(rs *runSpec) { rs.cfg.LookupSize = 3 }, asOf(cutoff.Add(time.Second)))
	require.NoError(t, err)
	for _, id := range live {
		require.Equal(t, 4, b.versions("users/"+id+"/"))
	}
	for _, id := range gone {
		require.Equal(t, 0, b.versions("users/"+id+"/"))
	}
	require.Equal(t, 1, b.versions("users/"+fresh+"/"))
	require.Equal(t, 1, b.versions("users/not-a-key/"))
	require.Equal(t, 1, b.versions("users/readme.txt"))
	require.Equal(t, int64(5), r.Counter("prefixes_removed"))
	require.Equal(t, int64(6), r.Counter("prefixes_orphaned"))
	require.Equal(t, int64(11), r.Counter("prefixes_listed"))
	require.Equal(t, int64(5*4), r.Counter("objects_removed"))
	require.Equal(t, int64(5*6), r.Counter("bytes_removed"))
}

// A dry run changes nothing, in the database or the bucket, and reports
// what the real run then does.
func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.addUser("alice", "")
	b.addOrg("kept", "1 year", alice)
	b.addOrg("orphan", "1 year")
	b.db.Exec(t, `INSERT INTO invites (org_id, invited_by, email) SELECT id, $1, 'x' FROM organizations WHERE name = 'kept'`, jobtest.MD5UUID("gone"))
	b.put("users/"+jobtest.MD5UUID("gone")+"/f", "data")
	snap, objs := b.db.Snapshot(t, "public"), b.listing("")
	dry, err := b.run(dryRun, later())
	require.NoError(t, err)
	requireSameRows(t, snap, b.db.Snapshot(t, "public"))
	require.Equal(t, objs, b.listing(""))
	require.Equal(t, 0, b.db.Int(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'lethe'`))

	real, err := b.run(later())
	require.NoError(t, err)
	require.Equal(t, real.Rows, dry.Rows)
	for _, c := range []jobs.Counter{"organizations_removed", "invites_removed", "prefixes_removed", "objects_removed", "bytes_removed"} {
		require.Equal(t, real.Counter(c), dry.Counter(c), c)
		require.NotZero(t, real.Counter(c), c)
	}
}

// Concurrent runs remove every orphan once and fail nothing.
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.addUser("member", "")
	b.db.Exec(t, `INSERT INTO organizations (id, name, created_at) SELECT md5('o' || i)::uuid, 'o', now() - interval '2 days' FROM generate_series(1, 200) i`)
	b.db.Exec(t, `INSERT INTO memberships (org_id, user_id) SELECT md5('o' || i)::uuid, $1 FROM generate_series(1, 160) i`, u)
	b.db.Exec(t, `INSERT INTO notes (org_id, body) SELECT id, 'n' FROM organizations;
		INSERT INTO note_comments (note_id, body) SELECT id, 'c' FROM notes`)
	var wg sync.WaitGroup
	reports := make([]*jobs.Report, 3)
	errs := make([]error, 3)
	for i := range reports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i], errs[i] = b.run(func(rs *runSpec) { rs.limits.BatchSize = 3 })
		}()
	}
	wg.Wait()
	var removed, notes int64
	for i := range reports {
		require.NoError(t, errs[i])
		removed += reports[i].Counter("organizations_removed")
		notes += reports[i].Rows["notes delete"]
	}
	require.Equal(t, int64(40), removed)
	require.Equal(t, int64(40), notes)
	require.Equal(t, 160, b.db.Int(t, `SELECT count(*) FROM organizations`))
	require.Equal(t, 160, b.db.Int(t, `SELECT count(*) FROM notes`))
}

// An empty memberships table (a wrong table, or a failed migration) makes
// every organization look orphaned: the guard refuses and nothing changes.
func TestGuardRefusesWhenMostWouldGo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := 0; i < 12; i++ {
		b.addOrg(fmt.Sprint("org", i), "1 year")
	}
	snap, objs := b.db.Snapshot(t, "public"), b.listing("")
	_, err := b.run()
	var ge *jobs.GuardError
	require.True(t, errors.As(err, &ge), "want a guard error, got %v", err)
	require.Equal(t, jobs.ExitGuard, jobs.ExitCode(err))
	require.Contains(t, err.Error(), "12 of 12 organizations rows with no member")
	requireSameRows(t, snap, b.db.Snapshot(t, "public"))
	require.Equal(t, objs, b.listing(""))

	// Objects: prefixes of users that are not in the users table (the
	// subject table is wrong) are refused the same way.
	b.db.Exec(t, `INSERT INTO memberships (org_id, user_id) SELECT id, $1 FROM organizations`, b.addUser("m", ""))
	for i := 0; i < 10; i++ {
		b.put("users/"+jobtest.MD5UUID(fmt.Sprint("u", i))+"/f", "x")
	}
	objs = b.listing("")
	_, err = b.run(later())
	require.Equal(t, jobs.ExitGuard, jobs.ExitCode(err), "%v", err)
	require.Contains(t, err.Error(), "10 of 10 prefixes under")
	require.Equal(t, objs, b.listing(""))

	r, err := b.run(allowLarge, later())
	require.NoError(t, err)
	require.Equal(t, int64(10), r.Counter("prefixes_removed"))
}

// A foreign key into organizations from a table the rule does not cover
// is a policy error naming it, before any change; so is a membership
// table without a foreign key to the organizations.
func TestUncoveredForeignKeyIsAPolicyError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addOrg("orphan", "1 year")
	b.db.Exec(t, `CREATE TABLE org_secrets (id bigserial PRIMARY KEY, org_id uuid REFERENCES organizations (id), secret text)`)
	snap := b.db.Snapshot(t, "public")
	_, err := b.run()
	var pe *policy.Error
	require.True(t, errors.As(err, &pe), "want a policy error, got %v", err)
	require.Equal(t, jobs.ExitConfig, jobs.ExitCode(err))
	require.Contains(t, err.Error(), "orphans: organization organizations: org_secrets.org_id references organizations(id)")
	require.Contains(t, err.Error(), "not covered")
	require.NotContains(t, err.Error(), "memberships")
	requireSameRows(t, snap, b.db.Snapshot(t, "public"))

	b.db.Exec(t, `DROP TABLE org_secrets`)
	text := b.polText
	b.setPolicy(strings.Replace(text, "table: custom_roles", "table: no_such_table", 1))
	_, err = b.run()
	require.Equal(t, jobs.ExitConfig, jobs.ExitCode(err), "%v", err)
	require.Contains(t, err.Error(), "table no_such_table does not exist")

	b.setPolicy(text)
	b.db.Exec(t, `ALTER TABLE memberships DROP CONSTRAINT memberships_org_id_fkey`)
	snap = b.db.Snapshot(t, "public")
	_, err = b.run()
	require.Equal(t, jobs.ExitConfig, jobs.ExitCode(err), "%v", err)
	require.Contains(t, err.Error(), "memberships.org_id needs a foreign key to organizations(id)")
	requireSameRows(t, snap, b.db.Snapshot(t, "public"))
}
