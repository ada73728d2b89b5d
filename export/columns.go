package export

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lethe-project/lethe/plan"
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

// projection returns the select list (over alias t) that renders the
// included columns of t so that row_to_json gives types that survive a
// round trip, and the names of the columns left out.
func projection(t *plan.Table, ex policy.Export) (list string, excluded []string) {
	var cols []string
	for _, name := range t.ColumnOrder {
		if ex.Excludes(name) || excludedByDefault(name) {
			excluded = append(excluded, name)
			continue
		}
		c := t.Columns[name]
		cols = append(cols, render(c)+" AS "+c.Ident())
	}
	return strings.Join(cols, ", "), excluded
}

// render returns the expression for one column. With TimeZone UTC,
// row_to_json writes timestamptz in RFC 3339 (offset +00:00); the rest is
// fixed here: timestamps without a time zone are read as UTC, bytea goes as
// base64, numbers that a JSON reader could round (bigint, numeric, floats,
// money) go as their exact text, json is normalized to one line, and arrays
// of those as their text form.
func render(c *plan.Column) string {
	col := "t." + c.Ident()
	base, array := strings.CutSuffix(c.Type, "[]")
	switch {
	case array && needsText(base):
		return col + "::text"
	case strings.HasPrefix(base, "timestamp") && strings.HasSuffix(base, "without time zone"):
		return fmt.Sprintf("(%s AT TIME ZONE 'UTC')", col)
	case base == "bytea":
		return fmt.Sprintf("translate(encode(%s, 'base64'), E'\\n', '')", col)
	case base == "json":
		return col + "::jsonb"
	case needsText(base):
		return col + "::text"
	}
	return col
}

// needsText reports whether row_to_json would render values of type typ in
// a form that does not survive a round trip as a JSON number.
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
func checkExcludes(pol *policy.Policy, t *plan.Table, ex policy.Export, where string, line int) error {
	for _, id := range ex.Exclude {
		if _, ok := t.Columns[id.Column()]; !ok {
			return &policy.Error{Path: pol.Path, Problems: []policy.Problem{{Line: line,
				Msg: fmt.Sprintf("%s: export.exclude names column %s, which does not exist in table %s", where, id, t)}}}
		}
	}
	return nil
}
