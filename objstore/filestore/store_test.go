package filestore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
)

func write(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
}

func resolve(t *testing.T, template, key string) objstore.Resolved {
	t.Helper()
	loc, err := objstore.ParseLocation(template)
	require.NoError(t, err)
	r, err := loc.Resolve(map[string]string{"key": key})
	require.NoError(t, err)
	return r
}

func TestDeleteDirectory(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, root+"/uploads/42/a.png", "aaa")
	write(t, root+"/uploads/42/sub/b", "bb")
	write(t, root+"/uploads/420/keep", "k")
	write(t, root+"/uploads/42.png", "k")
	loc := resolve(t, "file://"+root+"/uploads/{key}/", "42")
	ctx := context.Background()
	var s filestore.Store

	usage, err := objstore.Usage(ctx, s, loc)
	require.NoError(t, err)
	require.Equal(t, objstore.Removed{Versions: 2, Bytes: 5}, usage)
	removed, err := s.Delete(ctx, loc)
	require.NoError(t, err)
	require.Equal(t, usage, removed)
	require.NoDirExists(t, root+"/uploads/42")
	require.FileExists(t, root+"/uploads/420/keep")
	require.FileExists(t, root+"/uploads/42.png")
	exists, err := objstore.Exists(ctx, s, loc)
	require.NoError(t, err)
	require.False(t, exists)

	removed, err = s.Delete(ctx, loc)
	require.NoError(t, err, "missing means already gone")
	require.Zero(t, removed)
}

func TestDeleteFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, root+"/x/42.png", "img")
	write(t, root+"/x/42.png.bak", "keep")
	loc := resolve(t, "file://"+root+"/x/{key}.png", "42")
	var s filestore.Store

	removed, err := s.Delete(context.Background(), loc)
	require.NoError(t, err)
	require.Equal(t, objstore.Removed{Versions: 1, Bytes: 3}, removed)
	require.NoFileExists(t, root+"/x/42.png")
	require.FileExists(t, root+"/x/42.png.bak")

	// A directory where the template names one file is not deleted.
	require.NoError(t, os.MkdirAll(root+"/x/43.png/inner", 0o755))
	_, err = s.Delete(context.Background(), resolve(t, "file://"+root+"/x/{key}.png", "43"))
	require.ErrorContains(t, err, "is a directory")
	require.DirExists(t, root+"/x/43.png/inner")
}

func TestDeleteSymlinkLeavesTarget(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, root+"/elsewhere/precious", "p")
	require.NoError(t, os.MkdirAll(root+"/uploads", 0o755))
	require.NoError(t, os.Symlink(root+"/elsewhere", root+"/uploads/42"))
	var s filestore.Store

	_, err := s.Delete(context.Background(), resolve(t, "file://"+root+"/uploads/{key}/", "42"))
	require.NoError(t, err)
	require.NoFileExists(t, root+"/uploads/42")
	require.FileExists(t, root+"/elsewhere/precious", "a link is removed, never followed")
}

func TestDeleteErrorNamesTemplateOnly(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, root+"/uploads", "a file where a directory should be")
	var s filestore.Store
	_, err := s.Delete(context.Background(), resolve(t, "file://"+root+"/uploads/{key}/", "secret-42"))
	require.ErrorContains(t, err, "not a directory")
	require.ErrorContains(t, err, "/uploads/{key}/")
	require.NotContains(t, err.Error(), "secret-42")
}

func TestListPrefixes(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, root+"/uploads/1/a", "aa")
	write(t, root+"/uploads/1/sub/b", "b")
	write(t, root+"/uploads/1-x", "x")
	write(t, root+"/uploads/2/c", "ccc")
	write(t, root+"/other/3/d", "no")
	loc, err := objstore.ParseLocation("file://" + root + "/uploads/{key}/")
	require.NoError(t, err)
	var got []string
	var bytes int64
	err = filestore.Store{}.ListPrefixes(context.Background(), loc.Root(), "/", func(p objstore.PrefixSummary) error {
		got = append(got, p.Prefix)
		bytes += p.Bytes
		require.False(t, p.LastModified.IsZero())
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []string{root + "/uploads/1/", root + "/uploads/1-x", root + "/uploads/2/"}, got)
	require.Equal(t, int64(7), bytes)

	_, err = filestore.Store{}.Delete(context.Background(), loc.Root())
	require.ErrorContains(t, err, "refusing to delete")
	require.DirExists(t, root+"/uploads/1")
}

// A location whose root directory is missing (a volume that is not
// mounted) is an error for every operation, never an empty success; a
// subject with nothing under a root that exists is fine.
func TestMissingRootIsAnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var s filestore.Store
	base := t.TempDir()
	write(t, base+"/mounted/other/f", "x")
	for _, template := range []string{"file://" + base + "/mounted/{key}/", "file://" + base + "/mounted/{key}.png"} {
		loc := resolve(t, template, "42")
		removed, err := s.Delete(ctx, loc)
		require.NoError(t, err, template)
		require.Zero(t, removed)
		found, err := objstore.Exists(ctx, s, loc)
		require.NoError(t, err)
		require.False(t, found)
	}
	for template, want := range map[string]string{
		"file://" + base + "/unmounted/{key}/":       "root directory " + base + "/unmounted does not exist",
		"file://" + base + "/unmounted/u-{key}.png":  "root directory " + base + "/unmounted does not exist",
		"file://" + base + "/mounted/other/f/{key}/": "root " + base + "/mounted/other/f is not a directory",
	} {
		// A key that a temporary directory's name can never hold, so the
		// check that the error does not repeat it cannot misfire.
		loc := resolve(t, template, "key-of-a-person")
		_, err := s.Delete(ctx, loc)
		require.ErrorContains(t, err, want, template)
		require.NotContains(t, err.Error(), "key-of-a-person")
		_, err = objstore.Exists(ctx, s, loc)
		require.ErrorContains(t, err, want, template)
		_, err = objstore.Usage(ctx, s, loc)
		require.ErrorContains(t, err, want, template)
		l, err := objstore.ParseLocation(template)
		require.NoError(t, err)
		err = s.ListPrefixes(ctx, l.Root(), "/", func(objstore.PrefixSummary) error { return nil })
		require.ErrorContains(t, err, want, template)
	}
}
