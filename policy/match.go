package policy

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Match is what a rule compares with the subject (or with the via table's
// row): one column, match: user_id, or the columns of a multi-column key in
// a list, match: [partition_id, user_id], which pair up with the key of a
// foreign key or a declared reference by its columns.
type Match struct {
	// Ident is the column, or the first column of a list.
	Ident
	// List holds every column when a list of two or more was written; nil
	// for one column.
	List []Ident
}

// Columns returns the columns the rule names: one, or the list.
func (m Match) Columns() []Ident {
	if len(m.List) > 0 {
		return m.List
	}
	if m.IsZero() {
		return nil
	}
	return []Ident{m.Ident}
}

// Sanitize returns the columns quoted for SQL, comma-separated.
func (m Match) Sanitize() string {
	var parts []string
	for _, c := range m.Columns() {
		parts = append(parts, c.Sanitize())
	}
	return strings.Join(parts, ", ")
}

// String returns the column as written, or the list as [a, b].
func (m Match) String() string {
	if len(m.List) == 0 {
		return m.Ident.String()
	}
	var parts []string
	for _, c := range m.List {
		parts = append(parts, c.String())
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// UnmarshalYAML implements yaml.Unmarshaler: a name, or a list of names.
func (m *Match) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.SequenceNode {
		*m = Match{}
		return m.Ident.UnmarshalYAML(node)
	}
	if len(node.Content) == 0 {
		return decodeError(fmt.Errorf("line %d: match: an empty list names no column", node.Line))
	}
	var list []Ident
	for _, item := range node.Content {
		var id Ident
		if err := id.UnmarshalYAML(item); err != nil {
			return err
		}
		list = append(list, id)
	}
	*m = Match{Ident: list[0]}
	if len(list) > 1 {
		m.List = list
	}
	return nil
}
