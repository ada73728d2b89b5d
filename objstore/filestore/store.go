package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/lethe-project/lethe/objstore"
)

// Store is an [objstore.Store] and [objstore.PrefixLister] over the local
// filesystem. The zero value is ready to use.
type Store struct{}

var (
	_ objstore.Store        = Store{}
	_ objstore.PrefixLister = Store{}
)

// List walks loc in lexical order and calls fn for every regular file or
// symbolic link (a link is listed, never followed). A missing path lists
// nothing, but a missing root directory ([objstore.Resolved.RootDir]) is
// an error.
func (Store) List(ctx context.Context, loc objstore.Resolved, fn func(objstore.Object) error) error {
	if err := checkFile(loc); err != nil {
		return err
	}
	if err := checkRoot(loc); err != nil {
		return err
	}
	if err := walk(ctx, trimSlash(loc.Key), fn); err != nil {
		return fmt.Errorf("list %s: %w", loc.Template, err)
	}
	return nil
}

// Delete removes the file, or the directory and everything in it. A missing
// path is already gone and not an error, but a missing root directory
// ([objstore.Resolved.RootDir]: a volume not mounted) is. A symbolic link at loc is removed
// itself; what it points to is left alone. A directory where a single file
// was expected is an error.
func (Store) Delete(ctx context.Context, loc objstore.Resolved) (objstore.Removed, error) {
	var removed objstore.Removed
	if err := loc.CheckDeletable(); err != nil {
		return removed, err
	}
	if err := checkFile(loc); err != nil {
		return removed, err
	}
	if err := checkRoot(loc); err != nil {
		return removed, err
	}
	p := trimSlash(loc.Key)
	info, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return removed, nil
	}
	if err != nil {
		return removed, fmt.Errorf("delete %s: %w", loc.Template, stripPath(err))
	}
	if info.IsDir() && !loc.Prefix {
		return removed, fmt.Errorf("delete %s: is a directory, and the template names a single file", loc.Template)
	}
	if info.IsDir() {
		err = walk(ctx, p, func(o objstore.Object) error {
			removed.Versions++
			removed.Bytes += o.Size
			return nil
		})
		if err != nil {
			return objstore.Removed{}, fmt.Errorf("delete %s: %w", loc.Template, err)
		}
		err = os.RemoveAll(p)
	} else {
		removed = objstore.Removed{Versions: 1, Bytes: info.Size()}
		err = os.Remove(p)
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	}
	if err != nil {
		return objstore.Removed{}, fmt.Errorf("delete %s: %w", loc.Template, stripPath(err))
	}
	return removed, nil
}

// ListPrefixes groups the files under root by the path up to the next
// delimiter; see [objstore.PrefixLister]. root.Key may end in a partial
// name, such as "/x/u-": the walk starts in its directory and keeps the
// paths that start with it. A missing root directory is an error.
func (Store) ListPrefixes(ctx context.Context, root objstore.Resolved, delimiter string, fn func(objstore.PrefixSummary) error) error {
	if err := checkFile(root); err != nil {
		return err
	}
	if err := checkRoot(root); err != nil {
		return err
	}
	dir := root.Key
	if !strings.HasSuffix(dir, "/") {
		dir = filepath.Dir(dir)
	}
	g := objstore.PrefixGrouper{Root: root.Key, Delimiter: delimiter, Emit: fn}
	err := walk(ctx, trimSlash(dir), func(o objstore.Object) error {
		if !strings.HasPrefix(o.Key, root.Key) {
			return nil
		}
		return g.Add(o)
	})
	if err != nil {
		return fmt.Errorf("list prefixes of %s: %w", root.Template, err)
	}
	return g.Flush()
}

// walk calls fn for each non-directory under p (or p itself), in lexical
// order, skipping a p that does not exist.
func walk(ctx context.Context, p string, fn func(objstore.Object) error) error {
	err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		return fn(objstore.Object{Key: path, Size: info.Size(), LastModified: info.ModTime(), IsLatest: true})
	})
	return stripPath(err)
}

// stripPath drops the path from a *fs.PathError: paths hold subject keys.
func stripPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

func checkFile(loc objstore.Resolved) error {
	if loc.Scheme != objstore.SchemeFile || !filepath.IsAbs(loc.Key) {
		return fmt.Errorf("location %s: not a file location", loc.Template)
	}
	return nil
}

// checkRoot returns an error unless loc's root directory exists: a root
// that is missing (a volume not mounted, a wrong path) must never pass for
// a location with nothing in it. The root holds no subject value, so the
// error may name it.
func checkRoot(loc objstore.Resolved) error {
	root := loc.RootDir()
	if root == "" {
		return nil
	}
	info, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("location %s: root directory %s does not exist (is its volume mounted?)", loc.Template, root)
	case err != nil:
		return fmt.Errorf("location %s: root directory %s: %w", loc.Template, root, stripPath(err))
	case !info.IsDir():
		return fmt.Errorf("location %s: root %s is not a directory", loc.Template, root)
	}
	return nil
}

func trimSlash(p string) string {
	if len(p) > 1 {
		return strings.TrimSuffix(p, "/")
	}
	return p
}

// Open opens the regular file at path key; see [objstore.Opener]. A
// symbolic link is not followed: it is an error.
func (Store) Open(_ context.Context, loc objstore.Resolved, key string) (io.ReadCloser, error) {
	if err := checkFile(loc); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(key, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read a file of %s: %w", loc.Template, objstore.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read a file of %s: %w", loc.Template, stripPath(err))
	}
	return f, nil
}
