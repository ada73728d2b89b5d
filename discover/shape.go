package discover

import (
	"path"
	"slices"
	"strings"

	"github.com/lethe-project/lethe/catalog"
)

// shape holds what the names and types alone say.
type shape struct {
	in         Input
	fk         map[*catalog.Table]map[string]bool
	tableNames map[string]*catalog.Table // singular name → table
	// deletedNames indexes in.Deleted by singular table name: a column
	// named <name>_id or *_<name>_id may refer to them.
	deletedNames map[string][]int
	skip         []string
	refNames     []string
	// ownNames are the names that say "the subject" itself (person_id
	// for people, user_id, and the policy's discovery.names): the only
	// ones that count in a table that mirrors another system's records.
	ownNames []string
	personal []string
	// ownPeople maps a table to the table that keeps its own people
	// (see ownPeopleTables).
	ownPeople map[*catalog.Table]*catalog.Table
}

func newShape(in Input) *shape {
	s := &shape{in: in, fk: fkColumns(in.Catalog), tableNames: map[string]*catalog.Table{}}
	for _, t := range in.Catalog.Tables() {
		s.tableNames[singular(t.Name)] = t
	}
	s.deletedNames = map[string][]int{}
	for i, d := range in.Deleted {
		n := singular(d.Table.Name)
		s.deletedNames[n] = append(s.deletedNames[n], i)
	}
	sub := singular(in.Subject.Table.Name)
	s.ownNames = []string{"user_id", "userid", "user_uuid", "person_id", sub + "_id", "*_" + sub + "_id", sub + "_uuid", sub, "*_" + sub}
	s.refNames = append(append([]string{}, referenceNames...), s.ownNames...)
	s.personal = personalNames
	if c := in.Config; c != nil {
		for _, n := range c.Names {
			s.refNames = append(s.refNames, strings.ToLower(n))
			s.ownNames = append(s.ownNames, strings.ToLower(n))
		}
		for _, n := range c.Personal {
			s.personal = append(s.personal, strings.ToLower(n))
		}
		for _, n := range c.Skip {
			s.skip = append(s.skip, strings.ToLower(n))
		}
	}
	s.ownPeople = s.ownPeopleTables()
	return s
}

// skipped reports whether the policy's discovery.skip names t or t.col.
func (s *shape) skipped(t *catalog.Table, col string) bool {
	names := []string{strings.ToLower(t.Name), strings.ToLower(t.Schema + "." + t.Name)}
	for _, p := range s.skip {
		for _, n := range names {
			if ok, _ := path.Match(p, n); ok {
				return true
			}
			if col != "" {
				if ok, _ := path.Match(p, n+"."+strings.ToLower(col)); ok {
					return true
				}
			}
		}
	}
	return false
}

// namesOtherTable reports whether name is <table>_id (or *_<table>_id) of a
// table other than to: project_id refers to projects, not to users.
func (s *shape) namesOtherTable(name string, to *catalog.Table) bool {
	base, ok := strings.CutSuffix(name, "_id")
	if !ok {
		return false
	}
	for {
		if t := s.tableNames[base]; t != nil {
			return t != to
		}
		i := strings.IndexByte(base, '_')
		if i < 0 {
			return false
		}
		base = base[i+1:]
	}
}

// declared reports whether a column takes part in a foreign key, or is the
// table's own single-column primary key named id.
func (s *shape) declared(t *catalog.Table, col string) bool {
	return s.fk[t][col] || len(t.PK) == 1 && t.PK[0] == col && strings.EqualFold(col, "id")
}

// referenceByName returns the target a column's name and type say it
// refers to, or nil.
func (s *shape) referenceByName(t *catalog.Table, c *catalog.Column) *Target {
	name := camelToSnake(c.Name)
	if matchAny(name, notReferences) || matchAny(name, []string{"sort_by", "order_by", "group_by", "*_sort_by", "partition_by"}) {
		return nil
	}
	sub := s.in.Subject
	if t == sub.Table && c == sub.Key {
		return nil
	}
	// In a table that mirrors another system's records, a party's role
	// (receiver_id, payer_id) is that system's account, and in a table
	// with its own people table, one of those people: only the subject's
	// own name counts there.
	byName := matchAny(name, s.refNames) || agent(name)
	if matchAny(strings.ToLower(t.Name), externalTables) || s.ownPeople[t] != nil {
		byName = matchAny(name, s.ownNames)
	}
	if comparable(c, sub.Key) && byName && !s.namesOtherTable(name, sub.Table) {
		return &sub
	}
	for _, i := range s.deletedByName(name) {
		d := s.in.Deleted[i]
		if t != d.Table && comparable(c, d.Key) && !s.namesOtherTable(name, d.Table) {
			return &d
		}
	}
	return nil
}

// deletedByName returns, in the order of in.Deleted, the deleted tables
// whose singular name a column name <name>_id or *_<name>_id names: a
// lookup per suffix of the name, not a match per deleted table (a
// 1,000-table policy deletes hundreds).
func (s *shape) deletedByName(name string) []int {
	base, ok := strings.CutSuffix(name, "_id")
	if !ok || len(s.deletedNames) == 0 {
		return nil
	}
	var out []int
	for {
		out = append(out, s.deletedNames[base]...)
		i := strings.IndexByte(base, '_')
		if i < 0 {
			break
		}
		base = base[i+1:]
	}
	slices.Sort(out)
	return out
}

// sampleable reports whether a column not named like a reference may
// still be one by its values: comparable with the subject key without
// being text against a number key (free text is never all keys), and not
// named like a reference to another table or like a count.
func (s *shape) sampleable(c *catalog.Column) bool {
	key := s.in.Subject.Key
	if c.Textual() && !key.Textual() && key.Type != "uuid" {
		return false
	}
	if !comparable(c, key) {
		return false
	}
	name := camelToSnake(c.Name)
	return !matchAny(name, notReferences) && !s.namesOtherTable(name, nil)
}

// personalByName reports whether a column's name and type say it holds
// personal data.
func personalByName(c *catalog.Column, patterns []string) bool {
	name := camelToSnake(c.Name)
	if matchAny(name, notPersonal) || matchAny(name, []string{"*_id", "*_at", "*_on", "*_token", "*_hash", "*_count", "*_digest", "*_encrypted", "encrypted_*"}) {
		return false
	}
	ok := c.Textual() || c.Type == "inet" || c.Type == "cidr" || strings.Contains(name, "birth") || strings.HasPrefix(name, "home_")
	return ok && matchAny(name, patterns)
}

// byShape returns the candidates that names and types give, and the
// columns, per table, whose values are worth sampling.
func (s *shape) byShape() (cands []*Candidate, sample map[*catalog.Table][]*Candidate) {
	sample = map[*catalog.Table][]*Candidate{}
	for _, t := range s.in.Catalog.Tables() {
		if s.skipped(t, "") {
			continue
		}
		for _, name := range t.ColumnOrder {
			c := t.Columns[name]
			if s.declared(t, name) || s.skipped(t, name) {
				continue
			}
			if tg := s.referenceByName(t, c); tg != nil {
				cand := &Candidate{Kind: Reference, Table: t, Column: c, To: tg.Table, ToColumn: tg.Key, ByName: true}
				cands = append(cands, cand)
				sample[t] = append(sample[t], cand)
				continue
			}
			if personalByName(c, s.personal) {
				cands = append(cands, &Candidate{Kind: Personal, Table: t, Column: c, ByName: true})
			}
			if t != s.in.Subject.Table && s.sampleable(c) {
				sub := s.in.Subject
				sample[t] = append(sample[t], &Candidate{Kind: Reference, Table: t, Column: c, To: sub.Table, ToColumn: sub.Key})
			}
		}
	}
	return cands, sample
}
