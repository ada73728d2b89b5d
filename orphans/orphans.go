package orphans

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
)

// Counters of the orphans job; the shared ones (objects_removed,
// bytes_removed, batches, ...) are in package jobs.
const (
	// OrganizationsEligible is how many organizations had no member and
	// were old enough when the run began.
	OrganizationsEligible jobs.Counter = "organizations_eligible"
	// OrganizationsRemoved is how many organizations were removed.
	OrganizationsRemoved jobs.Counter = "organizations_removed"
	// OrganizationsSaved is how many were found with no member, then seen
	// with one under the lock.
	OrganizationsSaved jobs.Counter = "organizations_saved"
	// OrganizationsFailed is how many kept their rows because an object
	// could not be removed.
	OrganizationsFailed jobs.Counter = "organizations_failed"
	// OrganizationsLeft is how many orphaned organizations remain.
	OrganizationsLeft jobs.Counter = "organizations_left"
	// InvitesEligible is how many pending invitations had lost their
	// inviter when the run began.
	InvitesEligible jobs.Counter = "invites_eligible"
	// InvitesRemoved is how many invitations were deleted.
	InvitesRemoved jobs.Counter = "invites_removed"
	// PrefixesListed is how many listed prefixes name a subject key.
	PrefixesListed jobs.Counter = "prefixes_listed"
	// PrefixesOrphaned is how many of those name no subject.
	PrefixesOrphaned jobs.Counter = "prefixes_orphaned"
	// PrefixesRemoved is how many orphaned prefixes were removed.
	PrefixesRemoved jobs.Counter = "prefixes_removed"
	// PrefixesFailed is how many could not be removed.
	PrefixesFailed jobs.Counter = "prefixes_failed"
	// ObjectsRulesSkippedBusy is how many objects: entries were skipped
	// because another run held them.
	ObjectsRulesSkippedBusy jobs.Counter = "objects_rules_skipped_busy"
)

// Job is the orphans job.
type Job struct {
	cfg Config

	// Set by Run.
	s   *jobs.Session
	now time.Time // the database's clock at the start of the run

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
// The report holds rows per table and action, the counters above, and
// objects_removed (versions and delete markers) and bytes_removed. A dry
// run fills the same counters with what a real run would remove.
func (j *Job) Run(ctx context.Context, s *jobs.Session) (err error) {
	cfg := &j.cfg
	j.s = s
	sec := cfg.Policy.Orphans
	if sec == nil {
		return &jobs.ConfigError{Err: fmt.Errorf("policy %s has no orphans: section", cfg.Policy.Path)}
	}
	cat, err := catalog.Load(ctx, cfg.Pool)
	if err != nil {
		return fmt.Errorf("orphans: read catalog: %w", err)
	}
	w, err := j.resolve(ctx, cat)
	if err != nil {
		return err
	}
	if w.needStore && cfg.Objects == nil {
		return &jobs.ConfigError{Err: errors.New("orphans: the orphans: section names object locations, but no object store was given")}
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
	if err := s.Start(ctx); err != nil {
		return err
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
}

// resolve checks every rule of the section against the catalog; every
// problem is named in one *policy.Error.
func (j *Job) resolve(ctx context.Context, cat *catalog.Catalog) (*work, error) {
	pol := j.cfg.Policy
	perr := &policy.Error{Path: pol.Path}
	w := &work{}
	for i := range pol.Orphans.Organizations {
		r := &pol.Orphans.Organizations[i]
		o, err := resolveOrg(ctx, j.cfg.Pool, cat, pol, r, perr)
		if err != nil {
			return nil, err
		}
		if o != nil {
			w.orgs = append(w.orgs, o)
			w.needStore = w.needStore || len(r.Objects) > 0
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
			w.needStore = true
		}
	}
	if err := perr.Err(); err != nil {
		return nil, err
	}
	return w, nil
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
		if j.s.Limits.AllowLarge && !j.s.DryRun() {
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
	return j.s.Limits.Guard(what+" would be removed", n, total, guardFloor, hint)
}

// proceed returns nil while the run may start another batch (see
// jobs.Session.Continue), ctx's error once it is cancelled, and errLeft
// once a stop was asked for or the budget is spent.
func (j *Job) proceed(ctx context.Context) error {
	if j.s.Continue(ctx) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errLeft
}

// Check implements jobs.Checker: the orphans section against the catalog.
func (j *Job) Check(ctx context.Context) error {
	cat, err := catalog.Load(ctx, j.cfg.Pool)
	if err != nil {
		return fmt.Errorf("orphans: read catalog: %w", err)
	}
	_, err = j.resolve(ctx, cat)
	return err
}

var _ jobs.Checker = (*Job)(nil)
