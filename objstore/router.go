package objstore

import (
	"context"
	"fmt"
)

// Router is a [Store] and [PrefixLister] that sends each location to the
// store for its scheme. A nil field means that scheme is not configured,
// and a location using it is an error.
type Router struct {
	// S3 serves s3:// locations.
	S3 interface {
		Store
		PrefixLister
	}
	// File serves file:// locations.
	File interface {
		Store
		PrefixLister
	}
}

var (
	_ Store        = (*Router)(nil)
	_ PrefixLister = (*Router)(nil)
)

func (r *Router) pick(loc Resolved) (interface {
	Store
	PrefixLister
}, error) {
	var s interface {
		Store
		PrefixLister
	}
	switch loc.Scheme {
	case SchemeS3:
		s = r.S3
	case SchemeFile:
		s = r.File
	default:
		return nil, fmt.Errorf("location %s: unknown scheme %q", loc.Template, loc.Scheme)
	}
	if s == nil {
		return nil, fmt.Errorf("location %s: no %s store is configured", loc.Template, loc.Scheme)
	}
	return s, nil
}

// List lists loc in the store for its scheme.
func (r *Router) List(ctx context.Context, loc Resolved, fn func(Object) error) error {
	s, err := r.pick(loc)
	if err != nil {
		return err
	}
	return s.List(ctx, loc, fn)
}

// Delete deletes loc in the store for its scheme.
func (r *Router) Delete(ctx context.Context, loc Resolved) (Removed, error) {
	if err := loc.CheckDeletable(); err != nil {
		return Removed{}, err
	}
	s, err := r.pick(loc)
	if err != nil {
		return Removed{}, err
	}
	return s.Delete(ctx, loc)
}

// ListPrefixes lists the groups under root in the store for its scheme.
func (r *Router) ListPrefixes(ctx context.Context, root Resolved, delimiter string, fn func(PrefixSummary) error) error {
	s, err := r.pick(root)
	if err != nil {
		return err
	}
	return s.ListPrefixes(ctx, root, delimiter, fn)
}
