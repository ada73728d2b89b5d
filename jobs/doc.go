// Package jobs is what every lethe job shares: the Job interface, the
// Report a run produces, the errors that decide the exit code, and the
// runner that logs the one summary line per run and prints the summary table
// on a terminal.
//
// It does not know what any job does; packages purge, retention and the
// others implement Job.
package jobs
