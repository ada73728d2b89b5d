package jobs

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

type checkJob struct {
	fakeJob
	deps Deps
}

func (j checkJob) Check(context.Context) error {
	if !j.deps.Limits.DryRun {
		return errors.New("check must build a dry job")
	}
	return nil
}

func TestRegistryBuildsChecksAndRefusesWhatIsMissing(t *testing.T) {
	var built []string
	spec := func(name, section string, has bool) Spec {
		return Spec{Name: name, Help: name + " help", Section: section,
			Needs: func(*policy.Policy) bool { return has },
			New:   func(d Deps) (Job, error) { built = append(built, name); return checkJob{deps: d}, nil }}
	}
	reg := NewRegistry(spec("purge", "subject", true), spec("orphans", "orphans", false))
	require.Equal(t, []string{"purge", "orphans"}, reg.Names())
	var help bytes.Buffer
	reg.Usage(&help)
	require.Contains(t, help.String(), "orphans help")

	pol := &policy.Policy{Path: "policy.yaml"}
	_, err := reg.Build("nope", Deps{Policy: pol})
	require.Equal(t, ExitConfig, ExitCode(err))
	require.ErrorContains(t, err, `unknown job "nope"`)

	_, err = reg.Build("orphans", Deps{Policy: pol})
	require.Equal(t, ExitConfig, ExitCode(err))
	require.ErrorContains(t, err, `needs a "orphans" section`)
	require.Empty(t, built, "nothing is built for a refused job")

	checked, err := reg.CheckAll(context.Background(), Deps{Policy: pol})
	require.NoError(t, err)
	require.Equal(t, []string{"purge"}, checked, "only the jobs whose section the policy has")

	require.Panics(t, func() { NewRegistry(spec("purge", "", true), spec("purge", "", true)) })
}
