package main

import (
	"fmt"
	"regexp"
	"strings"
)

// bq is MySQL's identifier quote.
const bq = "`"

var (
	myCreateRE = regexp.MustCompile("^CREATE TABLE " + bq + `([^` + bq + `]+)` + bq + ` \($`)
	myColumnRE = regexp.MustCompile(`^\s*` + bq + `([^` + bq + `]+)` + bq + ` (\w+)(\([^)]*\))?( unsigned)?(.*?),?$`)
	myPKRE     = regexp.MustCompile(`^\s*PRIMARY KEY \(([^)]*)\)`)
	myFKRE     = regexp.MustCompile(`FOREIGN KEY \(` + bq + `([^` + bq + `]+)` + bq + `\) REFERENCES ` + bq + `([^` + bq + `]+)` + bq + ` \(` + bq + `([^` + bq + `]+)` + bq + `\)`)
)

var myTypes = map[string]string{
	"varchar": "text", "char": "text", "text": "text", "mediumtext": "text", "longtext": "text", "tinytext": "text",
	"int": "integer", "integer": "integer", "smallint": "smallint", "mediumint": "integer", "bigint": "bigint",
	"datetime": "timestamp", "timestamp": "timestamp", "date": "date", "time": "time", "decimal": "numeric",
	"float": "double precision", "double": "double precision", "binary": "bytea", "varbinary": "bytea",
	"blob": "bytea", "mediumblob": "bytea", "longblob": "bytea", "json": "jsonb", "enum": "text", "set": "text",
}

// mysqlDump turns a MySQL structure dump (mysqldump --no-data) into
// PostgreSQL DDL: tables, columns with types and NOT NULL, primary keys,
// foreign keys. tinyint(1) is boolean, other tinyints smallint.
func mysqlDump(src string) string {
	var b, fks strings.Builder
	table := ""
	var cols []string
	for _, line := range strings.Split(src, "\n") {
		if m := myCreateRE.FindStringSubmatch(line); m != nil {
			table, cols = m[1], nil
			continue
		}
		if table == "" {
			continue
		}
		if strings.HasPrefix(line, ")") {
			fmt.Fprintf(&b, "CREATE TABLE %q (%s);\n", table, strings.Join(cols, ", "))
			table = ""
			continue
		}
		if m := myPKRE.FindStringSubmatch(line); m != nil {
			cols = append(cols, "PRIMARY KEY ("+strings.ReplaceAll(m[1], "`", `"`)+")")
			continue
		}
		if m := myFKRE.FindStringSubmatch(line); m != nil {
			fmt.Fprintf(&fks, "ALTER TABLE %q ADD FOREIGN KEY (%q) REFERENCES %q (%q);\n", table, m[1], m[2], m[3])
			continue
		}
		if m := myColumnRE.FindStringSubmatch(line); m != nil {
			typ, ok := myTypes[m[2]]
			if m[2] == "tinyint" {
				typ, ok = "smallint", true
				if m[3] == "(1)" {
					typ = "boolean"
				}
			}
			if !ok {
				typ = "text"
			}
			col := fmt.Sprintf("%q %s", m[1], typ)
			if strings.Contains(m[5], "NOT NULL") {
				col += " NOT NULL"
			}
			cols = append(cols, col)
		}
	}
	return b.String() + fks.String()
}
