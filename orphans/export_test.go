package orphans

// SetBeforeCommit sets the hook that runs just before an organizations
// batch commits.
func SetBeforeCommit(j *Job, f func(pid uint32)) { j.beforeCommit = f }
