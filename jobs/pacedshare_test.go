package jobs

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// governorJob records the governor its session got.
type governorJob struct{ got Governor }

func (*governorJob) Name() string { return "governor" }
func (j *governorJob) Run(_ context.Context, s *Session) error {
	j.got = s.Limits.Governor
	return nil
}

type cappedJob struct{ governorJob }

func (*cappedJob) PacedShareCap() float64 { return 0.02 }

// A job with a cap of its own (PacedShareCapper) gets it, and the floor
// under it, when the operator set neither; a cap or floor the operator
// set stays; other jobs get the default cap.
func TestJobsOwnPacedShareCap(t *testing.T) {
	run := func(j interface {
		Job
		governor() Governor
	}, g Governor) Governor {
		_, err := (&Runner{}).Execute(context.Background(), j, Limits{Governor: g})
		require.NoError(t, err)
		return j.governor()
	}
	plain := run(&governorJob{}, Governor{})
	require.Equal(t, DefaultMaxShare, plain.MaxShare)
	require.Equal(t, DefaultMinShare, plain.MinShare)

	own := run(&cappedJob{}, Governor{})
	require.Equal(t, 0.02, own.MaxShare)
	require.Equal(t, 0.02, own.MinShare, "the floor follows the job's cap down")

	set := run(&cappedJob{}, Governor{MaxShare: 0.3})
	require.Equal(t, 0.3, set.MaxShare, "LETHE_MAX_DB_SHARE wins")
	require.Equal(t, DefaultMinShare, set.MinShare)

	floor := run(&cappedJob{}, Governor{MinShare: 0.04})
	require.Equal(t, 0.04, floor.MaxShare, "LETHE_MIN_DB_SHARE above the job's cap raises it, as it raises any cap")
	require.Equal(t, 0.04, floor.MinShare)
}

func (j *governorJob) governor() Governor { return j.got }
