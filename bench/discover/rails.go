package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// association is one belongs_to a Rails model declares.
type association struct {
	model, class, column string // the model's class, the target class, the foreign key column
	polymorphic          bool
	file                 string
}

var (
	classRE      = regexp.MustCompile(`^\s*class\s+([A-Z]\w*(?:::\w+)*)\s*(?:<\s*([A-Z][\w:]*))?`)
	tableNameRE  = regexp.MustCompile(`self\.table_name\s*=\s*["':](\w+)`)
	belongsRE    = regexp.MustCompile(`^\s*belongs_to\s+:(\w+)(.*)$`)
	updaterRE    = regexp.MustCompile(`^\s*belongs_to_(creator|updater)\b`)
	classNameRE  = regexp.MustCompile(`class_name\s*(?::|=>)\s*["']:*([\w:]+)["']`)
	foreignKeyRE = regexp.MustCompile(`foreign_key\s*(?::|=>)\s*[:"']+(\w+)`)
	polyRE       = regexp.MustCompile(`polymorphic\s*(?::|=>)\s*true`)
)

// model is one Rails model file's class.
type model struct {
	class, super, table, ns string
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
// class, its superclass and explicit table name, and its belongs_to
// associations (and danbooru's belongs_to_creator/updater macros).
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
		for _, line := range strings.Split(string(b), "\n") {
			if c := classRE.FindStringSubmatch(line); c != nil && m == nil {
				m = &model{class: lastPart(c[1]), super: lastPart(c[2]), ns: namespace(c[1], path)}
				models[m.class] = m
			}
			if m == nil {
				continue
			}
			if t := tableNameRE.FindStringSubmatch(line); t != nil {
				m.table = t[1]
			}
			if u := updaterRE.FindStringSubmatch(line); u != nil {
				assocs = append(assocs, association{model: m.class, class: "User", column: u[1] + "_id", file: path})
				continue
			}
			bt := belongsRE.FindStringSubmatch(line)
			if bt == nil {
				continue
			}
			a := association{model: m.class, class: camel(bt[1]), column: bt[1] + "_id", file: path, polymorphic: polyRE.MatchString(bt[2])}
			if c := classNameRE.FindStringSubmatch(bt[2]); c != nil {
				a.class = lastPart(c[1])
			}
			if f := foreignKeyRE.FindStringSubmatch(bt[2]); f != nil {
				a.column = f[1]
			}
			if strings.Contains(bt[2], "foreign_key: [") || strings.Contains(bt[2], "foreign_key => [") {
				continue // a composite key
			}
			assocs = append(assocs, a)
		}
		return nil
	})
	return models, assocs, err
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
// cases (entry → entries, status → statuses, user → users).
func plural(s string) string {
	for _, irr := range [][2]string{{"person", "people"}, {"child", "children"}, {"man", "men"}} {
		if s == irr[0] || strings.HasSuffix(s, "_"+irr[0]) {
			return strings.TrimSuffix(s, irr[0]) + irr[1]
		}
	}
	switch {
	case strings.HasSuffix(s, "y") && !strings.HasSuffix(s, "ay") && !strings.HasSuffix(s, "ey") && !strings.HasSuffix(s, "oy"):
		return s[:len(s)-1] + "ies"
	case strings.HasSuffix(s, "s"), strings.HasSuffix(s, "x"), strings.HasSuffix(s, "ch"), strings.HasSuffix(s, "sh"):
		return s + "es"
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
		if t := plural(snake(m.class)); exists(t) {
			return t
		}
		if t := m.ns + "_" + plural(snake(m.class)); m.ns != "" && exists(t) {
			return t
		}
		class = m.super
	}
	return ""
}
