package orphans_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/lethe-project/lethe/internal/fixtures"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/internal/roletest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
	"github.com/lethe-project/lethe/objstore/s3store"
	"github.com/lethe-project/lethe/orphans"
	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	code := miniotest.Run(m)
	pgtest.Stop()
	letheproc.Cleanup()
	os.Exit(code)
}

// policyText is fixtures.OrgPolicy with the users' objects; %[1]s is the
// bucket.
const policyText = fixtures.OrgPolicy + `  objects:
    - {location: "s3://%[1]s/users/{key}/", min_age: 1s}
`

type bundle struct {
	t       *testing.T
	db      *pgtest.DB
	srv     *miniotest.Server
	bucket  string
	store   *objstore.Router
	polText string
	pol     *policy.Policy
}

func setup(t *testing.T) *bundle {
	t.Helper()
	srv := miniotest.Start(t)
	b := &bundle{t: t, db: pgtest.NewDB(t, fixtures.OrgSchema), srv: srv}
	b.bucket = srv.CreateBucket(t, miniotest.Versioned())
	s3, err := s3store.New(context.Background(), s3store.Config{
		Region: miniotest.Region, Endpoint: srv.Endpoint, ForcePathStyle: true, Credentials: srv.Credentials(),
	})
	require.NoError(t, err)
	b.store = &objstore.Router{S3: s3, File: filestore.Store{}}
	b.setPolicy(fmt.Sprintf(policyText, b.bucket))
	return b
}

func (b *bundle) setPolicy(text string) {
	b.t.Helper()
	b.polText = text
	pol, err := policy.Parse([]byte(text), "test.yaml")
	require.NoError(b.t, err)
	b.pol = pol
}

// runSpec is one run's settings: the job's config and its session's
// limits.
type runSpec struct {
	cfg    orphans.Config
	limits jobs.Limits
}

func (b *bundle) spec(mod ...func(*runSpec)) runSpec {
	rs := runSpec{
		cfg:    orphans.Config{Deps: jobs.Deps{Pool: roletest.Pool(b.t, b.db, b.pol), Policy: b.pol, Objects: b.store, Logger: jobtest.Logger(b.t)}},
		limits: jobs.Limits{StatementTimeout: 5 * time.Second, LockTimeout: time.Second},
	}
	for _, m := range mod {
		m(&rs)
	}
	return rs
}

func (b *bundle) run(mod ...func(*runSpec)) (*jobs.Report, error) {
	b.t.Helper()
	rs := b.spec(mod...)
	j, err := orphans.New(rs.cfg)
	require.NoError(b.t, err)
	return jobtest.Run(b.t, rs.cfg.Pool, j, rs.limits)
}

func dryRun(rs *runSpec) { rs.limits.DryRun = true }

// asOf makes the run measure the min_age of objects from at.
func asOf(at time.Time) func(*runSpec) {
	return func(rs *runSpec) { orphans.SetAsOf(&rs.cfg, at) }
}

// later is a moment every object put so far is older than by far more than
// the policy's min_age of objects (1s).
func later() func(*runSpec)  { return asOf(time.Now().Add(time.Hour)) }
func allowLarge(rs *runSpec) { rs.limits.AllowLarge = true }

// addUser adds a user; requested is an interval ago (or "") for deleted_at.
func (b *bundle) addUser(name, requested string) string {
	b.t.Helper()
	id := jobtest.MD5UUID(name)
	var ra any
	if requested != "" {
		ra = requested
	}
	b.db.Exec(b.t, `INSERT INTO users (id, deleted_at) VALUES ($1, now() - $2::interval)`, id, ra)
	return id
}

// addOrg adds an organization created age ago with the given members, two
// notes (one with a comment), a custom role, an invitation and two object
// versions and a delete marker under orgs/{id}/.
func (b *bundle) addOrg(name, age string, members ...string) string {
	b.t.Helper()
	id := jobtest.MD5UUID(name)
	b.db.Exec(b.t, `INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, now() - $3::interval)`, id, name, age)
	for _, m := range members {
		b.db.Exec(b.t, `INSERT INTO memberships (org_id, user_id) VALUES ($1, $2)`, id, m)
	}
	b.db.Exec(b.t, `INSERT INTO notes (org_id, body) VALUES ($1, 'a'), ($1, 'b')`, id)
	b.db.Exec(b.t, `INSERT INTO note_comments (note_id, body) SELECT min(id), 'c' FROM notes WHERE org_id = $1`, id)
	b.db.Exec(b.t, `INSERT INTO custom_roles (org_id, name) VALUES ($1, 'admin')`, id)
	b.db.Exec(b.t, `INSERT INTO invites (org_id, email, accepted_at) VALUES ($1, 'x@example.com', now())`, id)
	b.put("orgs/"+id+"/logo.png", "v1")
	b.put("orgs/"+id+"/logo.png", "v2")
	b.put("orgs/"+id+"/old.txt", "x")
	b.deleteObject("orgs/" + id + "/old.txt")
	return id
}

// orgState is everything of an organization, in and outside the database.
type orgState struct {
	Orgs, Members, Notes, Comments, Roles, Invites, Objects int
}

func (b *bundle) org(id string) orgState {
	b.t.Helper()
	q := func(sql string) int { return b.db.Int(b.t, sql, id) }
	return orgState{
		Orgs:     q(`SELECT count(*) FROM organizations WHERE id = $1`),
		Members:  q(`SELECT count(*) FROM memberships WHERE org_id = $1`),
		Notes:    q(`SELECT count(*) FROM notes WHERE org_id = $1`),
		Comments: q(`SELECT count(*) FROM note_comments c JOIN notes n ON n.id = c.note_id WHERE n.org_id = $1`),
		Roles:    q(`SELECT count(*) FROM custom_roles WHERE org_id = $1`),
		Invites:  q(`SELECT count(*) FROM invites WHERE org_id = $1`),
		Objects:  b.versions("orgs/" + id + "/"),
	}
}

// full is the state addOrg leaves, members aside.
func full(members int) orgState {
	return orgState{Orgs: 1, Members: members, Notes: 2, Comments: 1, Roles: 1, Invites: 1, Objects: 4}
}

func (b *bundle) put(key, body string) {
	b.t.Helper()
	_, err := b.srv.Client().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String(key), Body: strings.NewReader(body),
	})
	require.NoError(b.t, err)
}

func (b *bundle) deleteObject(key string) {
	b.t.Helper()
	_, err := b.srv.Client().DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
	require.NoError(b.t, err)
}

// newestModified returns the newest modification time, as the server lists
// it, of the versions and delete markers under prefix.
func (b *bundle) newestModified(bucket, prefix string) time.Time {
	b.t.Helper()
	var newest time.Time
	p := s3.NewListObjectVersionsPaginator(b.srv.Client(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(b.t, err)
		for _, v := range page.Versions {
			newest = maxTime(newest, aws.ToTime(v.LastModified))
		}
		for _, m := range page.DeleteMarkers {
			newest = maxTime(newest, aws.ToTime(m.LastModified))
		}
	}
	return newest
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// waitServerPast waits until an object put now is listed as modified after
// at, whatever the precision of the server's listing: it waits for a state
// of the server, not for a length of time.
func (b *bundle) waitServerPast(at time.Time) {
	b.t.Helper()
	probe := b.srv.CreateBucket(b.t)
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := b.srv.Client().PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(probe), Key: aws.String("probe"), Body: strings.NewReader("p"),
		})
		require.NoError(b.t, err)
		if b.newestModified(probe, "").After(at) {
			return
		}
		require.True(b.t, time.Now().Before(deadline), "the server's clock does not move past %s", at)
		time.Sleep(5 * time.Millisecond)
	}
}

// versions counts versions and delete markers under prefix, directly.
func (b *bundle) versions(prefix string) int {
	b.t.Helper()
	return len(b.listing(prefix))
}

// listing returns every version and delete marker under prefix, sorted.
func (b *bundle) listing(prefix string) []string {
	b.t.Helper()
	var out []string
	p := s3.NewListObjectVersionsPaginator(b.srv.Client(), &s3.ListObjectVersionsInput{Bucket: aws.String(b.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(b.t, err)
		for _, v := range page.Versions {
			out = append(out, aws.ToString(v.Key)+"@"+aws.ToString(v.VersionId))
		}
		for _, m := range page.DeleteMarkers {
			out = append(out, aws.ToString(m.Key)+"@"+aws.ToString(m.VersionId)+"(marker)")
		}
	}
	sort.Strings(out)
	return out
}

// requireSameRows compares two snapshots and names only the rows that
// differ, a few per table.
func requireSameRows(t *testing.T, want, got map[string][]string) {
	t.Helper()
	var diffs []string
	for _, table := range sortedKeys(want, got) {
		w, g := map[string]bool{}, map[string]bool{}
		for _, r := range want[table] {
			w[r] = true
		}
		for _, r := range got[table] {
			g[r] = true
		}
		n := 0
		for _, r := range want[table] {
			if !g[r] && n < 5 {
				diffs = append(diffs, table+" missing "+r)
				n++
			}
		}
		for _, r := range got[table] {
			if !w[r] && n < 10 {
				diffs = append(diffs, table+" extra "+r)
				n++
			}
		}
	}
	if len(diffs) > 0 {
		t.Fatalf("snapshots differ:\n%s", strings.Join(diffs, "\n"))
	}
}

func sortedKeys(ms ...map[string][]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}
