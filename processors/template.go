package processors

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lethe-project/lethe/internal/placeholder"
)

// piece is a run of literal text, an ${ENV} reference or a {name}
// placeholder; exactly one field is set.
type piece struct {
	text string
	env  string
	name string
}

// template is a parsed URL, header or body template.
type template []piece

// parseTemplate splits s into pieces. With strict, every "{" and "}" must be
// part of a placeholder (URLs); without, stray braces are text (JSON).
// Without placeholders allowed, {name} is text too (headers).
func parseTemplate(s string, strict, placeholders bool) (template, error) {
	var t template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t = append(t, piece{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unclosed ${ at %d", i)
			}
			name := s[i+2 : i+end]
			if !placeholder.Valid(name) {
				return nil, fmt.Errorf("malformed environment reference ${%s}", name)
			}
			flush()
			t = append(t, piece{env: name})
			i += end + 1
		case s[i] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end > 0 && placeholder.Valid(s[i+1:i+end]) && placeholders {
				flush()
				t = append(t, piece{name: s[i+1 : i+end]})
				i += end + 1
				continue
			}
			if strict {
				return nil, fmt.Errorf("malformed placeholder at %d: want {key} or {column_name}", i)
			}
			lit.WriteByte('{')
			i++
		case s[i] == '}' && strict:
			return nil, fmt.Errorf("unmatched } at %d", i)
		default:
			lit.WriteByte(s[i])
			i++
		}
	}
	flush()
	return t, nil
}

// expandEnv replaces ${NAME} references with their values. A variable that
// is unset or empty is an error naming it (never its value).
func (t template) expandEnv(lookup func(string) (string, bool)) (template, error) {
	out := make(template, 0, len(t))
	for _, p := range t {
		if p.env == "" {
			out = append(out, p)
			continue
		}
		v, ok := lookup(p.env)
		if !ok || v == "" {
			return nil, fmt.Errorf("environment variable %s is not set", p.env)
		}
		out = append(out, piece{text: v})
	}
	return out, nil
}

// render fills placeholders with values, escaping each with esc(index of
// the piece, value). Errors name the placeholder, never the value.
func (t template) render(values map[string]string, esc func(i int, v string) string) (string, error) {
	var b strings.Builder
	for i, p := range t {
		switch {
		case p.name != "":
			v, ok := values[p.name]
			if !ok {
				return "", fmt.Errorf("no value for {%s}", p.name)
			}
			if v == "" || v == "." || v == ".." {
				return "", fmt.Errorf("value for {%s} is empty, \".\" or \"..\"", p.name)
			}
			b.WriteString(esc(i, v))
		case p.env != "":
			return "", fmt.Errorf("environment reference ${%s} not expanded", p.env)
		default:
			b.WriteString(p.text)
		}
	}
	return b.String(), nil
}

// placeholders returns the distinct placeholder names, sorted.
func (t template) placeholders() []string {
	seen := map[string]bool{}
	var names []string
	for _, p := range t {
		if p.name != "" && !seen[p.name] {
			seen[p.name] = true
			names = append(names, p.name)
		}
	}
	sort.Strings(names)
	return names
}

// dummyValues gives every placeholder the value "x", for checking a
// template's shape.
func (t template) dummyValues() map[string]string {
	vals := map[string]string{}
	for _, n := range t.placeholders() {
		vals[n] = "x"
	}
	return vals
}
