package jobs

import (
	"bytes"
	"testing"

	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

func TestRegistryBuildsAndRefusesWhatIsMissing(t *testing.T) {
	var built []string
	spec := func(name string, sections ...string) Spec {
		return Spec{Name: name, Help: name + " help", Sections: sections,
			New: func(d Deps) (Job, error) { built = append(built, name); return fakeJob{}, nil }}
	}
	reg := NewRegistry(spec("purge", "subject"), spec("orphans", "orphans"))
	require.Equal(t, []string{"purge", "orphans"}, reg.Names())
	var help bytes.Buffer
	reg.Usage(&help)
	require.Contains(t, help.String(), "orphans help")

	pol, err := policy.Parse([]byte("subject: {table: users, key: id, requested_at: deleted_at, grace: 30d}\n"), "policy.yaml")
	require.NoError(t, err)
	_, err = reg.Build("nope", Deps{Policy: pol})
	require.Equal(t, ExitConfig, ExitCode(err))
	require.ErrorContains(t, err, `unknown job "nope": want one of purge, orphans`)

	_, err = reg.Build("orphans", Deps{Policy: pol})
	require.Equal(t, ExitConfig, ExitCode(err))
	require.ErrorContains(t, err, "the orphans job needs an orphans: section")
	require.Empty(t, built, "nothing is built for a refused job")

	_, err = reg.Build("purge", Deps{Policy: pol})
	require.NoError(t, err)
	require.Equal(t, []string{"purge"}, built)
	purge, _ := reg.Lookup("purge")
	orphans, _ := reg.Lookup("orphans")
	require.True(t, purge.Has(pol))
	require.False(t, orphans.Has(pol))

	require.Panics(t, func() { NewRegistry(spec("purge"), spec("purge")) })
}
