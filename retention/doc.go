// Package retention is the time-based deletion job: it deletes the rows of
// each table that the policy's retention: rules say are older than their
// retention period: on ordinary tables in short transactions that walk the
// heap in block ranges (TID Range Scans) when many rows are expired, or in
// keyset batches over the (column, key) index when few are; on tables
// range-partitioned on the rule's column (pg_partman's included) by
// dropping whole partitions.
//
// The cutoff of a rule is computed once per run from the database's clock:
// now() - keep. "Older than" is strict: a row whose column equals the cutoff
// is kept, and a NULL is never older than anything. timestamp (without time
// zone) and date columns are read as UTC whatever the server's or the
// session's TimeZone.
//
// It owns the catalog checks of retention rules, the choice of method, the
// batching, partition detaching and the per-table advisory lock that keeps
// concurrent runs apart. It does not parse the policy (package policy) nor decide how a run
// is reported (package jobs).
package retention
