package schedule_test

import (
	"testing"

	"github.com/lethe-project/lethe/schedule"
	"github.com/stretchr/testify/require"
)

func TestParseEntries(t *testing.T) {
	t.Parallel()
	got, err := schedule.ParseEntries(" purge=0 3 * * *; retention = */15 * * * *\norphans=CRON_TZ=Europe/Paris 30 4 * * 0;; ")
	require.NoError(t, err)
	require.Equal(t, []schedule.Entry{
		{Name: "purge", Spec: "0 3 * * *"},
		{Name: "retention", Spec: "*/15 * * * *"},
		{Name: "orphans", Spec: "CRON_TZ=Europe/Paris 30 4 * * 0"},
	}, got)

	for in, want := range map[string]string{
		"":                             "no job scheduled",
		"purge 0 3 * * *":              `want NAME=SPEC`,
		"=0 3 * * *":                   `"" is not a job name`,
		"purge=":                       "job purge has an empty schedule",
		"purge=@daily;purge=0 3 * * *": "job purge is scheduled twice",
	} {
		_, err := schedule.ParseEntries(in)
		require.ErrorContains(t, err, want, "input %q", in)
	}
}
