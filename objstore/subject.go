package objstore

import (
	"context"
	"errors"
	"fmt"
)

// DeleteSubject resolves every location for one subject's values and
// deletes it, going on past failures so that as much as possible is removed.
// The error joins every failure (each naming its template) and is nil only
// when every location was confirmed empty; the purge job then may delete the
// subject's rows.
func DeleteSubject(ctx context.Context, s Store, locs []Location, values map[string]string) (Removed, error) {
	var (
		total Removed
		errs  []error
	)
	for _, l := range locs {
		r, err := l.Resolve(values)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		removed, err := s.Delete(ctx, r)
		total.Add(removed)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

// Remaining returns the templates of the locations where anything (any
// version or delete marker) is left for one subject; the purge job calls it
// after commit to verify. The error is for locations it could not check.
func Remaining(ctx context.Context, s Store, locs []Location, values map[string]string) ([]string, error) {
	var (
		left []string
		errs []error
	)
	for _, l := range locs {
		r, err := l.Resolve(values)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found, err := Exists(ctx, s, r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if found {
			left = append(left, l.String())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return left, fmt.Errorf("verify: %w", err)
	}
	return left, nil
}
