package inactivity

import "github.com/lethe-project/lethe/jobs"

// SetBeforeCommit sets the hook that runs just before a batch commits.
func SetBeforeCommit(j *Job, f func(pid uint32, batch *jobs.Tally)) { j.beforeCommit = f }
