package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/subject"
)

// Deps are what main builds once per process and every job may use.
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
	// Objects reaches the policy's object locations; nil when the policy
	// names none.
	Objects *objstore.Router
	// Env reads the process environment (secrets the policy names by
	// variable, a job's own settings). Jobs never call os.Getenv.
	Env func(string) (string, bool)
	// Limits are the run's limits.
	Limits Limits
}

// Spec registers a job: its name for --job, a line of help, the policy
// section it needs, and how to build it.
type Spec struct {
	// Name is what --job selects.
	Name string
	// Help is one line for --help.
	Help string
	// Section names the policy section the job reads; Needs reports
	// whether a policy has it. A job run on a policy without its section
	// is a configuration error.
	Section string
	Needs   func(*policy.Policy) bool
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

// Build returns the job registered as name, built with deps (its logger
// scoped to the job). It is a *ConfigError when no job has that name or
// the policy lacks the job's section.
func (r *Registry) Build(name string, deps Deps) (Job, error) {
	s, ok := r.Lookup(name)
	if !ok {
		names := r.Names()
		sort.Strings(names)
		return nil, &ConfigError{Err: fmt.Errorf("unknown job %q: want one of %v", name, names)}
	}
	if s.Needs != nil && deps.Policy != nil && !s.Needs(deps.Policy) {
		return nil, &ConfigError{Err: fmt.Errorf("job %s needs a %q section in the policy %s, which has none", name, s.Section, deps.Policy.Path)}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	deps.Logger = deps.Logger.With("job", name)
	return s.New(deps)
}

// CheckAll runs the Check of every registered job whose section the
// policy has, in registration order, and returns the names it checked and
// the first error. Nothing is changed.
func (r *Registry) CheckAll(ctx context.Context, deps Deps) ([]string, error) {
	var checked []string
	for _, s := range r.specs {
		if s.Needs != nil && !s.Needs(deps.Policy) {
			continue
		}
		d := deps
		d.Limits.DryRun = true
		job, err := r.Build(s.Name, d)
		if err != nil {
			return checked, fmt.Errorf("%s: %w", s.Name, err)
		}
		if c, ok := job.(Checker); ok {
			if err := c.Check(ctx); err != nil {
				return checked, fmt.Errorf("%s: %w", s.Name, err)
			}
			checked = append(checked, s.Name)
		}
	}
	return checked, nil
}
