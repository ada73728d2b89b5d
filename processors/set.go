package processors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Set is every processor of a policy, called in order for each subject.
type Set []*Processor

// NewSet builds every processor with [New] and checks that names are
// distinct. It returns all configuration errors at once.
func NewSet(cfgs []Config, lookupEnv func(string) (string, bool), client *http.Client) (Set, error) {
	var (
		set  Set
		errs []error
		seen = map[string]bool{}
	)
	for _, c := range cfgs {
		if c.Name != "" && seen[c.Name] {
			errs = append(errs, fmt.Errorf("processor %q: name used twice", c.Name))
			continue
		}
		seen[c.Name] = true
		p, err := New(c, lookupEnv, client)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		set = append(set, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return set, nil
}

// EraseAll calls every processor for s and returns one result each. The
// error joins the failures and is nil only when every processor confirmed;
// a failing processor does not stop the others.
func (s Set) EraseAll(ctx context.Context, subj Subject) ([]Result, error) {
	results := make([]Result, 0, len(s))
	var errs []error
	for _, p := range s {
		r := p.Erase(ctx, subj)
		results = append(results, r)
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}
