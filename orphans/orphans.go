package orphans

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
	"github.com/lethe-project/lethe/objstore/s3store"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// Job is the orphans job.
type Job struct {
	cfg Config

	// Set by Run.
	report   *jobs.Report
	deadline time.Time
	now      time.Time // the database's clock at the start of the run

	// beforeCommit, set only by tests, runs just before an organizations
	// batch commits, with the server process id of its connection.
	beforeCommit func(pid uint32)
}

var _ jobs.Job = (*Job)(nil)

// New returns the orphans job.
func New(cfg Config) (*Job, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Job{cfg: cfg}, nil
}

// Name implements jobs.Job.
func (j *Job) Name() string { return "orphans" }

// errLeft says the budget ran out or a stop was asked for: work is left
// for the next run, which is not a failure.
var errLeft = errors.New("work left for the next run")

// Run implements jobs.Job. It checks the whole section against the catalog
// and applies the blast-radius guard before any change, then removes
// orphaned organizations, invitations and objects, in that order.
//
// The report holds rows per table and action, and the counters
// organizations_eligible, organizations_removed, organizations_saved (found
// with no member, then seen with one under the lock), organizations_failed
// (kept because an object could not be removed), invites_removed,
// prefixes_listed, prefixes_orphaned, prefixes_removed, objects_removed
// (versions and delete markers) and bytes_removed. A dry run fills the same
// counters with what a real run would remove.
func (j *Job) Run(ctx context.Context, r *jobs.Report) (err error) {
	cfg := &j.cfg
	j.report = r
	j.deadline = time.Now().Add(cfg.TimeBudget)
	sec := cfg.Policy.Orphans
	if sec == nil {
		return &jobs.ConfigError{Err: fmt.Errorf("policy %s has no orphans: section", cfg.Policy.Path)}
	}
	cat, err := plan.LoadCatalog(ctx, cfg.Pool)
	if err != nil {
		return fmt.Errorf("orphans: read catalog: %w", err)
	}
	w, err := j.resolve(ctx, cat)
	if err != nil {
		return err
	}
	if w.needStore && cfg.Store == nil {
		if cfg.Store, err = j.buildStore(ctx, w); err != nil {
			return err
		}
	}
	if err := cfg.Pool.QueryRow(ctx, "SELECT now()").Scan(&j.now); err != nil {
		return fmt.Errorf("orphans: read the database clock: %w", err)
	}
	if !cfg.asOf.IsZero() {
		j.now = cfg.asOf
	}
	if err := j.survey(ctx, w); err != nil {
		return err
	}
	if !cfg.DryRun {
		var run *ledger.Run
		if run, err = ledger.BeginRun(ctx, cfg.Pool, j.Name(), ""); err != nil {
			return err
		}
		// err is Run's named result: Finish records how the run ended.
		defer run.Finish(ctx, &err, r)
	}
	var errs []error
	for _, o := range w.orgs {
		errs = append(errs, j.runOrgs(ctx, o))
	}
	for _, iv := range w.invites {
		errs = append(errs, j.runInvites(ctx, iv))
	}
	for _, ob := range w.objects {
		errs = append(errs, j.runObjects(ctx, ob))
	}
	var out []error
	for _, e := range errs {
		if e != nil && !errors.Is(e, errLeft) {
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

// work is the section resolved against the catalog.
type work struct {
	orgs      []*orgTarget
	invites   []*inviteTarget
	objects   []*objectTarget
	needStore bool
	s3        bool
}

// resolve checks every rule of the section against the catalog; every
// problem is named in one *policy.Error.
func (j *Job) resolve(ctx context.Context, cat *plan.Catalog) (*work, error) {
	pol := j.cfg.Policy
	perr := &policy.Error{Path: pol.Path}
	w := &work{}
	note := func(loc string) {
		w.needStore = true
		w.s3 = w.s3 || strings.HasPrefix(loc, "s3://")
	}
	for i := range pol.Orphans.Organizations {
		r := &pol.Orphans.Organizations[i]
		o, err := resolveOrg(ctx, j.cfg.Pool, cat, pol, r, perr)
		if err != nil {
			return nil, err
		}
		if o != nil {
			w.orgs = append(w.orgs, o)
			for _, l := range r.Objects {
				note(l)
			}
		}
	}
	for i := range pol.Orphans.Invites {
		if iv := resolveInvite(cat, pol, &pol.Orphans.Invites[i], perr); iv != nil {
			w.invites = append(w.invites, iv)
		}
	}
	for i := range pol.Orphans.Objects {
		if ob := resolveObjects(cat, pol, &pol.Orphans.Objects[i], perr); ob != nil {
			w.objects = append(w.objects, ob)
			note(ob.rule.Location)
		}
	}
	if err := perr.Err(); err != nil {
		return nil, err
	}
	return w, nil
}

func (j *Job) buildStore(ctx context.Context, w *work) (Store, error) {
	router := &objstore.Router{File: filestore.Store{}}
	if w.s3 {
		s3, err := s3store.New(ctx, s3store.Config{Endpoint: j.cfg.S3Endpoint, ForcePathStyle: j.cfg.S3PathStyle})
		if err != nil {
			return nil, &jobs.ConfigError{Err: fmt.Errorf("s3: %w", err)}
		}
		router.S3 = s3
	}
	return router, nil
}

// survey counts what each rule would remove and applies the blast-radius
// guard, before any change.
func (j *Job) survey(ctx context.Context, w *work) error {
	for _, o := range w.orgs {
		if err := j.surveyOrgs(ctx, o); err != nil {
			return err
		}
	}
	for _, iv := range w.invites {
		if err := j.surveyInvites(ctx, iv); err != nil {
			return err
		}
	}
	for _, ob := range w.objects {
		if j.cfg.AllowLarge && !j.cfg.DryRun {
			continue // the listing only feeds the guard; the removal lists again
		}
		if err := j.surveyObjects(ctx, ob); err != nil {
			return err
		}
	}
	return nil
}

// guardFloor is the least number of things a rule must remove before the
// share guard applies, so that a small database is not refused for
// removing one organization of three.
const guardFloor = 10

// guard refuses a rule that would remove more than MaxSubjects things, or
// more than MaxShare of all once at least guardFloor would go.
func (j *Job) guard(what string, n, total int64, hint string) error {
	return j.cfg.Guard(what+" would be removed", n, total, guardFloor, hint)
}

// mustStop returns errLeft once the budget is spent or a stop was asked
// for, and ctx's error once it is cancelled.
func (j *Job) mustStop(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if j.cfg.Stop.Err() != nil {
		j.report.Set("stopped", 1)
		return errLeft
	}
	if time.Now().After(j.deadline) {
		j.report.Set("budget_exhausted", 1)
		return errLeft
	}
	return nil
}

// begin starts a batch's transaction (read-only in a dry run) with the
// statement and lock timeouts.
func (j *Job) begin(ctx context.Context) (pgx.Tx, error) {
	opts := pgx.TxOptions{}
	if j.cfg.DryRun {
		opts.AccessMode = pgx.ReadOnly
	}
	tx, err := j.cfg.Pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	_, err = tx.Exec(ctx, "SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true)",
		strconv.FormatInt(j.cfg.StatementTimeout.Milliseconds(), 10), strconv.FormatInt(j.cfg.LockTimeout.Milliseconds(), 10))
	if err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, err
	}
	return tx, nil
}

// Check implements jobs.Checker: the orphans section against the catalog.
func (j *Job) Check(ctx context.Context) error {
	cat, err := plan.LoadCatalog(ctx, j.cfg.Pool)
	if err != nil {
		return fmt.Errorf("orphans: read catalog: %w", err)
	}
	_, err = j.resolve(ctx, cat)
	return err
}

var _ jobs.Checker = (*Job)(nil)
