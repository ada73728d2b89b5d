package jobs

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/subject"
)

// Deps are what main builds once per process and every job may use.
// The run's limits are not among them: the Runner gives them to the
// run's Session.
type Deps struct {
	// Pool is the application's database.
	Pool *pgxpool.Pool
	// Policy is the loaded policy file.
	Policy *policy.Policy
	// Logger is scoped to the job (job=NAME).
	Logger *slog.Logger
	// Hasher names subjects without their keys; nil when
	// LETHE_SUBJECT_HASH_KEY is not set.
	Hasher *subject.Hasher
	// Objects reaches the policy's object locations.
	Objects *objstore.Router
	// Env reads the process environment (secrets the policy names by
	// variable). Jobs never call os.Getenv.
	Env func(string) (string, bool)
}

// Require checks that d has what every job needs, a pool and a policy,
// and gives a nil Logger one that discards; job names the job in the
// error.
func (d *Deps) Require(job string) error {
	if d.Pool == nil || d.Policy == nil {
		return fmt.Errorf("%s: Pool and Policy are required", job)
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Spec registers a job: its name for --job, a line of help, the policy
// sections it needs, and how to build it.
type Spec struct {
	// Name is what --job selects.
	Name string
	// Help is one line for --help.
	Help string
	// Sections are the policy sections the job needs (see
	// policy.Policy.Has); a job run on a policy without one of them is a
	// configuration error.
	Sections []string
	// New builds the job for one run.
	New func(Deps) (Job, error)
}

// Registry is the set of jobs this build has.
type Registry struct{ specs []Spec }

// NewRegistry returns a registry of specs; a name given twice is a
// programming error.
func NewRegistry(specs ...Spec) *Registry {
	seen := map[string]bool{}
	for _, s := range specs {
		if s.Name == "" || s.New == nil || seen[s.Name] {
			panic(fmt.Sprintf("jobs: bad or duplicate registration %q", s.Name))
		}
		seen[s.Name] = true
	}
	return &Registry{specs: specs}
}

// Lookup returns the job registered as name.
func (r *Registry) Lookup(name string) (Spec, bool) {
	for _, s := range r.specs {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Names returns the registered names, in registration order.
func (r *Registry) Names() []string {
	out := make([]string, len(r.specs))
	for i, s := range r.specs {
		out[i] = s.Name
	}
	return out
}

// Specs returns the registrations, in registration order.
func (r *Registry) Specs() []Spec { return append([]Spec(nil), r.specs...) }

// Usage writes one line per job for --help.
func (r *Registry) Usage(w io.Writer) {
	for _, s := range r.specs {
		fmt.Fprintf(w, "  %-12s %s\n", s.Name, s.Help)
	}
}

// Has reports whether the policy has every section the spec needs.
func (s Spec) Has(p *policy.Policy) bool { return p.Require("", s.Sections...) == nil }

// Build returns the job registered as name, built with deps (its logger
// scoped to the job). It is a configuration error when no job has that
// name or the policy lacks one of the job's sections.
func (r *Registry) Build(name string, deps Deps) (Job, error) {
	s, ok := r.Lookup(name)
	if !ok {
		return nil, &ConfigError{Err: fmt.Errorf("unknown job %q: want one of %s", name, strings.Join(r.Names(), ", "))}
	}
	if deps.Policy != nil {
		if err := deps.Policy.Require("the "+name+" job", s.Sections...); err != nil {
			return nil, err
		}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	deps.Logger = deps.Logger.With("job", name)
	return s.New(deps)
}
