// Package policy reads and checks lethe's policy file: the one description of
// an application's personal data that every job works from.
//
// It owns the file format (strict YAML: unknown keys, duplicate keys and type
// mistakes are errors with line numbers) and the checks that need nothing but
// the file. Checks against the live database catalog live in package plan;
// the jobs that act on the policy live in their own packages.
package policy
