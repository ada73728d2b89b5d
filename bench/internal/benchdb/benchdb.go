// Package benchdb holds what the benchmark programs share about their
// private PostgreSQL server: its settings are durable (fsync, full-page
// writes, synchronous commit) unless the run asks otherwise, because that
// is how users run lethe.
package benchdb

import "flag"

// NoFsync registers -no-fsync on the default flag set: the server then
// skips fsync and full-page writes, for a quick run on a shared disk whose
// numbers are not lethe's durable ones.
func NoFsync() *bool {
	return flag.Bool("no-fsync", false, "run the server without fsync and full-page writes (quick, not what users run)")
}

// Settings returns the server settings of a benchmark: durable unless
// noFsync, then extra.
func Settings(noFsync bool, extra ...string) []string {
	s := []string{"fsync=on", "full_page_writes=on", "synchronous_commit=on"}
	if noFsync {
		s = []string{"fsync=off", "full_page_writes=off", "synchronous_commit=off"}
	}
	return append(s, extra...)
}
