package policy

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"
)

// Ident is an SQL name as written in the policy: unquoted parts fold to lower
// case as PostgreSQL folds them, double-quoted parts keep their case, and a
// dot separates a schema from a table ("billing.invoices",
// `"UserProfiles"`, `billing."Invoices"`). Anything else, even
// `users; DROP TABLE x`, is just a name that will not be found.
type Ident struct {
	// Parts are the unquoted name parts, schema first.
	Parts []string
	// Raw is the text as written, for messages.
	Raw string
}

// ParseIdent parses one policy name.
func ParseIdent(s string) (Ident, error) {
	id := Ident{Raw: s}
	if strings.TrimSpace(s) == "" {
		return id, fmt.Errorf("empty name")
	}
	var cur strings.Builder
	quoted, inQuotes, seen := false, false, false
	flush := func() error {
		if !seen {
			return fmt.Errorf("name %q has an empty part", s)
		}
		part := cur.String()
		if !quoted {
			part = strings.ToLower(strings.TrimSpace(part))
		}
		id.Parts = append(id.Parts, part)
		cur.Reset()
		quoted, seen = false, false
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuotes && c == '"' && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case inQuotes && c == '"':
			inQuotes = false
		case inQuotes:
			cur.WriteByte(c)
		case c == '"':
			if seen && strings.TrimSpace(cur.String()) != "" {
				return id, fmt.Errorf("name %q: quote in the middle of a part", s)
			}
			cur.Reset()
			inQuotes, quoted, seen = true, true, true
		case c == '.':
			if err := flush(); err != nil {
				return id, err
			}
		default:
			if quoted {
				if c == ' ' {
					continue
				}
				return id, fmt.Errorf("name %q: text after a closing quote", s)
			}
			cur.WriteByte(c)
			seen = true
		}
	}
	if inQuotes {
		return id, fmt.Errorf("name %q: unterminated quote", s)
	}
	if err := flush(); err != nil {
		return id, err
	}
	if len(id.Parts) > 2 {
		return id, fmt.Errorf("name %q has more than schema and table", s)
	}
	return id, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *Ident) UnmarshalText(b []byte) error {
	v, err := ParseIdent(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// IsZero reports whether the name was not given.
func (id Ident) IsZero() bool { return len(id.Parts) == 0 }

// Sanitize returns the name quoted for SQL by pgx.
func (id Ident) Sanitize() string { return pgx.Identifier(id.Parts).Sanitize() }

// Column returns the last part: the column name, for a column reference.
func (id Ident) Column() string {
	if len(id.Parts) == 0 {
		return ""
	}
	return id.Parts[len(id.Parts)-1]
}

// String returns the name as written.
func (id Ident) String() string {
	if id.Raw != "" {
		return id.Raw
	}
	return id.Sanitize()
}

// UnmarshalYAML implements yaml.Unmarshaler so that errors carry the line.
func (id *Ident) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode || node.Tag == "!!null" {
		return decodeError(fmt.Errorf("line %d: want a name, got %s", node.Line, describe(node)))
	}
	v, err := ParseIdent(node.Value)
	if err != nil {
		return decodeError(fmt.Errorf("line %d: %w", node.Line, err))
	}
	*id = v
	return nil
}
