package delivery

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFailuresKeepTheFirstErrorAndTheStreak(t *testing.T) {
	f := NewFailures()
	require.NoError(t, f.Err("job", "notice(s) not delivered"))
	require.NotNil(t, f.IDs, "a query takes the ids as an array")
	first, second := errors.New("first"), errors.New("second")
	f.Add("a", first)
	f.Add("b", nil)
	f.Add("c", second)
	f.Add("d", second)
	require.False(t, f.Stop(3), "a success ended the first streak")
	f.Add("e", second)
	require.True(t, f.Stop(3))
	require.Equal(t, []string{"a", "c", "d", "e"}, f.IDs)
	err := f.Err("job", "notice(s) not delivered")
	require.EqualError(t, err, "job: 4 notice(s) not delivered, the next run retries them: first")
	require.ErrorIs(t, err, first)
}
