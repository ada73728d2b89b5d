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
