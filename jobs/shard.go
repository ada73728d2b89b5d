package jobs

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is this process's share of a job's work when Count processes run
// the job at once (Kubernetes parallelism, or an Indexed Job's
// JOB_COMPLETION_INDEX): each takes a deterministic share, so that two do
// not fight over one table. The zero value is the whole job.
type Shard struct {
	// Index is this process's share, from 0 to Count-1.
	Index int
	// Count is how many processes share the job; 0 or 1: one does all.
	Count int
}

// Sharded reports whether the work is split at all.
func (s Shard) Sharded() bool { return s.Count > 1 }

// OwnsIndex reports whether the i-th item of a list that every process
// reads in the same order (the policy's rules) is this process's.
func (s Shard) OwnsIndex(i int) bool { return !s.Sharded() || i%s.Count == s.Index }

// Owns reports whether the item named key (a partition's name) is this
// process's: a hash of the name, stable across processes and runs.
func (s Shard) Owns(key string) bool {
	if !s.Sharded() {
		return true
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32()%uint32(s.Count)) == s.Index
}

// String spells the shard as ParseShard reads it.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// ParseShard reads "i/N": share i (from 0) of N.
func ParseShard(v string) (Shard, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(v), "/")
	idx, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || count < 1 || idx < 0 || idx >= count {
		return Shard{}, fmt.Errorf("shard %q: want i/N with 0 <= i < N, e.g. 0/4", v)
	}
	return Shard{Index: idx, Count: count}, nil
}
