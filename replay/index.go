package replay

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/journal"
	"github.com/lethe-project/lethe/subject"
)

// hashSet maps the raw subject hashes of one hash key to the earliest time
// the journal says they were erased, in Unix nanoseconds.
type hashSet map[[subject.HashLen]byte]int64

// probe hashes keys with one hash key and looks them up in the sets of
// the journal entries made with it.
type probe struct {
	stream *subject.Stream
	sets   []hashSet
}

// index is the journal, read into memory: about 50 bytes per entry.
type index struct {
	// byKeyID holds the entries per key fingerprint; "" for entries whose
	// run recorded none.
	byKeyID map[string]hashSet
	entries int64
}

func (ix *index) add(e journal.Mark) error {
	raw, err := hex.DecodeString(e.SubjectHash)
	if err != nil || len(raw) != subject.HashLen {
		return fmt.Errorf("journal entry erased at %s: subject_hash is not %d hex digits", e.ErasedAt.Format(time.RFC3339), 2*subject.HashLen)
	}
	var h [subject.HashLen]byte
	copy(h[:], raw)
	set := ix.byKeyID[e.KeyID]
	if set == nil {
		set = hashSet{}
		ix.byKeyID[e.KeyID] = set
	}
	t := e.ErasedAt.UnixNano()
	if old, ok := set[h]; !ok || t < old {
		set[h] = t
	}
	ix.entries++
	return nil
}

// readIndex reads the journal's entries erased at or after since.
func readIndex(ctx context.Context, j *journal.Journal, since time.Time) (*index, error) {
	ix := &index{byKeyID: map[string]hashSet{}}
	if err := j.ReadMarks(ctx, since, ix.add); err != nil {
		return nil, err
	}
	return ix, nil
}

// probes pairs each hash key with the entries it made: the current key
// and the previous ones by fingerprint, and every key for the entries
// without one. An entry made with a key lethe was not given is a
// configuration error: its subjects could not be found.
func (ix *index) probes(hashers []*subject.Hasher) ([]probe, error) {
	byFP := map[string]int{}
	ps := make([]probe, len(hashers))
	for i, h := range hashers {
		byFP[h.Fingerprint()] = i
		ps[i].stream = h.Stream()
	}
	var unknown []string
	for id, set := range ix.byKeyID {
		if id == "" {
			for i := range ps {
				ps[i].sets = append(ps[i].sets, set)
			}
			continue
		}
		i, ok := byFP[id]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%s (%d entries)", id, len(set)))
			continue
		}
		ps[i].sets = append(ps[i].sets, set)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, &jobs.ConfigError{Err: fmt.Errorf("the journal holds erasures hashed with keys lethe was not given, key fingerprint(s) %s: "+
			"set LETHE_SUBJECT_HASH_KEYS_PREVIOUS to the keys used before LETHE_SUBJECT_HASH_KEY; nothing was changed", strings.Join(unknown, ", "))}
	}
	out := ps[:0]
	for _, p := range ps {
		if len(p.sets) > 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

// lookup returns when the journal says key was first erased, if it does.
func lookup(ps []probe, key []byte) (int64, bool) {
	var best int64
	found := false
	for i := range ps {
		h := ps[i].stream.Hash(key)
		for _, set := range ps[i].sets {
			if t, ok := set[h]; ok && (!found || t < best) {
				best, found = t, true
			}
		}
	}
	return best, found
}
