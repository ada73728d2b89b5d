package policy

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// ValueKind says where an assigned value comes from.
type ValueKind int

// Kinds of assigned value.
const (
	// Literal is a constant written in the policy.
	Literal ValueKind = iota
	// Null is SQL NULL.
	Null
	// Pseudonym is Prefix followed by a keyed hash of the subject's key:
	// stable per subject, not reversible without the hash key.
	Pseudonym
)

// Value is the right-hand side of one assignment in a set: or where: map.
type Value struct {
	// Kind says which of the fields below is meaningful.
	Kind ValueKind
	// Text is the literal as written (booleans and numbers included).
	Text string
	// Prefix starts a pseudonym.
	Prefix string
}

// String describes the value for plans and messages.
func (v Value) String() string {
	switch v.Kind {
	case Null:
		return "null"
	case Pseudonym:
		return fmt.Sprintf("pseudonym(%q)", v.Prefix)
	default:
		return fmt.Sprintf("%q", v.Text)
	}
}

// Assignment sets one column.
type Assignment struct {
	// Column is the column to set.
	Column Ident
	// Value is what it is set to.
	Value Value
	// Line is where the assignment is written.
	Line int
}

// Assignments is an ordered column-to-value map, as written in the file.
type Assignments []Assignment

// Has reports whether column is assigned.
func (a Assignments) Has(column string) (Value, bool) {
	for _, x := range a {
		if x.Column.Column() == column {
			return x.Value, true
		}
	}
	return Value{}, false
}

// UnmarshalYAML reads a mapping of column names to values: a scalar is a
// literal, null is NULL, and {pseudonym: PREFIX} is a keyed-hash pseudonym.
func (a *Assignments) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.MappingNode {
		return decodeError(fmt.Errorf("line %d: want a mapping of column: value, got %s", node.Line, describe(node)))
	}
	var out Assignments
	seen := map[string]int{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		col, err := ParseIdent(k.Value)
		if err != nil || len(col.Parts) != 1 {
			return decodeError(fmt.Errorf("line %d: %q is not a column name", k.Line, k.Value))
		}
		if prev, ok := seen[col.Column()]; ok {
			return decodeError(fmt.Errorf("line %d: column %q is already set at line %d", k.Line, k.Value, prev))
		}
		seen[col.Column()] = k.Line
		val, err := parseValue(v)
		if err != nil {
			return decodeError(err)
		}
		out = append(out, Assignment{Column: col, Value: val, Line: k.Line})
	}
	*a = out
	return nil
}

func parseValue(v *yaml.Node) (Value, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return Value{Kind: Null}, nil
		}
		return Value{Kind: Literal, Text: v.Value}, nil
	case yaml.MappingNode:
		if len(v.Content) == 2 && v.Content[0].Value == "pseudonym" && v.Content[1].Kind == yaml.ScalarNode {
			prefix := v.Content[1].Value
			if v.Content[1].Tag == "!!null" {
				prefix = ""
			}
			return Value{Kind: Pseudonym, Prefix: prefix}, nil
		}
		return Value{}, fmt.Errorf("line %d: a value is a literal, null, or {pseudonym: PREFIX}", v.Line)
	default:
		return Value{}, fmt.Errorf("line %d: a value is a literal, null, or {pseudonym: PREFIX}, got %s", v.Line, describe(v))
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "null"
	}
	return fmt.Sprintf("%q", n.Value)
}
