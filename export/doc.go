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
// The archive also holds the subject's files at the policy's objects:
// locations (by subject and named by rows) and each processor's answer to
// its export_url.
//
// RequestJob (lethe --job export) serves access requests the application
// records: an outbox in lethe.exports, archives written to export.to, a
// signed webhook and/or mail with a time-limited link, the request marked
// done with the last notice, and archives deleted at their expiry. Apart
// from marking requests done, it never changes the application's data.
//
// Archives (a purge.Eraser) erases, for the purge, the archives of the
// subjects it erases, with the expiry's own deletion; the purge then
// clears their keys from lethe.exports.
package export
