// Package plan checks a policy against the catalog (package catalog) and turns it
// into an ordered list of set-based steps.
//
// It owns the coverage rules (every table with a foreign key to the subject
// table, or to a table whose rows the policy deletes, is covered by a rule or
// ignored with a reason), the execution order (children before parents,
// tables reached through "via" before the table they go through, the subject
// row last) and the SQL each step runs. Identifiers are quoted with
// pgx.Identifier and values are always parameters. It does not run the
// steps: package purge does.
package plan
