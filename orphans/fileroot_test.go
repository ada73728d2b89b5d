package orphans_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// A file:// root that does not exist (a volume not mounted in the pod) is
// an error, never "nothing to remove": an organization whose objects live
// there keeps its rows, and an objects: rule over it fails.
func TestMissingFileRootIsAnError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	missing := filepath.Join(t.TempDir(), "unmounted")
	orphan := b.addOrg("orphan", "1 year")

	text := b.polText
	b.setPolicy(strings.Replace(text, `objects: ["s3://`+b.bucket+`/orgs/{key}/"]`,
		fmt.Sprintf(`objects: ["file://%s/orgs/{key}/"]`, missing), 1))
	r, err := b.run()
	require.Equal(t, jobs.ExitFailed, jobs.ExitCode(err), "%v", err)
	require.ErrorContains(t, err, "does not exist")
	require.NotContains(t, err.Error(), orphan)
	require.Equal(t, int64(0), r.Counter("organizations_removed"))
	require.Equal(t, 1, b.org(orphan).Orgs, "the organization stays while its objects were never looked at")

	b.setPolicy(strings.Replace(text, `location: "s3://`+b.bucket+`/users/{key}/"`,
		fmt.Sprintf(`location: "file://%s/users/{key}/"`, missing), 1))
	_, err = b.run()
	require.Equal(t, jobs.ExitFailed, jobs.ExitCode(err), "%v", err)
	require.ErrorContains(t, err, "does not exist")
}
