package export

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// defaultExcluded are column names left out of every export whatever the
// policy says: credentials and secrets, which a copy of one's data never
// needs and whose leak would harm the person.
var defaultExcluded = []string{
	"password", "passwd", "pass_crypt", "pass_salt", "salt", "pin",
	"token", "api_key", "apikey", "secret", "private_key",
	"otp", "otp_secret", "totp", "totp_secret", "mfa_secret", "recovery_codes",
}

// excludedByDefault reports whether a column is left out by its name alone:
// one of defaultExcluded, or a name that says password, secret, token,
// salt or crypt.
func excludedByDefault(name string) bool {
	n := strings.ToLower(name)
	if slices.Contains(defaultExcluded, n) {
		return true
	}
	for _, part := range []string{"password", "passwd", "secret"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	for _, suffix := range []string{"_token", "_api_key", "_salt", "_crypt"} {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return strings.HasPrefix(n, "otp_") || strings.HasPrefix(n, "totp_")
}

// projection returns the select list (over alias t) of the included
// columns of t, read in text format, how each is written into JSON, and
// the names of the columns left out.
func projection(t *catalog.Table, ex policy.Export) (list, textList string, cols []outColumn, excluded []string) {
	var exprs, texts []string
	for _, name := range t.ColumnOrder {
		if ex.Excludes(name) || excludedByDefault(name) {
			excluded = append(excluded, name)
			continue
		}
		c := t.Columns[name]
		expr, k := render(c)
		exprs = append(exprs, expr)
		// format's %s is the type's output function, as the text format;
		// a cast to text is not always (boolean, inet, character(n)).
		texts = append(texts, fmt.Sprintf("CASE WHEN (%[1]s) IS NULL THEN NULL ELSE format('%%s', %[1]s) END", expr))
		key, _ := json.Marshal(name)
		cols = append(cols, outColumn{key: append(key, ':'), kind: k})
	}
	return strings.Join(exprs, ", "), strings.Join(texts, ", "), cols, excluded
}

// render returns the expression that reads one column, and how its text
// form goes into JSON. The server writes each value's text form (its type's
// output function, as COPY does: far cheaper than its JSON functions); with TimeZone UTC and
// DateStyle ISO the client turns timestamps into RFC 3339. Timestamps
// without a time zone are read as UTC, bytea goes as base64, numbers that a
// JSON reader could round (bigint, numeric, floats, money) as their exact
// text in a string, json as one-line JSON, arrays as JSON arrays (of the
// types above: as their text form), everything else as its text form.
func render(c *catalog.Column) (string, kind) {
	col := "t." + c.Ident()
	base, array := strings.CutSuffix(c.Type, "[]")
	switch {
	case array && needsText(base):
		return col, asString
	case array:
		return "to_json(" + col + ")", asJSON
	case strings.HasPrefix(base, "timestamp") && strings.HasSuffix(base, "without time zone"):
		return fmt.Sprintf("(%s AT TIME ZONE 'UTC')", col), asTime
	case strings.HasPrefix(base, "timestamp"):
		return col, asTime
	case base == "bytea":
		return fmt.Sprintf("translate(encode(%s, 'base64'), E'\\n', '')", col), asString
	case base == "json":
		return col + "::jsonb", asJSON
	case base == "jsonb" || base == "smallint" || base == "integer":
		return col, asJSON
	case base == "boolean":
		return col, asBool
	}
	return col, asString
}

// needsText reports whether an array of type typ goes as its text form:
// its elements' JSON would not survive a round trip.
func needsText(typ string) bool {
	switch {
	case typ == "smallint" || typ == "integer":
		return false
	case typ == "bigint" || typ == "real" || typ == "double precision" || typ == "money" || typ == "oid":
		return true
	}
	return strings.HasPrefix(typ, "numeric") || typ == "bytea" || strings.HasPrefix(typ, "timestamp") && strings.HasSuffix(typ, "without time zone")
}

// checkExcludes reports a policy export.exclude entry that names no column
// of the table.
func checkExcludes(pol *policy.Policy, t *catalog.Table, ex policy.Export, where string, line int) error {
	for _, id := range ex.Exclude {
		if _, ok := t.Columns[id.Column()]; !ok {
			return &policy.Error{Path: pol.Path, Problems: []policy.Problem{{Line: line,
				Msg: fmt.Sprintf("%s: export.exclude names column %s, which does not exist in table %s", where, id, t)}}}
		}
	}
	return nil
}
