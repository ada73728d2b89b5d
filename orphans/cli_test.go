package orphans_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/stretchr/testify/require"
)

// The CLI tests run the real lethe binary, built once per test binary.
// env is the environment of the binary for this bundle's database,
// policy and MinIO.
func (b *bundle) env(dbURL, policyText string) []string {
	p := filepath.Join(b.t.TempDir(), "policy.yaml")
	require.NoError(b.t, os.WriteFile(p, []byte(policyText), 0o600))
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + b.t.TempDir(),
		"LETHE_DATABASE_URL=" + dbURL, "LETHE_POLICY=" + p, "LETHE_LOG_FORMAT=json",
		"LETHE_S3_ENDPOINT=" + b.srv.Endpoint, "LETHE_S3_PATH_STYLE=true",
		"AWS_ACCESS_KEY_ID=" + b.srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + b.srv.SecretKey, "AWS_REGION=us-east-1",
	}
}

func (b *bundle) cli(env []string, args ...string) letheproc.Result {
	b.t.Helper()
	return letheproc.Run(b.t, env, args...)
}

func TestCLIExitCodes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.addUser("alice", "")
	b.addOrg("kept", "1 year", alice)
	b.addOrg("orphan", "1 year")
	b.db.Exec(t, `INSERT INTO organizations (id, name, created_at) SELECT md5('o' || i)::uuid, 'o', now() - interval '2 days' FROM generate_series(1, 10) i`)
	b.db.Exec(t, `INSERT INTO memberships (org_id, user_id) SELECT md5('o' || i)::uuid, $1 FROM generate_series(1, 10) i`, alice)
	env := b.env(b.db.URL, b.polText)

	r := b.cli(env, "--job", "orphans", "--dry-run", "--summary")
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "organizations removed: 1")
	require.Equal(t, 1, b.org(jobtest.MD5UUID("orphan")).Orgs)

	b.db.Exec(t, `CREATE TABLE org_secrets (org_id uuid REFERENCES organizations (id))`)
	r = b.cli(env, "--job", "orphans")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "org_secrets.org_id references organizations(id)")
	b.db.Exec(t, `DROP TABLE org_secrets`)

	b.db.Exec(t, `DELETE FROM memberships`)
	r = b.cli(env, "--job", "orphans")
	require.Equal(t, 3, r.Code)
	require.Contains(t, r.Stderr, "12 of 12 organizations rows with no member")
	require.Equal(t, 12, b.db.Int(t, `SELECT count(*) FROM organizations`))

	r = b.cli(env, "--job", "orphans", "--allow-large")
	require.Equal(t, 0, r.Code)
	require.Equal(t, 0, b.db.Int(t, `SELECT count(*) FROM organizations`))
	require.NotContains(t, r.Stderr, jobtest.MD5UUID("orphan"), "no keys in logs")
}

// SIGKILL in the middle of a run leaves every organization either fully
// removed or untouched; a rerun reaches the state of a run never killed.
func TestCLIKilledRunThenRerun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.addUser("member", "")
	b.db.Exec(t, `INSERT INTO organizations (id, name, created_at) SELECT md5('o' || i)::uuid, 'o', now() - interval '2 days' FROM generate_series(1, 200) i`)
	b.db.Exec(t, `INSERT INTO memberships (org_id, user_id) SELECT md5('o' || i)::uuid, $1 FROM generate_series(41, 200) i`, u)
	b.db.Exec(t, `INSERT INTO notes (org_id, body) SELECT id, 'n' FROM organizations CROSS JOIN generate_series(1, 2);
		INSERT INTO note_comments (note_id, body) SELECT id, 'c' FROM notes;
		INSERT INTO custom_roles (org_id, name) SELECT id, 'r' FROM organizations`)
	for i := 1; i <= 40; i++ {
		b.put("orgs/"+jobtest.MD5UUID(fmt.Sprint("o", i))+"/f", "x")
	}
	// After three batches (four organizations of two notes each), the
	// delete of a note waits on an advisory lock the test holds: the kill
	// lands in the middle of the fourth batch. Advisory locks belong to one
	// database: the clean copy's run never waits.
	b.db.Exec(t, `CREATE SEQUENCE notes_deleted;
		CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF nextval('notes_deleted') > 24 THEN PERFORM pg_advisory_xact_lock(4243); END IF; RETURN OLD; END $$;
		CREATE TRIGGER gate BEFORE DELETE ON notes FOR EACH ROW EXECUTE FUNCTION gate();`)
	clean := b.db.Clone(t)
	ctx := context.Background()
	holder, err := b.db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer holder.Release()
	_, err = holder.Exec(ctx, `SELECT pg_advisory_lock(4243)`)
	require.NoError(t, err)
	cleanBucket := b.srv.CreateBucket(t)
	// The batches stay at four whatever the machine's speed: a batch slower
	// than twice the (paced) target would shrink the next, and sizes such as
	// 4, 1, 2, 4 put the gate in another batch than the fourth.
	cleanEnv := append(b.env(clean.URL, strings.ReplaceAll(b.polText, b.bucket, cleanBucket)), "LETHE_BATCH_SIZE=4", "LETHE_TARGET_BATCH_TIME=1h")
	env := append(b.env(b.db.URL, b.polText), "LETHE_BATCH_SIZE=4", "LETHE_TARGET_BATCH_TIME=1h")

	cmd := exec.Command(letheproc.Binary(t), "--job", "orphans")
	cmd.Env = append(env, "LETHE_LOCK_TIMEOUT=1h", "LETHE_STATEMENT_TIMEOUT=1h")
	require.NoError(t, cmd.Start())
	waitFor(t, func() bool {
		return b.db.Int(t, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4243 AND NOT granted`) == 1
	})
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	left := b.db.Int(t, `SELECT count(*) FROM organizations`)
	require.Greater(t, left, 160, "the kill must land before the run finished")
	require.Equal(t, 188, left, "three batches of four, and nothing of the one in flight")
	for i := 1; i <= 40; i++ {
		st := b.org(jobtest.MD5UUID(fmt.Sprint("o", i)))
		st.Objects = 0 // a killed batch may have removed the files already; its rows stay for the rerun
		switch st {
		case orgState{}, orgState{Orgs: 1, Notes: 2, Comments: 2, Roles: 1}:
		default:
			t.Fatalf("organization o%d half removed: %+v", i, st)
		}
	}

	// The killed run's server session ends once its statement does; until
	// then its row locks make a rerun skip (not touch) its organizations.
	_, err = holder.Exec(ctx, `SELECT pg_advisory_unlock(4243)`)
	require.NoError(t, err)
	waitFor(t, func() bool {
		return b.db.Int(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'lethe'`) == 0
	})
	require.Equal(t, 0, b.cli(env, "--job", "orphans").Code)
	require.Equal(t, 0, b.cli(cleanEnv, "--job", "orphans").Code)
	requireSameRows(t, clean.Snapshot(t, "public"), b.db.Snapshot(t, "public"))
	require.Equal(t, 160, b.db.Int(t, `SELECT count(*) FROM organizations`))
	require.Empty(t, b.listing("orgs/"))
}
