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
	"github.com/lethe-project/lethe/internal/fixtures"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var orgTables = []string{"organizations", "memberships", "notes", "note_comments", "custom_roles", "invites"}

type orgWorld struct {
	t       *testing.T
	db      *pgtest.DB
	srv     *miniotest.Server
	bucket  string
	env     []string
	orgs    []string
	orphan  map[string]bool
	initial map[string]orgHolding
}

// orgHolding is what one organization has, in and outside the database.
type orgHolding struct {
	Org, Members, Notes, Comments, Roles, Invites, Objects int
}

// newOrgWorld: 120 organizations, one in five with no member; each with
// two notes, a comment, a role and an accepted invitation, and two object
// versions for every orphan and half as many others; and pending invitations, half of them from inviters that no
// longer exist.
func newOrgWorld(t *testing.T) *orgWorld {
	t.Helper()
	w := &orgWorld{t: t, srv: miniotest.Start(t), orphan: map[string]bool{}}
	w.db = pgtest.NewDB(t, fixtures.OrgSchema)
	w.bucket = w.srv.CreateBucket(t, miniotest.Versioned())
	member := jobtest.MD5UUID("member")
	w.db.Exec(t, `INSERT INTO users (id) VALUES ($1)`, member)
	for i := range 120 {
		w.orgs = append(w.orgs, jobtest.MD5UUID(fmt.Sprint("org", i)))
		w.orphan[w.orgs[i]] = i%5 == 0
	}
	w.db.Exec(t, `INSERT INTO organizations (id, name, created_at) SELECT md5('org' || i)::uuid, 'o', now() - interval '2 days'
		FROM generate_series(0, 119) i;
		INSERT INTO memberships (org_id, user_id) SELECT md5('org' || i)::uuid, '`+member+`' FROM generate_series(0, 119) i WHERE i % 5 <> 0;
		INSERT INTO notes (org_id, body) SELECT id, 'n' FROM organizations, generate_series(1, 2);
		INSERT INTO note_comments (note_id, body) SELECT min(id), 'c' FROM notes GROUP BY org_id;
		INSERT INTO custom_roles (org_id, name) SELECT id, 'admin' FROM organizations;
		INSERT INTO invites (org_id, email, accepted_at) SELECT id, 'x@example.com', now() FROM organizations;
		INSERT INTO invites (org_id, invited_by, email)
		SELECT md5('org' || (5 * i + 1))::uuid, CASE WHEN i % 2 = 0 THEN '`+member+`'::uuid ELSE md5('gone' || i)::uuid END, 'y@example.com'
		FROM generate_series(0, 17) i`)
	for i, o := range w.orgs {
		if i%5 != 0 && i%10 != 1 {
			continue
		}
		for _, v := range []string{"v1", "v2"} {
			_, err := w.srv.Client().PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String(w.bucket), Key: aws.String("orgs/" + o + "/logo.png"), Body: strings.NewReader(v)})
			require.NoError(t, err)
		}
	}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(fixtures.OrgPolicy, w.bucket)), 0o600))
	w.env = []string{"LETHE_DATABASE_URL=" + w.db.URL, "LETHE_POLICY=" + path, "LETHE_BATCH_SIZE=1",
		"LETHE_S3_ENDPOINT=" + w.srv.Endpoint, "LETHE_S3_PATH_STYLE=true", "AWS_REGION=" + miniotest.Region,
		"AWS_ACCESS_KEY_ID=" + w.srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + w.srv.SecretKey}
	w.initial = w.holdings()
	return w
}

// holdings counts what every organization has now; invitations counted
// are the accepted ones (the invites rule leaves those alone).
func (w *orgWorld) holdings() map[string]orgHolding {
	w.t.Helper()
	rows, err := w.db.Pool.Query(context.Background(), `SELECT o.k::text,
		(SELECT count(*) FROM organizations WHERE id = o.k),
		(SELECT count(*) FROM memberships WHERE org_id = o.k),
		(SELECT count(*) FROM notes WHERE org_id = o.k),
		(SELECT count(*) FROM note_comments c JOIN notes n ON n.id = c.note_id WHERE n.org_id = o.k),
		(SELECT count(*) FROM custom_roles WHERE org_id = o.k),
		(SELECT count(*) FROM invites WHERE org_id = o.k AND accepted_at IS NOT NULL)
		FROM unnest($1::uuid[]) o(k)`, w.orgs)
	require.NoError(w.t, err)
	out := map[string]orgHolding{}
	for rows.Next() {
		var k string
		var h orgHolding
		require.NoError(w.t, rows.Scan(&k, &h.Org, &h.Members, &h.Notes, &h.Comments, &h.Roles, &h.Invites))
		out[k] = h
	}
	require.NoError(w.t, rows.Err())
	p := s3.NewListObjectVersionsPaginator(w.srv.Client(), &s3.ListObjectVersionsInput{Bucket: aws.String(w.bucket), Prefix: aws.String("orgs/")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(w.t, err)
		for _, v := range page.Versions {
			k := strings.Split(aws.ToString(v.Key), "/")[1]
			h := out[k]
			h.Objects++
			out[k] = h
		}
	}
	return out
}

// check: an organization with members is intact; one without is removed
// whole (its objects may go first, its rows all together) or keeps every
// row; a pending invitation from an existing inviter stays. After a rerun
// every orphan is gone, and so is every invitation from a gone inviter.
func (w *orgWorld) check(stage string, final bool) {
	t := w.t
	t.Helper()
	var problems []string
	for k, h := range w.holdings() {
		first := w.initial[k]
		rowsOnly := func(h orgHolding) orgHolding { h.Objects = 0; return h }
		switch {
		case !w.orphan[k] && h != first:
			problems = append(problems, fmt.Sprintf("organization %s has members, yet went from %+v to %+v", k, first, h))
		case w.orphan[k] && h == orgHolding{}:
		case w.orphan[k] && rowsOnly(h) == rowsOnly(first):
			if final {
				problems = append(problems, fmt.Sprintf("orphan organization %s still there after a rerun: %+v", k, h))
			}
		case w.orphan[k]:
			problems = append(problems, fmt.Sprintf("organization %s half removed: %+v, had %+v", k, h, first))
		}
	}
	if n := w.db.Int(t, `SELECT count(*) FROM invites WHERE accepted_at IS NULL AND invited_by IN (SELECT id FROM users)`); n != 9 {
		problems = append(problems, fmt.Sprintf("%d pending invitations from existing inviters, want 9", n))
	}
	if final {
		if n := w.db.Int(t, `SELECT count(*) FROM invites WHERE accepted_at IS NULL AND invited_by NOT IN (SELECT id FROM users)`); n != 0 {
			problems = append(problems, fmt.Sprintf("%d invitations from gone inviters left after a rerun", n))
		}
		if n := w.db.Int(t, `SELECT count(*) FROM lethe.runs WHERE status = 'running'`); n > 0 {
			problems = append(problems, fmt.Sprintf("%d run(s) still 'running' after a rerun", n))
		}
	}
	assert.Empty(t, problems, "%s: invariants broken (seed %d)", stage, seed)
}

// rerun runs the job to its end and compares the rows it reports with the
// rows that went.
func (w *orgWorld) rerun() {
	t := w.t
	t.Helper()
	count := func() map[string]int64 {
		m := map[string]int64{}
		for _, tbl := range []string{"organizations", "notes", "note_comments", "custom_roles"} {
			m[tbl+" delete"] = int64(w.db.Int(t, "SELECT count(*) FROM "+tbl))
		}
		return m
	}
	before := count()
	code, out := runLethe(t, w.env, "--job", "orphans")
	require.Equal(t, 0, code, out)
	reported := reportedRows(t, out)
	for k, n := range count() {
		assert.Equal(t, before[k]-n, reported[k], "%s: rows the rerun reports (seed %d)", k, seed)
	}
}

// TestOrphansKilledAtRandomPoints kills the orphans job at seeded random
// points of its organization batches (objects removed under the row lock,
// then rows) and invitation batches.
func TestOrphansKilledAtRandomPoints(t *testing.T) {
	t.Parallel()
	rng := rngFor(t)
	landed := 0
	for round := 0; landed < 20 && round < 6; round++ {
		w := newOrgWorld(t)
		installTrap(t, w.db, orgTables...)
		tr := newTrap(t, w.db)
		for range 10 {
			ok := kill(t, tr, rng, 20, w.env, "--job", "orphans")
			w.check(fmt.Sprintf("round %d, after a kill", round), false)
			if !ok {
				break // the run ended: nothing left to interrupt
			}
			landed++
		}
		w.rerun()
		w.check(fmt.Sprintf("round %d, after the rerun", round), true)
	}
	require.GreaterOrEqual(t, landed, 20, "kills that landed while lethe ran")
}
