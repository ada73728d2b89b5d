package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

var letheBin string

func TestMain(m *testing.M) {
	var err error
	if letheBin, err = letheproc.Build(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := miniotest.Run(m)
	pgtest.Stop()
	letheproc.Cleanup()
	os.Exit(code)
}

// lethe runs the binary with env and PATH.
func lethe(t *testing.T, env []string, args ...string) letheproc.Result {
	t.Helper()
	return letheproc.Run(t, append([]string{"PATH=" + os.Getenv("PATH")}, env...), args...)
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

// exampleDB is a database with the example schema and n users of which
// about one in ten asked for deletion long enough ago.
func exampleDB(t *testing.T, users int) (*pgtest.DB, []string) {
	db := pgtest.NewDB(t, readFile(t, "examples/schema.sql"))
	data := readFile(t, "examples/data.sql")
	data = data[strings.Index(data, "INSERT"):] // drop the psql \if preamble
	db.Exec(t, strings.ReplaceAll(data, ":users", fmt.Sprint(users)))
	// The example's uploads directory, made here: a missing file:// root
	// is an error, as an unmounted volume must be.
	uploads := t.TempDir()
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	src := strings.ReplaceAll(readFile(t, "examples/policy.yaml"), "file:///var/lib/app/uploads/", "file://"+uploads+"/")
	require.NoError(t, os.WriteFile(pol, []byte(src), 0o600))
	env := []string{
		"LETHE_DATABASE_URL=" + db.URL,
		"LETHE_POLICY=" + pol,
		"LETHE_SUBJECT_HASH_KEY=test-key",
	}
	return db, env
}

func TestHelpListsJobsFlagsAndEnvironment(t *testing.T) {
	t.Parallel()
	r := lethe(t, nil, "--help")
	require.Equal(t, 0, r.Code)
	for _, want := range []string{"purge", "retention", "inactivity", "orphans", "--dry-run", "--allow-large",
		"LETHE_DATABASE_URL", "LETHE_SUBJECT_HASH_KEY", "LETHE_TIME_BUDGET", "Exit codes"} {
		require.Contains(t, r.Stdout, want)
	}
	r = lethe(t, []string{"LETHE_DATABASE_URL=postgres://x@127.0.0.1:1/x"}, "--job", "purgeall")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, `unknown job "purgeall"`)
	r = lethe(t, nil, "--job", "purge", "--bogus")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "flag provided but not defined: -bogus")
	r = lethe(t, nil, "version")
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "lethe dev")
}

func TestBadPolicyExits2AndChangesNothing(t *testing.T) {
	t.Parallel()
	db, env := exampleDB(t, 200)
	before := db.Snapshot(t, "public", "billing")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	src := strings.Replace(readFile(t, "examples/policy.yaml"), "  - table: sessions\n    match: user_id\n    action: delete\n", "", 1)
	require.NoError(t, os.WriteFile(bad, []byte(src), 0o600))
	for _, args := range [][]string{{"--job", "purge", "--policy", bad}, {"check", "--policy", bad}} {
		r := lethe(t, env, args...)
		require.Equal(t, 2, r.Code)
		require.Contains(t, r.Stderr, "sessions.user_id references users(id)")
	}
	unknown := filepath.Join(t.TempDir(), "unknown.yaml")
	require.NoError(t, os.WriteFile(unknown, []byte("subject:\n  table: users\n  kee: id\n"), 0o600))
	r := lethe(t, env, "--job", "purge", "--policy", unknown)
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, `line 3: unknown key "kee" in subject`)
	require.Equal(t, before, db.Snapshot(t, "public", "billing"))
	require.Zero(t, db.Int(t, `SELECT count(*) FROM pg_namespace WHERE nspname = 'lethe'`))
}

func TestCheckAndGuardAndReceipt(t *testing.T) {
	t.Parallel()
	db, env := exampleDB(t, 300)
	r := lethe(t, env, "check")
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "wishlist_items")
	before := db.Snapshot(t, "public", "billing")
	r = lethe(t, env, "--job", "purge", "--max-subjects", "5")
	require.Equal(t, 3, r.Code, "blast-radius guard")
	require.Contains(t, r.Stderr, "more than LETHE_MAX_SUBJECTS=5")
	require.Equal(t, before, db.Snapshot(t, "public", "billing"))

	r = lethe(t, env, "--job", "purge", "--summary")
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "subjects done: 29")
	require.Contains(t, r.Stderr, `"msg":"run finished"`)
	id := jobtest.MD5UUID("user20")
	require.NotContains(t, r.Stderr, id, "logs never hold a subject's key")
	r = lethe(t, env, "receipt", "--subject", id)
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "verification: passed")
	require.Contains(t, r.Stdout, "searched: activity_log.user_id, notes.created_by, users.id")
	r = lethe(t, env, "receipt", "--subject", jobtest.MD5UUID("user21"))
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stdout, "no receipt")
}

func TestConcurrentRunsNeverPurgeTwice(t *testing.T) {
	t.Parallel()
	db, env := exampleDB(t, 3000)
	env = append(env, "LETHE_BATCH_SIZE=20", "LETHE_WORKERS=2")
	eligible := db.Int(t, `SELECT count(*) FROM users WHERE deleted_at < now() - interval '30 days' AND NOT legal_hold`)
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = lethe(t, env, "--job", "purge").Code
		}()
	}
	wg.Wait()
	require.Equal(t, []int{0, 0, 0}, codes, "concurrent runs never fail because of each other")
	require.Equal(t, eligible, db.Int(t, `SELECT count(*) FROM lethe.receipts`))
	require.Equal(t, eligible, db.Int(t, `SELECT count(DISTINCT subject_hash) FROM lethe.receipts`), "no subject purged twice")
	require.Zero(t, db.Int(t, `SELECT count(*) FROM users WHERE deleted_at < now() - interval '30 days' AND NOT legal_hold`))
}

// TestKilledRunThenRerun kills a run with SIGKILL in the middle of a batch
// and checks that a rerun reaches the same end state as an uninterrupted
// run on a copy of the same data.
func TestKilledRunThenRerun(t *testing.T) {
	t.Parallel()
	// After two batches (25 subjects of 3 sessions each), the delete of a
	// session waits on an advisory lock the test holds: the kill lands in
	// the middle of the third batch. Advisory locks belong to one
	// database: the clean copy's run never waits.
	gate := `CREATE SEQUENCE sessions_deleted;
		CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF nextval('sessions_deleted') > 150 THEN PERFORM pg_advisory_xact_lock(4244); END IF; RETURN OLD; END $$;
		CREATE TRIGGER gate_sessions BEFORE DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION gate();`
	killed, env := exampleDB(t, 2000)
	killed.Exec(t, gate)
	clean := killed.Clone(t)
	ctx := context.Background()
	holder, err := killed.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer holder.Release()
	_, err = holder.Exec(ctx, `SELECT pg_advisory_lock(4244)`)
	require.NoError(t, err)
	cleanEnv := append([]string{"LETHE_DATABASE_URL=" + clean.URL}, env[1:]...)
	// Batches of exactly 25: with a target no batch reaches, the sizer
	// never shrinks one, however slow the machine (a batch slower than
	// twice the paced target used to shrink the next, and the count
	// before the gate came out 35 or 49 under load).
	fixed := []string{"LETHE_BATCH_SIZE=25", "LETHE_WORKERS=1", "LETHE_TARGET_BATCH_TIME=1h"}
	env = append(env, fixed...)
	cleanEnv = append(cleanEnv, fixed...)

	cmd := exec.Command(letheBin, "--job", "purge")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LETHE_LOCK_TIMEOUT=1h", "LETHE_STATEMENT_TIMEOUT=1h"}, env...)
	require.NoError(t, cmd.Start())
	var waiting int
	deadline := time.Now().Add(time.Minute)
	for killed.Pool.QueryRow(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = 4244 AND NOT granted`).Scan(&waiting) != nil {
		require.True(t, time.Now().Before(deadline), "no batch reached the gate")
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	// The killed run's session waits on; end it (its batch rolls back).
	killed.Exec(t, `SELECT pg_terminate_backend($1)`, waiting)
	deadline = time.Now().Add(time.Minute)
	for killed.Int(t, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, waiting) > 0 {
		require.True(t, time.Now().Before(deadline), "the killed run's session lingers")
		time.Sleep(10 * time.Millisecond)
	}
	_, err = holder.Exec(ctx, `SELECT pg_advisory_unlock(4244)`)
	require.NoError(t, err)
	partial := killed.Int(t, `SELECT count(*) FROM lethe.receipts`)
	require.Equal(t, 50, partial, "the two batches before the kill, and nothing of the one in flight")
	eligible := killed.Int(t, `SELECT count(*) FROM users WHERE deleted_at < now() - interval '30 days' AND NOT legal_hold`)
	require.Greater(t, eligible, 0, "the kill must land before the run finished")
	// Every subject is either fully erased, with a receipt, or untouched.
	h := subject.NewHasher("test-key")
	var erased, untouched int
	for i := 10; i <= 2000; i += 10 {
		id := jobtest.MD5UUID(fmt.Sprint("user", i))
		if i == 10 {
			continue // on legal hold
		}
		users := killed.Int(t, `SELECT count(*) FROM users WHERE id = $1`, id)
		sessions := killed.Int(t, `SELECT count(*) FROM sessions WHERE user_id = $1`, id)
		items := killed.Int(t, `SELECT count(*) FROM wishlists WHERE user_id = $1`, id)
		receipts := killed.Int(t, `SELECT count(*) FROM lethe.receipts WHERE subject_hash = $1`, h.Hash(id))
		switch {
		case users == 0 && sessions == 0 && items == 0 && receipts == 1:
			erased++
		case users == 1 && sessions == 3 && items == 1 && receipts == 0:
			untouched++
		default:
			t.Fatalf("user%d half-erased: users=%d sessions=%d wishlists=%d receipts=%d", i, users, sessions, items, receipts)
		}
	}
	require.Equal(t, partial, erased)
	require.Equal(t, eligible, untouched)

	require.Equal(t, 0, lethe(t, env, "--job", "purge").Code)
	require.Equal(t, 0, lethe(t, cleanEnv, "--job", "purge").Code)
	require.Equal(t, clean.Snapshot(t, "public", "billing"), killed.Snapshot(t, "public", "billing"))
	require.Equal(t, clean.Int(t, `SELECT count(*) FROM lethe.receipts`), killed.Int(t, `SELECT count(DISTINCT subject_hash) FROM lethe.receipts`))
	require.Zero(t, killed.Int(t, `SELECT count(*) FROM lethe.runs WHERE status = 'running'`), "the rerun closed the killed run")
	require.Zero(t, killed.Int(t, `SELECT count(*) FROM lethe.receipts r LEFT JOIN lethe.batches b ON b.id = r.batch_id
		WHERE r.verification = 'pending' AND (b.id IS NULL OR b.verification = 'pending')`), "no receipt is left pending")
}

func TestCheckCoversEverySection(t *testing.T) {
	t.Parallel()
	_, env := exampleDB(t, 50)
	r := lethe(t, env, "check")
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "checked against the database: subject and tables, retention")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	src := strings.Replace(readFile(t, "examples/policy.yaml"), "    column: created_at\n    keep: 90d", "    column: created\n    keep: 90d", 1)
	require.NoError(t, os.WriteFile(bad, []byte(src), 0o600))
	r = lethe(t, env, "check", "--policy", bad)
	require.Equal(t, 2, r.Code, "a retention rule's mistake is caught by lethe check, not only by the job")
	require.Contains(t, r.Stderr, "retention")
	require.Contains(t, r.Stderr, "created")
}
