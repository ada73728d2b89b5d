package objstore

import "strings"

// PrefixGrouper folds a key-ordered stream of objects into [PrefixSummary]
// groups with constant memory. Store implementations use it to build
// ListPrefixes: call Add for each object in key order, then Flush.
type PrefixGrouper struct {
	// Root is the prefix the keys are listed under.
	Root string
	// Delimiter ends a group's prefix, usually "/".
	Delimiter string
	// Emit receives each finished group.
	Emit func(PrefixSummary) error

	cur     PrefixSummary
	started bool
}

// Add adds one object, which must come in key order after the previous one.
func (g *PrefixGrouper) Add(o Object) error {
	name := g.group(o.Key)
	if g.started && name != g.cur.Prefix {
		if err := g.Flush(); err != nil {
			return err
		}
	}
	if !g.started {
		g.cur = PrefixSummary{Prefix: name}
		g.started = true
	}
	if o.DeleteMarker {
		g.cur.DeleteMarkers++
	} else {
		g.cur.Versions++
		g.cur.Bytes += o.Size
	}
	if o.LastModified.After(g.cur.LastModified) {
		g.cur.LastModified = o.LastModified
	}
	return nil
}

// Flush emits the group in progress, if any.
func (g *PrefixGrouper) Flush() error {
	if !g.started {
		return nil
	}
	g.started = false
	return g.Emit(g.cur)
}

func (g *PrefixGrouper) group(key string) string {
	rest := strings.TrimPrefix(key, g.Root)
	if g.Delimiter == "" {
		return key
	}
	if i := strings.Index(rest, g.Delimiter); i >= 0 {
		return key[:len(key)-len(rest)+i+len(g.Delimiter)]
	}
	return key
}
