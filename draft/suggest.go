package draft

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// Rule is one suggested tables: rule.
type Rule struct {
	// Table and Match are the rule's table and match column.
	Table *catalog.Table
	Match string
	// Columns lists the columns of a multi-column key into the subject
	// table, written as match: [a, b]; nil otherwise.
	Columns []string
	// Via is the parent table through which the rows reach the subject;
	// nil for a direct match.
	Via *catalog.Table
	// Action is delete, anonymize or keep.
	Action policy.Action
	// Set lists the columns to replace, column → YAML value, in order.
	Set [][2]string
	// Basis is the placeholder legal basis of a keep rule.
	Basis string
	// Review says what a person must decide about the rule.
	Review string
}

// keptNames are table names whose rows the law often requires to keep
// (invoices, payments, audit trails): their rules are keep, with a basis:
// placeholder.
var keptNames = regexp.MustCompile(`invoice|payment|billing|receipt|transaction|ledger|tax|refund|charge|audit`)

// BasisPlaceholder is the basis: a draft writes for kept rows.
const BasisPlaceholder = "TODO: the legal basis for keeping these rows (e.g. Art. 6(1)(c) GDPR and the law that requires them)"

// Suggest returns the rule for rows of t whose column col refers to a row
// that the purge removes: fk is the foreign key (nil for a reference
// without one), via the parent when it is not the subject table.
func Suggest(t *catalog.Table, col string, fk *catalog.FK, via *catalog.Table) Rule {
	c := t.Columns[col]
	r := Rule{Table: t, Match: col, Via: via}
	nullable := c != nil && !c.NotNull
	onDelete := "no foreign key"
	if fk != nil {
		onDelete = fk.OnDeleteText()
	}
	switch {
	case fk != nil && fk.OnDelete == "c":
		r.Action = policy.Delete
		r.Review = fmt.Sprintf("%s: these rows go with the parent anyway", onDelete)
	case keptNames.MatchString(strings.ToLower(t.Name)) && nullable:
		r.Action, r.Basis = policy.Keep, BasisPlaceholder
		r.Set = [][2]string{{col, "null"}}
		r.Review = "kept as a record the law may require; write its basis, or delete"
	case fk != nil && (fk.OnDelete == "n" || fk.OnDelete == "d") && nullable:
		r.Action = policy.Anonymize
		r.Set = [][2]string{{col, "null"}}
		r.Review = fmt.Sprintf("%s: the rows stay, unlinked; delete them if they are the person's own", onDelete)
	case nullable && !ownsRows(col):
		r.Action = policy.Anonymize
		r.Set = [][2]string{{col, "null"}}
		r.Review = fmt.Sprintf("%s, nullable: the rows stay, unlinked; delete them if they are the person's own", onDelete)
	default:
		r.Action = policy.Delete
		r.Review = fmt.Sprintf("%s, %s: the rows are the person's own; anonymize or keep them instead if others rely on them", onDelete, nullText(c))
	}
	return r
}

func nullText(c *catalog.Column) string {
	if c != nil && c.NotNull {
		return "NOT NULL"
	}
	return "nullable"
}

// ownsRows reports whether a column's name says the row belongs to the
// person (user_id, owner_id) rather than records an action of theirs
// (closed_by_id, assignee_id).
func ownsRows(col string) bool {
	switch strings.ToLower(col) {
	case "user_id", "owner_id", "account_id", "person_id", "userid", "user_uuid", "member_id", "profile_id", "customer_id":
		return true
	}
	return false
}

// YAMLName writes a table or column name as a policy names it: quoted for
// SQL where it must be, and then quoted for YAML.
func YAMLName(sqlName string) string {
	if strings.ContainsAny(sqlName, `"':#{}[],&*!|>%@`+"`") || sqlName == "" {
		return "'" + strings.ReplaceAll(sqlName, "'", "''") + "'"
	}
	return sqlName
}

// TableName is t as a policy names it.
func TableName(t *catalog.Table) string { return YAMLName(t.String()) }

// ColumnName is a column as a policy names it.
func ColumnName(col string) string {
	if strings.ToLower(col) != col || strings.ContainsAny(col, ` ."-`) {
		return YAMLName(`"` + strings.ReplaceAll(col, `"`, `""`) + `"`)
	}
	return YAMLName(col)
}

// OneLine writes the rule as one YAML flow mapping, for lethe check's
// suggestions.
func (r Rule) OneLine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "{table: %s, match: %s", TableName(r.Table), r.MatchText())
	if r.Via != nil {
		fmt.Fprintf(&b, ", via: %s", TableName(r.Via))
	}
	fmt.Fprintf(&b, ", action: %s", r.Action)
	if len(r.Set) > 0 {
		var parts []string
		for _, s := range r.Set {
			parts = append(parts, ColumnName(s[0])+": "+s[1])
		}
		fmt.Fprintf(&b, ", set: {%s}", strings.Join(parts, ", "))
	}
	if r.Basis != "" {
		fmt.Fprintf(&b, ", basis: %q", r.Basis)
	}
	b.WriteString("}")
	return b.String()
}

// IgnoreLine writes an ignore: entry for t (and col when not "") as one
// YAML flow mapping.
func IgnoreLine(t *catalog.Table, col, reason string) string {
	if col == "" {
		return fmt.Sprintf("{table: %s, reason: %q}", TableName(t), reason)
	}
	return fmt.Sprintf("{table: %s, column: %s, reason: %q}", TableName(t), ColumnName(col), reason)
}

// MatchText writes the rule's match: its column, or [a, b] for the
// columns of a multi-column key.
func (r Rule) MatchText() string {
	if len(r.Columns) == 0 {
		return ColumnName(r.Match)
	}
	var parts []string
	for _, c := range r.Columns {
		parts = append(parts, ColumnName(c))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
