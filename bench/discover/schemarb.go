package main

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	createTableRE = regexp.MustCompile(`^\s*create_table\s+"([^"]+)"(.*)do\s*\|t\|`)
	columnRE      = regexp.MustCompile(`^\s*t\.(\w+)\s+"([^"]+)"(.*)$`)
	foreignKeyRBR = regexp.MustCompile(`^\s*add_foreign_key\s+"([^"]+)",\s*"([^"]+)"(.*)$`)
	optColumnRE   = regexp.MustCompile(`column:\s*"(\w+)"`)
	optPKRE       = regexp.MustCompile(`primary_key:\s*"(\w+)"`)
	optIDRE       = regexp.MustCompile(`id:\s*(:\w+|false)`)
	optOnDeleteRE = regexp.MustCompile(`on_delete:\s*:(\w+)`)
)

var rbTypes = map[string]string{
	"string": "text", "text": "text", "citext": "text", "integer": "integer", "bigint": "bigint", "boolean": "boolean",
	"datetime": "timestamp", "timestamp": "timestamp", "timestamptz": "timestamptz", "date": "date", "time": "time",
	"decimal": "numeric", "float": "double precision", "json": "json", "jsonb": "jsonb", "uuid": "uuid",
	"binary": "bytea", "inet": "inet", "cidr": "cidr", "enum": "text", "interval": "interval", "hstore": "text",
}

// schemaRB turns a Rails db/schema.rb into PostgreSQL DDL: tables, columns
// with their types and NOT NULL, primary keys and foreign keys. Indexes,
// enums, views and functions are left out.
func schemaRB(src string) string {
	var b, fks strings.Builder
	open := false
	for _, line := range strings.Split(src, "\n") {
		if m := createTableRE.FindStringSubmatch(line); m != nil {
			opts := m[2]
			fmt.Fprintf(&b, "CREATE TABLE %q (", m[1])
			pkType, pk := "bigint", "id"
			if o := optIDRE.FindStringSubmatch(opts); o != nil {
				pkType = map[string]string{":uuid": "uuid", ":integer": "integer", ":serial": "integer", ":string": "text", ":bigint": "bigint", "false": ""}[o[1]]
			}
			if o := optPKRE.FindStringSubmatch(opts); o != nil {
				pk = o[1]
			}
			if pkType != "" {
				fmt.Fprintf(&b, "%q %s PRIMARY KEY", pk, pkType)
			} else {
				b.WriteString("lethe_bench_rowid bigint")
			}
			open = true
			continue
		}
		if open && strings.TrimSpace(line) == "end" {
			b.WriteString(");\n")
			open = false
			continue
		}
		if m := columnRE.FindStringSubmatch(line); open && m != nil {
			kind, name, opts := m[1], m[2], m[3]
			switch kind {
			case "index", "check_constraint", "timestamps":
				continue
			case "references", "belongs_to":
				fmt.Fprintf(&b, ", %q bigint", name+"_id")
				if strings.Contains(opts, "polymorphic: true") {
					fmt.Fprintf(&b, ", %q text", name+"_type")
				}
				continue
			}
			typ, ok := rbTypes[kind]
			if !ok {
				typ = "text"
			}
			if strings.Contains(opts, "array: true") {
				typ += "[]"
			}
			fmt.Fprintf(&b, ", %q %s", name, typ)
			if strings.Contains(opts, "null: false") {
				b.WriteString(" NOT NULL")
			}
			continue
		}
		if m := foreignKeyRBR.FindStringSubmatch(line); m != nil {
			col := singularRB(m[2]) + "_id"
			if o := optColumnRE.FindStringSubmatch(m[3]); o != nil {
				col = o[1]
			}
			pk := "id"
			if o := optPKRE.FindStringSubmatch(m[3]); o != nil {
				pk = o[1]
			}
			del := ""
			if o := optOnDeleteRE.FindStringSubmatch(m[3]); o != nil {
				del = map[string]string{"cascade": " ON DELETE CASCADE", "nullify": " ON DELETE SET NULL", "restrict": " ON DELETE RESTRICT"}[o[1]]
			}
			fmt.Fprintf(&fks, "ALTER TABLE %q ADD FOREIGN KEY (%q) REFERENCES %q (%q)%s;\n", m[1], col, m[2], pk, del)
		}
	}
	return b.String() + fks.String()
}

func singularRB(s string) string {
	for _, irr := range [][2]string{{"person", "people"}, {"child", "children"}, {"man", "men"}} {
		if s == irr[1] || strings.HasSuffix(s, "_"+irr[1]) {
			return strings.TrimSuffix(s, irr[1]) + irr[0]
		}
	}
	switch {
	case strings.HasSuffix(s, "ies"):
		return s[:len(s)-3] + "y"
	case strings.HasSuffix(s, "sses"), strings.HasSuffix(s, "xes"), strings.HasSuffix(s, "ches"), strings.HasSuffix(s, "shes"):
		return s[:len(s)-2]
	case strings.HasSuffix(s, "s"):
		return s[:len(s)-1]
	}
	return s
}
