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

// The share caps are the job's, however many processes run it: each of N
// pods (LETHE_PODS, or the shard count of an Indexed Job) paces at 1/N of
// them, so that N pods beside the application take what one would.
func TestShareCapsAreTheJobsAcrossProcesses(t *testing.T) {
	run := func(j interface {
		Job
		governor() Governor
	}, l Limits) Governor {
		_, err := (&Runner{}).Execute(context.Background(), j, l)
		require.NoError(t, err)
		return j.governor()
	}
	pods := run(&cappedJob{}, Limits{Governor: Governor{Processes: 4}})
	require.InDelta(t, 0.005, pods.MaxShare, 1e-12)
	require.InDelta(t, 0.005, pods.MinShare, 1e-12)

	shards := run(&governorJob{}, Limits{Shard: Shard{Index: 1, Count: 2}})
	require.InDelta(t, DefaultMaxShare/2, shards.MaxShare, 1e-12)
	require.InDelta(t, DefaultMinShare/2, shards.MinShare, 1e-12)

	set := run(&cappedJob{}, Limits{Governor: Governor{MaxShare: 0.3, Processes: 3}})
	require.InDelta(t, 0.1, set.MaxShare, 1e-12, "LETHE_MAX_DB_SHARE is the job's too")

	one := run(&cappedJob{}, Limits{Governor: Governor{Processes: 1}})
	require.Equal(t, 0.02, one.MaxShare)
}
