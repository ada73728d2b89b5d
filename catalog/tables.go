package catalog

import "sort"

// Tables lists every table, by schema and name.
func (c *Catalog) Tables() []*Table {
	out := make([]*Table, 0, len(c.byOID))
	for _, t := range c.byOID {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Schema != out[j].Schema {
			return out[i].Schema < out[j].Schema
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// ByOID returns the table with pg_class oid, or nil.
func (c *Catalog) ByOID(oid uint32) *Table { return c.byOID[oid] }
