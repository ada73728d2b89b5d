package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Opener reads the current version of one object, for lethe export.
type Opener interface {
	// Open returns the current version of the object at key (an S3 key or
	// an absolute path, as [Object.Key]) under loc. An object gone since it
	// was listed is [ErrNotFound].
	Open(ctx context.Context, loc Resolved, key string) (io.ReadCloser, error)
}

// ErrNotFound is wrapped by Open's error when the object is gone.
var ErrNotFound = errors.New("object not found")

// Open opens the object in the store for loc's scheme.
func (r *Router) Open(ctx context.Context, loc Resolved, key string) (io.ReadCloser, error) {
	s, err := r.pick(loc)
	if err != nil {
		return nil, err
	}
	o, ok := s.(Opener)
	if !ok {
		return nil, fmt.Errorf("location %s: the %s store cannot read objects", loc.Template, loc.Scheme)
	}
	if !loc.Contains(key) {
		return nil, fmt.Errorf("location %s: the object is not at the location", loc.Template)
	}
	return o.Open(ctx, loc, key)
}
