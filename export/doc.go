// Package export is the right of access and data portability (GDPR Art. 15
// and 20) from the same policy as erasure: lethe export --subject KEY reads,
// in one read-only REPEATABLE READ transaction, every row the policy's
// rules reach for one subject (direct match, via, rows that would go by ON
// DELETE CASCADE, and the subject's own row) and streams them into a zip
// archive: one JSON Lines file per step and a manifest.json that gives each
// file's row count and legal category.
//
// It reads exactly the rows the purge would delete, anonymize or keep: the
// queries come from the purge's plan (plan.Step.SelectSQL), not from a
// second reading of the policy. Columns that must never leave (password
// hashes, tokens, secrets) are left out by a default list of names and the
// policy's export.exclude. Every export is recorded as a run of job
// "export" in lethe's schema, with the subject's keyed hash and the row
// counts, never the key.
//
// It does not export objects or processors' copies, nor serve requests
// recorded by the application (a job for later); it never changes the
// application's data.
package export
