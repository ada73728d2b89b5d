// Package discover finds where a subject's data may live that no foreign
// key declares: columns shaped and named like references to the subject
// (or to a table the purge deletes), columns whose sampled values are
// subject keys whatever their names, and columns that look personal by
// name or by sampled content (e-mail and IP addresses, phone numbers,
// subject keys inside text or JSON).
//
// It only reads: names and types come from the catalog, and each sample is
// one bounded, read-only query (TABLESAMPLE SYSTEM with a row cap) whose
// values are counted by the server and never reach lethe, its logs or its
// errors. Whether a candidate is classified by the policy (a rule, a
// reference, an ignore entry) is the caller's question: see [Classifier].
// It does not own the catalog (package catalog) nor the policy's coverage
// of foreign keys (package plan).
package discover
