package discover

import (
	"strings"

	"github.com/lethe-project/lethe/catalog"
)

// ownPeopleTables returns, for each table T, the table that keeps T's own
// people when the schema has one: named <T's singular>_<subject table>
// (merge_request_diff_commit_users for merge_request_diff_commits and
// users), in T's schema, holding personal data itself (a column named like
// an email or a name) and referring to the subject by neither a foreign
// key nor a column named after it. Such a table stores people who need not
// be the subject's rows (a commit's author from git), and T's columns
// named after a role (commit_author_id, committer_id) refer to it. A
// <T>_users that refers to users (a membership, project_users) is not
// one: it says nothing about T's other columns.
func (s *shape) ownPeopleTables() map[*catalog.Table]*catalog.Table {
	sub := s.in.Subject.Table
	suffix := "_" + strings.ToLower(sub.Name)
	out := map[*catalog.Table]*catalog.Table{}
	for _, p := range s.in.Catalog.Tables() {
		prefix, ok := strings.CutSuffix(strings.ToLower(p.Name), suffix)
		if !ok || p == sub {
			continue
		}
		t := s.tableNames[prefix]
		if t == nil || t.Schema != p.Schema || t == p || !s.peopleTable(p) {
			continue
		}
		out[t] = p
	}
	return out
}

// peopleTable reports whether p holds personal data and no reference to
// the subject.
func (s *shape) peopleTable(p *catalog.Table) bool {
	for _, fk := range s.in.Catalog.FKs {
		if fk.Child == p && fk.Parent == s.in.Subject.Table {
			return false
		}
	}
	personal := false
	for _, name := range p.ColumnOrder {
		c := p.Columns[name]
		if matchAny(camelToSnake(name), s.ownNames) {
			return false
		}
		personal = personal || personalByName(c, s.personal)
	}
	return personal
}
