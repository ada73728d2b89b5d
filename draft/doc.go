// Package draft writes a draft policy from a live catalog (lethe init): the
// subject table's reference graph, direct and through via:, an action per
// table suggested by the foreign key's ON DELETE and the column's
// nullability, the references discovery found, basis: placeholders for
// kept rows, and a "# review" comment on every choice a person must make.
// It also renders the one-line suggestions lethe check prints. It does not
// find candidates (package discover) nor check a policy (package plan).
package draft
