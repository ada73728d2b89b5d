package purge_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

// addUser inserts a user of the example schema with rows in every table
// that refers to it. requested is an SQL interval ago, or "" for none.
func (b *bundle) addUser(name, requested string, hold bool, invitedBy string) string {
	id := uuidOf(name)
	var inv any
	if invitedBy != "" {
		inv = uuidOf(invitedBy)
	}
	var req any
	if requested != "" {
		req = requested
	}
	b.db.Exec(b.t, `INSERT INTO users (id, email, name, invited_by, deleted_at, legal_hold)
		VALUES ($1, $2 || '@example.com', $2, $3, now() - $4::interval, $5)`, id, name, inv, req, hold)
	b.db.Exec(b.t, `INSERT INTO sessions (user_id, ip) VALUES ($1, '192.0.2.1'), ($1, '192.0.2.2')`, id)
	b.db.Exec(b.t, `INSERT INTO notes (created_by, body) VALUES ($1::text, 'note by ' || $2)`, id, name)
	b.db.Exec(b.t, `INSERT INTO "UserProfiles" ("userId", bio) VALUES ($1, 'bio')`, id)
	b.db.Exec(b.t, `INSERT INTO billing.invoices (user_id, customer_email, amount_cents) VALUES ($1, $2 || '@example.com', 100)`, id, name)
	b.db.Exec(b.t, `WITH w AS (INSERT INTO wishlists (user_id, title) VALUES ($1, 'w') RETURNING id)
		INSERT INTO wishlist_items (wishlist_id, product) SELECT id, p FROM w, (VALUES ('a'), ('b')) v(p)`, id)
	b.db.Exec(b.t, `INSERT INTO consent_records (user_id, purpose) VALUES ($1, 'news')`, id)
	b.db.Exec(b.t, `INSERT INTO activity_log (user_id, action) VALUES ($1, 'login'), ($1, 'logout')`, id)
	return id
}

// footprint counts the rows that hold a user's key, table by table.
func (b *bundle) footprint(id string) map[string]int {
	q := map[string]string{
		"users":           `SELECT count(*) FROM users WHERE id = $1`,
		"sessions":        `SELECT count(*) FROM sessions WHERE user_id = $1`,
		"notes":           `SELECT count(*) FROM notes WHERE created_by = $1::text`,
		"profiles":        `SELECT count(*) FROM "UserProfiles" WHERE "userId" = $1`,
		"invoices":        `SELECT count(*) FROM billing.invoices WHERE user_id = $1`,
		"invoice_emails":  `SELECT count(*) FROM billing.invoices i JOIN users u ON u.email = i.customer_email WHERE u.id = $1`,
		"wishlists":       `SELECT count(*) FROM wishlists WHERE user_id = $1`,
		"wishlist_items":  `SELECT count(*) FROM wishlist_items i JOIN wishlists w ON w.id = i.wishlist_id WHERE w.user_id = $1`,
		"consent_records": `SELECT count(*) FROM consent_records WHERE user_id = $1`,
		"activity_log":    `SELECT count(*) FROM activity_log WHERE user_id = $1`,
		"invited":         `SELECT count(*) FROM users WHERE invited_by = $1`,
	}
	out := map[string]int{}
	for k, sql := range q {
		out[k] = b.db.Int(b.t, sql, id)
	}
	return out
}

func nonzero(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func TestPurgeErasesEligibleSubjectsOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	gone := b.addUser("gone", "45 days", false, "")
	invitee := b.addUser("invitee", "", false, "gone") // invited by gone: survives, link cleared
	inGrace := b.addUser("ingrace", "30 days - 1 minute", false, "")
	held := b.addUser("held", "400 days", true, "")
	active := b.addUser("active", "", false, "gone")
	before := map[string]map[string]int{}
	for _, id := range []string{invitee, inGrace, held, active} {
		before[id] = b.footprint(id)
	}

	r, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(1), r.Counter("subjects_done"))
	require.Equal(t, int64(0), r.Counter("subjects_left"))
	require.Empty(t, nonzero(b.footprint(gone)), "no row may still hold the erased key")

	for _, id := range []string{inGrace, held} {
		require.Equal(t, before[id], b.footprint(id), "a subject inside the grace period or on hold is untouched")
	}
	// Other people's rows: present, only the link to the erased user cleared.
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM users WHERE id = $1 AND invited_by IS NULL`, invitee))
	require.Equal(t, 2, b.db.Int(t, `SELECT count(*) FROM sessions WHERE user_id = $1`, invitee))
	// notes: anonymized, kept.
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM notes WHERE created_by = 'deleted-user' AND body = 'note by gone'`))
	// the invoice stays under its legal basis, stripped, with a stable pseudonym.
	pseudo := "purged-" + subject.NewHasher(hashKey).Pseudonym(gone)
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM billing.invoices WHERE user_id IS NULL AND customer_email = $1`, pseudo))
	require.Equal(t, 5, b.db.Int(t, `SELECT count(*) FROM billing.invoices`))

	rows := map[string]int64{}
	for _, rc := range r.RowCounts() {
		rows[rc.Table+" "+rc.Action] = rc.Rows
	}
	require.Equal(t, map[string]int64{
		"sessions delete": 2, "notes anonymize": 1, `"UserProfiles" delete`: 1, "billing.invoices keep": 1,
		"wishlist_items delete": 2, "wishlists delete": 1, "users anonymize": 2, "activity_log delete": 2,
		"consent_records cascade": 1, "users delete": 1,
	}, rows)

	// A receipt that holds no key, and says verification passed.
	hash := subject.NewHasher(hashKey).Hash(gone)
	rs, err := ledger.ReceiptsFor(context.Background(), b.db.Pool, hash)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Equal(t, "passed", rs[0].Verification)
	require.NotNil(t, rs[0].RequestedAt)
	require.Equal(t, b.pol.Digest, rs[0].PolicyDigest)
	for _, tbl := range []string{"lethe.receipts", "lethe.runs"} {
		require.Zero(t, b.db.Int(t, fmt.Sprintf(`SELECT count(*) FROM %s x WHERE x::text LIKE '%%' || $1 || '%%'`, tbl), gone),
			"%s must not hold the subject's key", tbl)
	}

	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM lethe.runs WHERE status = 'succeeded' AND report->'counters'->>'subjects_done' = '1'`))

	// Idempotent: a second run over the clean database changes nothing.
	snap := b.appSnapshot()
	r2, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Zero(t, r2.Counter("subjects_done"))
	require.Equal(t, snap, b.appSnapshot())
}

func TestDryRunChangesNothingAndCountsWhatARealRunDoes(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	for i := range 7 {
		b.addUser(fmt.Sprintf("u%d", i), "60 days", false, "")
	}
	b.addUser("stays", "", false, "u1")
	snap := b.appSnapshot()
	// Batches of three whatever the machine's speed (a batch slower than
	// twice the target would shrink the next).
	threes := func(c *options) { c.BatchSize = 3; c.TargetBatchTime = time.Hour }
	dry, code := b.run(dryRun, threes, func(c *options) { c.Hasher = nil })
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, snap, b.appSnapshot(), "a dry run changes no row")
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'lethe'`), "a dry run does not even create lethe's tables")
	require.Equal(t, int64(7), dry.Counter("subjects_done"))
	require.Equal(t, int64(3), dry.Counter("batches"), "dry runs page through batches like real runs")

	real, code := b.run(threes)
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, real.RowCounts(), dry.RowCounts(), "the dry run reports exactly the rows the real run touched")
}

func TestRestoredAccountIsNeverPurged(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	gone := b.addUser("gone", "45 days", false, "")
	back := b.addUser("back", "45 days", false, "")
	b.addUser("active", "", false, "") // so that 2 of 3, not all, are eligible
	before := b.footprint(back)

	// The application restores "back" in a transaction that is still open
	// while the purge runs: the row is locked, and the purge must skip it
	// rather than wait or erase it.
	ctx := context.Background()
	app, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer app.Rollback(ctx)
	_, err = app.Exec(ctx, `UPDATE users SET deleted_at = NULL WHERE id = $1`, back)
	require.NoError(t, err)

	r, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(1), r.Counter("subjects_done"))
	require.NoError(t, app.Commit(ctx))

	_, code = b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Empty(t, nonzero(b.footprint(gone)))
	require.Equal(t, before, b.footprint(back), "the restored account keeps every row")
}

func TestVerificationCatchesALeftover(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	gone := b.addUser("gone", "45 days", false, "")
	// A buggy application trigger writes an activity row for the user as
	// it is deleted: the purge commits, and verification must notice. It
	// runs as its owner: lethe's role may not insert there.
	b.db.Exec(t, `CREATE FUNCTION log_delete() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
		BEGIN INSERT INTO activity_log (user_id, action) VALUES (OLD.id, 'deleted'); RETURN OLD; END $$;
		CREATE TRIGGER users_log_delete AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION log_delete();`)
	_, code := b.run()
	require.Equal(t, jobs.ExitFailed, code, "a leftover makes the run fail so the alert fires")
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM lethe.runs WHERE status = 'failed' AND finished_at IS NOT NULL`),
		"lethe.runs records the failed run")
	rs, err := ledger.ReceiptsFor(context.Background(), b.db.Pool, subject.NewHasher(hashKey).Hash(gone))
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.True(t, strings.HasPrefix(rs[0].Verification, "failed: activity_log still has 1 row"), rs[0].Verification)
}

func TestBlastRadiusGuard(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	for i := range 60 {
		b.addUser(fmt.Sprintf("u%d", i), "60 days", false, "")
	}
	for i := range 40 {
		b.addUser(fmt.Sprintf("keep%d", i), "", false, "")
	}
	snap := b.appSnapshot()
	_, code := b.run()
	require.Equal(t, jobs.ExitGuard, code, "60 of 100 subjects is more than the default 25% share")
	_, code = b.run(func(c *options) { c.MaxShare = 1; c.MaxSubjects = 59 })
	require.Equal(t, jobs.ExitGuard, code, "60 eligible is more than max subjects 59")
	require.Equal(t, snap, b.appSnapshot(), "a refused run changes nothing")
	r, code := b.run(func(c *options) { c.AllowLarge = true })
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(60), r.Counter("subjects_done"))
}

func TestEraseOneSubjectNow(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	asked := b.addUser("asked", "", false, "")
	held := b.addUser("held", "", true, "")
	other := b.addUser("other", "", false, "")
	before := b.footprint(other)

	j, err := purge.NewErase(b.config(dryRun).Config, asked)
	require.NoError(t, err)
	r, code := runJob(t, b.config(dryRun), j)
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(1), r.Counter("subjects_done"))
	require.Equal(t, 2, b.footprint(asked)["sessions"], "without --confirm nothing changes")

	j, err = purge.NewErase(b.config().Config, asked)
	require.NoError(t, err)
	_, code = runJob(t, b.config(), j)
	require.Equal(t, jobs.ExitOK, code)
	require.Empty(t, nonzero(b.footprint(asked)), "erased without a deletion request or grace period")
	require.Equal(t, before, b.footprint(other))

	j, err = purge.NewErase(b.config().Config, "not-a-uuid; DROP TABLE users")
	require.NoError(t, err)
	r, code = runJob(t, b.config(), j)
	require.Equal(t, jobs.ExitConfig, code, "a key that is not a uuid is a usage error")
	require.Zero(t, r.Counter("subjects_done"))

	heldBefore := b.footprint(held)
	j, err = purge.NewErase(b.config().Config, held)
	require.NoError(t, err)
	_, code = runJob(t, b.config(), j)
	require.Equal(t, jobs.ExitConfig, code, "a hold is never skipped")
	require.Equal(t, heldBefore, b.footprint(held))
}
