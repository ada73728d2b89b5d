// Package retention is the time-based deletion job: it deletes the rows of
// each table that the policy's retention: rules say are older than their
// retention period, in short keyset batches on ordinary tables and by
// dropping whole partitions of tables range-partitioned on the rule's
// column (pg_partman's included).
//
// The cutoff of a rule is computed once per run from the database's clock:
// now() - keep. "Older than" is strict: a row whose column equals the cutoff
// is kept, and a NULL is never older than anything. timestamp (without time
// zone) and date columns are read as UTC whatever the server's or the
// session's TimeZone.
//
// It owns the catalog checks of retention rules, the batching, partition
// detaching and the per-table advisory lock that keeps concurrent runs
// apart. It does not parse the policy (package policy) nor decide how a run
// is reported (package jobs).
package retention
