package chaos_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

// purgeTables are the example schema's tables the purge touches, and
// lethe's own: the trap counts their statements.
var purgeTables = []string{"users", "sessions", "notes", `"UserProfiles"`, "billing.invoices", "wishlists",
	"wishlist_items", "activity_log", "consent_records", "lethe.runs", "lethe.batches", "lethe.receipts", "lethe.notices"}

// world is the example schema and policy with data, objects in MinIO for
// some subjects, and what each subject held before any run.
type world struct {
	t        *testing.T
	db       *pgtest.DB
	env      []string
	srv      *miniotest.Server
	bucket   string
	keys     []string
	eligible map[string]bool
	initial  map[string]holding
	hasher   *subject.Hasher
	seen     map[string]bool // report problems already said
	// members: the schema has memberships (user_id) that the purge
	// deletes; retention: activity_log rows older than 90 days may go by
	// the retention job, whoever they belong to.
	members, retention bool
	// inserted counts per subject the application's inserts that
	// committed (each a session and a wishlist).
	inserted map[string]int
}

// holding is what one subject has, counted per place the policy erases.
// Invited counts the accounts that name the subject as their inviter.
// With retention, Activity counts the rows newer than 90 days and
// OldActivity the others.
type holding struct {
	User, Sessions, Notes, Profiles, Invoices, Wishlists, Items, Invited, Activity, Consents, Members, OldActivity, Objects int
}

var none = holding{}

const holdingSQL = `SELECT u.k::text,
	(SELECT count(*) FROM users WHERE id = u.k),
	(SELECT count(*) FROM sessions WHERE user_id = u.k),
	(SELECT count(*) FROM notes WHERE created_by = u.k::text),
	(SELECT count(*) FROM "UserProfiles" WHERE "userId" = u.k),
	(SELECT count(*) FROM billing.invoices WHERE user_id = u.k),
	(SELECT count(*) FROM wishlists WHERE user_id = u.k),
	(SELECT count(*) FROM wishlist_items i JOIN wishlists w ON w.id = i.wishlist_id WHERE w.user_id = u.k),
	(SELECT count(*) FROM users WHERE invited_by = u.k),
	(SELECT count(*) FROM activity_log WHERE user_id = u.k AND ($2 OR created_at > now() - interval '90 days')),
	(SELECT count(*) FROM consent_records WHERE user_id = u.k),
	%s,
	(SELECT count(*) FROM activity_log WHERE user_id = u.k AND NOT $2 AND created_at <= now() - interval '90 days')
	FROM unnest($1::uuid[]) u(k)`

// newWorld builds the example database with users accounts (about one in
// ten eligible) and two object versions for every eligible subject and a
// few others, and the environment to run lethe on it.
func newWorld(t *testing.T, users int) *world {
	t.Helper()
	return newWorldOn(t, nil, users, "", nil)
}

// newWorldOn is newWorld on a given server (nil: the shared one).
// extraSchema is added to the example schema, and edit (if not nil)
// changes the example policy.
func newWorldOn(t *testing.T, pg *pgtest.Server, users int, extraSchema string, edit func(string) string) *world {
	t.Helper()
	w := &world{t: t, srv: miniotest.Start(t), hasher: subject.NewHasher(hashKey), seen: map[string]bool{}}
	if pg == nil {
		w.db = pgtest.NewDB(t, repoFile(t, "examples/schema.sql")+extraSchema)
	} else {
		w.db = pg.NewDB(t, repoFile(t, "examples/schema.sql")+extraSchema)
	}
	data := repoFile(t, "examples/data.sql")
	data = data[strings.Index(data, "INSERT"):] // drop the psql \if preamble
	w.db.Exec(t, strings.ReplaceAll(data, ":users", fmt.Sprint(users)))
	w.bucket = w.srv.CreateBucket(t, miniotest.Versioned())
	pol := strings.Replace(repoFile(t, "examples/policy.yaml"), "file:///var/lib/app/uploads/{key}/",
		"s3://"+w.bucket+"/users/{key}/", 1)
	if edit != nil {
		pol = edit(pol)
	}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(pol), 0o600))
	w.env = []string{
		"LETHE_DATABASE_URL=" + w.db.URL, "LETHE_POLICY=" + path, "LETHE_SUBJECT_HASH_KEY=" + hashKey,
		"LETHE_S3_ENDPOINT=" + w.srv.Endpoint, "LETHE_S3_PATH_STYLE=true", "AWS_REGION=" + miniotest.Region,
		"AWS_ACCESS_KEY_ID=" + w.srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + w.srv.SecretKey,
	}
	rows, err := w.db.Pool.Query(context.Background(), `SELECT id::text, deleted_at < now() - interval '30 days' AND NOT legal_hold
		FROM users ORDER BY id`)
	require.NoError(t, err)
	w.eligible = map[string]bool{}
	type row struct {
		Key string
		Due *bool
	}
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	require.NoError(t, err)
	for i, r := range rs {
		w.keys = append(w.keys, r.Key)
		due := r.Due != nil && *r.Due
		w.eligible[r.Key] = due
		if due || i%50 == 0 {
			w.put("users/"+r.Key+"/avatar.png", "v1")
			w.put("users/"+r.Key+"/avatar.png", "v2")
		}
	}
	w.initial = w.holdings()
	return w
}

func (w *world) put(key, body string) {
	w.t.Helper()
	_, err := w.srv.Client().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(w.bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	require.NoError(w.t, err)
}

// holdings counts what every subject holds now.
func (w *world) holdings() map[string]holding {
	w.t.Helper()
	members := "0"
	if w.members {
		members = "(SELECT count(*) FROM memberships WHERE user_id = u.k)"
	}
	rows, err := w.db.Pool.Query(context.Background(), fmt.Sprintf(holdingSQL, members), w.keys, !w.retention)
	require.NoError(w.t, err)
	out := map[string]holding{}
	for rows.Next() {
		var k string
		var h holding
		require.NoError(w.t, rows.Scan(&k, &h.User, &h.Sessions, &h.Notes, &h.Profiles, &h.Invoices, &h.Wishlists,
			&h.Items, &h.Invited, &h.Activity, &h.Consents, &h.Members, &h.OldActivity))
		out[k] = h
	}
	require.NoError(w.t, rows.Err())
	all := map[string]int{}
	p := s3.NewListObjectVersionsPaginator(w.srv.Client(), &s3.ListObjectVersionsInput{Bucket: aws.String(w.bucket), Prefix: aws.String("users/")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(w.t, err)
		for _, v := range page.Versions {
			all[strings.Split(aws.ToString(v.Key), "/")[1]]++
		}
		for _, v := range page.DeleteMarkers {
			all[strings.Split(aws.ToString(v.Key), "/")[1]]++
		}
	}
	for k, h := range out {
		h.Objects = all[k]
		out[k] = h
	}
	return out
}

// erased reports whether h is what an erased subject leaves.
func erased(h holding) bool { return h == none }

// intactRows reports whether h holds every row it held at first (objects
// aside: they go first, while the subject is locked, and its rows may stay
// for the next run when the batch does not commit).
func intactRows(h, first holding) bool {
	// Invited counts other accounts, which go when those are erased;
	// OldActivity may go by retention.
	h.Objects, first.Objects, h.Invited, first.Invited = 0, 0, 0, 0
	h.OldActivity, first.OldActivity = 0, 0
	return h == first
}

// TestPurgeKilledAtRandomPoints kills the purge with SIGKILL at seeded
// random points (statements of its batches, receipts, verification, run
// records), checks the invariants after each kill, and after a rerun.
func TestPurgeKilledAtRandomPoints(t *testing.T) {
	t.Parallel()
	rng := rngFor(t)
	landed := 0
	for round := 0; landed < 20 && round < 6; round++ {
		w := newWorld(t, 300)
		installTrap(t, w.db, purgeTables...)
		tr := newTrap(t, w.db)
		env := append(w.env, "LETHE_BATCH_SIZE=2", "LETHE_WORKERS=2")
		landed += kills(t, tr, rng, 10, 20, env, func(final bool) {
			w.checkPurge(fmt.Sprintf("round %d, final %v", round, final), final, nil)
		}, "--job", "purge")
	}
	require.GreaterOrEqual(t, landed, 20, "kills that landed while lethe ran")
}

// TestPurgeConnectionTerminated ends lethe's connection with
// pg_terminate_backend at seeded points of its batches: the run fails
// (exit 1) and reports only what committed; a rerun finishes.
func TestPurgeConnectionTerminated(t *testing.T) {
	t.Parallel()
	rng := rngFor(t)
	w := newWorld(t, 300)
	installTrap(t, w.db, purgeTables...)
	tr := newTrap(t, w.db)
	env := append(w.env, "LETHE_BATCH_SIZE=2", "LETHE_WORKERS=1")
	terminated := 0
	for point := 0; point < 6; point++ {
		n := 1 + rng.IntN(25)
		tr.arm(n)
		p := startLethe(t, env, "--job", "purge")
		pid := tr.caught(p)
		if pid == 0 {
			tr.release()
			t.Logf("point %d: lethe ended first → %d", n, p.wait(t))
			break
		}
		var ok bool
		require.NoError(t, w.db.Pool.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", pid).Scan(&ok))
		require.True(t, ok)
		tr.release()
		code := p.wait(t)
		t.Logf("point %d: connection terminated: lethe → %d\n%s", n, code, p.out.String())
		require.Equal(t, 1, code, "a run whose connection is killed fails")
		terminated++
		waitSessionsGone(t, w.db)
		w.checkPurge(fmt.Sprintf("after terminating at point %d", n), false, nil)
	}
	require.Positive(t, terminated)
	code, out := runLethe(t, env, "--job", "purge")
	require.Equal(t, 0, code, out)
	w.checkPurge("after the rerun", true, nil)
}
