package objstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
)

func TestRouter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(dir+"/42.png", []byte("img"), 0o644))
	r := &objstore.Router{File: filestore.Store{}}
	ctx := context.Background()

	file, err := objstore.ParseLocation("file://" + dir + "/{key}.png")
	require.NoError(t, err)
	loc, err := file.Resolve(map[string]string{"key": "42"})
	require.NoError(t, err)
	removed, err := r.Delete(ctx, loc)
	require.NoError(t, err)
	require.Equal(t, objstore.Removed{Versions: 1, Bytes: 3}, removed)
	require.NoFileExists(t, dir+"/42.png")

	s3loc, err := objstore.ParseLocation("s3://b/{key}.png")
	require.NoError(t, err)
	loc, err = s3loc.Resolve(map[string]string{"key": "42"})
	require.NoError(t, err)
	_, err = r.Delete(ctx, loc)
	require.ErrorContains(t, err, "no s3 store is configured")
	_, err = r.Delete(ctx, file.Root())
	require.ErrorContains(t, err, "refusing to delete")
}

func TestDeleteSubjectGoesOnPastFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(dir+"/up/42", 0o755))
	require.NoError(t, os.WriteFile(dir+"/up/42/a", []byte("aa"), 0o644))
	require.NoError(t, os.WriteFile(dir+"/42.png", []byte("img"), 0o644))
	var locs []objstore.Location
	for _, tmpl := range []string{"s3://b/users/{key}/", "file://" + dir + "/up/{key}/", "file://" + dir + "/{key}.png"} {
		l, err := objstore.ParseLocation(tmpl)
		require.NoError(t, err)
		locs = append(locs, l)
	}
	r := &objstore.Router{File: filestore.Store{}} // no S3: that location fails
	ctx := context.Background()
	values := map[string]string{"key": "42"}

	left, err := objstore.Remaining(ctx, r, locs[1:], values)
	require.NoError(t, err)
	require.Len(t, left, 2)

	removed, err := objstore.DeleteSubject(ctx, r, locs, values)
	require.ErrorContains(t, err, "s3://b/users/{key}/: no s3 store")
	require.Equal(t, objstore.Removed{Versions: 2, Bytes: 5}, removed, "the file locations went despite the s3 failure")
	left, err = objstore.Remaining(ctx, r, locs[1:], values)
	require.NoError(t, err)
	require.Empty(t, left)

	_, err = objstore.DeleteSubject(ctx, r, locs[1:], map[string]string{"key": ""})
	require.ErrorContains(t, err, "is empty")
	require.DirExists(t, dir, "an empty key never becomes the root")
}
