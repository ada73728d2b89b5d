package outside

import (
	"log/slog"
	"net/http"
	"sort"
	"sync"

	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
)

// parallel is how many subjects of a batch an eraser works on at once.
const parallel = 4

// New returns the erasers for pol's objects: and processors: sections, in
// that order, leaving out a section that is empty. store serves every
// location (an objstore.Router); lookupEnv resolves ${NAME} references in
// processor URLs, headers and bodies; client makes processor calls (nil:
// http.DefaultClient). A configuration problem, such as a variable that is
// not set, is a *jobs.ConfigError returned before anything is changed.
func New(pol *policy.Policy, store objstore.Store, lookupEnv func(string) (string, bool),
	client *http.Client, logger *slog.Logger) ([]purge.Eraser, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var out []purge.Eraser
	if len(pol.Objects) > 0 {
		o, err := NewObjects(pol.Objects, store, logger)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	if len(pol.Processors) > 0 {
		p, err := NewProcessors(pol.Processors, lookupEnv, client, logger)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// subjectValues returns the values for a subject's templates: its row's
// columns and "key".
func subjectValues(s purge.Subject) map[string]string {
	v := make(map[string]string, len(s.Row)+1)
	for k, x := range s.Row {
		v[k] = x
	}
	v["key"] = s.Key
	return v
}

// missing returns the first placeholder without a value: a column that is
// NULL for this subject, so there is nothing of theirs at that location or
// processor.
func missing(placeholders []string, values map[string]string) (string, bool) {
	for _, p := range placeholders {
		if _, ok := values[p]; !ok {
			return p, true
		}
	}
	return "", false
}

// columnsOf returns the sorted, distinct placeholders other than "key".
func columnsOf(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, p := range l {
			if p != "key" && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// forEach calls fn for every index below n, at most parallel at once.
func forEach(n int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}
