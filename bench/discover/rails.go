package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// association is one belongs_to, has_many or has_one a Rails model
// declares.
type association struct {
	kind                 string // "belongs_to", "has_many" or "has_one"
	name                 string // the association's name (:author)
	model, class, column string // the model's class, the target class, the foreign key column
	polymorphic          bool
	// For has_many and has_one: the options that decide the other
	// table's column (as:, inverse_of:, primary_key:) and through:, which
	// declares no column of its own. class is only class_name: (resolved
	// by readModels' caller, which knows every model), column only
	// foreign_key:.
	as, inverseOf, primaryKey string
	through                   bool
	file                      string
}

var (
	classRE      = regexp.MustCompile(`^\s*class\s+([A-Z]\w*(?:::\w+)*)\s*(?:<\s*([A-Z][\w:]*))?`)
	tableNameRE  = regexp.MustCompile(`self\.table_name\s*=\s*["':](\w+)`)
	belongsRE    = regexp.MustCompile(`^\s*belongs_to\s+:(\w+)(.*)$`)
	updaterRE    = regexp.MustCompile(`^\s*belongs_to_(creator|updater)\b`)
	classNameRE  = regexp.MustCompile(`class_name\s*(?::|=>)\s*["']:*([\w:]+)["']`)
	foreignKeyRE = regexp.MustCompile(`foreign_key\s*(?::|=>)\s*[:"']+(\w+)`)
	polyRE       = regexp.MustCompile(`polymorphic\s*(?::|=>)\s*true`)
	hasRE        = regexp.MustCompile(`^\s*(has_many|has_one)\s+:(\w+)(.*)$`)
	asRE         = regexp.MustCompile(`(?:^|[\s,:])as\s*(?::|=>)\s*:(\w+)`)
	inverseOfRE  = regexp.MustCompile(`inverse_of\s*(?::|=>)\s*:(\w+)`)
	primaryKeyRE = regexp.MustCompile(`primary_key\s*(?::|=>)\s*[:"']+(\w+)`)
	throughRE    = regexp.MustCompile(`through\s*(?::|=>)`)
	assocStartRE = regexp.MustCompile(`^\s*(belongs_to|has_many|has_one)\b`)
	moduleRE     = regexp.MustCompile(`^\s*module\s+([A-Z][\w:]*)\s*$`)
)

// model is one Rails model file's class.
type model struct {
	// class is the full name (Ci::Pipeline), super the superclass as
	// written, nest the modules the class is declared in (Ci).
	class, super, table, ns string
	nest                    []string
}

// resolveClass finds the model a constant written in a class declared in
// nest names, as Ruby looks it up: Ci::User, then User, from inside module
// Ci ("::User" only at the top). It returns "" for a class no model file
// declares (a gem's).
func resolveClass(models map[string]*model, name string, nest []string) string {
	if n, ok := strings.CutPrefix(name, "::"); ok {
		name, nest = n, nil
	}
	for i := len(nest); i >= 0; i-- {
		c := strings.Join(append(append([]string{}, nest[:i]...), name), "::")
		if models[c] != nil {
			return c
		}
	}
	return ""
}

// namespace is a model's module (Spree in Spree::User, or the directory
// under app/models), whose snake name prefixes its table (spree_users).
func namespace(class, path string) string {
	if i := strings.LastIndex(class, "::"); i >= 0 {
		return snake(lastPart(class[:i]))
	}
	dir := filepath.Base(filepath.Dir(path))
	if dir == "models" || dir == "concerns" {
		return ""
	}
	return dir
}

// readModels reads every app/models/**/*.rb under dir: each file's first
// class, its superclass and explicit table name, and its associations:
// belongs_to (and danbooru's belongs_to_creator/updater macros), has_many
// and has_one, each read as one statement even when its options continue
// on the next lines.
func readModels(dir string) (map[string]*model, []association, error) {
	models := map[string]*model{}
	var assocs []association
	err := filepath.WalkDir(filepath.Join(dir, "app", "models"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".rb") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var m *model
		var modules []string
		for _, line := range statements(string(b)) {
			if mod := moduleRE.FindStringSubmatch(line); mod != nil && m == nil {
				modules = append(modules, strings.Split(mod[1], "::")...)
			}
			if c := classRE.FindStringSubmatch(line); c != nil && m == nil {
				parts := append(append([]string{}, modules...), strings.Split(c[1], "::")...)
				full := strings.Join(parts, "::")
				m = &model{class: full, super: c[2], ns: namespace(full, path), nest: parts[:len(parts)-1]}
				models[m.class] = m
			}
			if m == nil {
				continue
			}
			if t := tableNameRE.FindStringSubmatch(line); t != nil {
				m.table = t[1]
			}
			if u := updaterRE.FindStringSubmatch(line); u != nil {
				assocs = append(assocs, association{kind: "belongs_to", name: u[1], model: m.class, class: "User", column: u[1] + "_id", file: path})
				continue
			}
			if a, ok := parseAssociation(m.class, line); ok {
				a.file = path
				assocs = append(assocs, a)
			}
		}
		return nil
	})
	return models, assocs, err
}

// parseAssociation reads one belongs_to, has_many or has_one statement of
// model's class. A composite foreign_key: [a, b] is left out.
func parseAssociation(model, line string) (association, bool) {
	var a association
	var opts string
	if bt := belongsRE.FindStringSubmatch(line); bt != nil {
		a = association{kind: "belongs_to", name: bt[1], model: model, class: camel(bt[1]), column: bt[1] + "_id"}
		opts = bt[2]
		a.polymorphic = polyRE.MatchString(opts)
	} else if h := hasRE.FindStringSubmatch(line); h != nil {
		a = association{kind: h[1], name: h[2], model: model}
		opts = h[3]
		a.through = throughRE.MatchString(opts)
		if o := asRE.FindStringSubmatch(opts); o != nil {
			a.as = o[1]
		}
		if o := inverseOfRE.FindStringSubmatch(opts); o != nil {
			a.inverseOf = o[1]
		}
		if o := primaryKeyRE.FindStringSubmatch(opts); o != nil {
			a.primaryKey = o[1]
		}
		a.class, a.column = "", ""
	} else {
		return a, false
	}
	if c := classNameRE.FindStringSubmatch(opts); c != nil {
		a.class = c[1]
	}
	if f := foreignKeyRE.FindStringSubmatch(opts); f != nil {
		a.column = f[1]
	}
	if strings.Contains(opts, "foreign_key: [") || strings.Contains(opts, "foreign_key => [") {
		return a, false // a composite key
	}
	return a, true
}

// statements splits a Ruby file into lines, joining an association whose
// options continue on the following lines (a line ending in a comma, or
// an open scope block -> { ... }) into one statement. Comment lines are
// dropped, so a commented-out association declares nothing.
func statements(src string) []string {
	var out []string
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if assocStartRE.MatchString(line) {
			for j := 0; j < 12 && continues(line) && i+1 < len(lines); j++ {
				i++
				if next := strings.TrimSpace(lines[i]); !strings.HasPrefix(next, "#") {
					line += " " + next
				}
			}
		}
		out = append(out, line)
	}
	return out
}

// continues reports whether a statement goes on after this line: it ends
// in a comma or a backslash, or opens more brackets than it closes.
func continues(line string) bool {
	code := line
	if i := strings.Index(code, " #"); i >= 0 {
		code = code[:i]
	}
	code = strings.TrimSpace(code)
	if strings.HasSuffix(code, ",") || strings.HasSuffix(code, "\\") {
		return true
	}
	open := strings.Count(code, "(") + strings.Count(code, "{") + strings.Count(code, "[")
	closed := strings.Count(code, ")") + strings.Count(code, "}") + strings.Count(code, "]")
	return open > closed
}

func lastPart(s string) string {
	if i := strings.LastIndex(s, "::"); i >= 0 {
		return s[i+2:]
	}
	return s
}

func camel(s string) string {
	var b strings.Builder
	for _, p := range strings.Split(s, "_") {
		if p != "" {
			b.WriteString(strings.ToUpper(p[:1]) + p[1:])
		}
	}
	return b.String()
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// plural is Rails' table name for a model's snake name, for the common
// cases (entry → entries, status → statuses, user → users, metrics →
// metrics: Rails leaves a word in a single s as it is).
func plural(s string) string {
	for _, irr := range [][2]string{{"person", "people"}, {"child", "children"}, {"man", "men"}} {
		if s == irr[0] || strings.HasSuffix(s, "_"+irr[0]) {
			return strings.TrimSuffix(s, irr[0]) + irr[1]
		}
	}
	switch {
	case strings.HasSuffix(s, "y") && !strings.HasSuffix(s, "ay") && !strings.HasSuffix(s, "ey") && !strings.HasSuffix(s, "oy"):
		return s[:len(s)-1] + "ies"
	case strings.HasSuffix(s, "ss"), strings.HasSuffix(s, "us"), strings.HasSuffix(s, "alias"), strings.HasSuffix(s, "x"),
		strings.HasSuffix(s, "ch"), strings.HasSuffix(s, "sh"):
		return s + "es"
	case strings.HasSuffix(s, "s"):
		return s
	}
	return s + "s"
}

// tableOf returns the table a model's rows live in: its own table_name,
// its pluralized name, or (single-table inheritance) its superclass's.
func tableOf(models map[string]*model, class string, exists func(string) bool) string {
	for i := 0; i < 4; i++ {
		m := models[class]
		if m == nil {
			return ""
		}
		if m.table != "" {
			return m.table
		}
		if t := plural(snake(lastPart(m.class))); exists(t) {
			return t
		}
		if t := m.ns + "_" + plural(snake(lastPart(m.class))); m.ns != "" && exists(t) {
			return t
		}
		class = resolveClass(models, m.super, m.nest)
	}
	return ""
}
