// Package inactivity owns the storage-limitation job (GDPR Art. 5(1)(e)):
// it warns subjects who have been inactive for the policy's inactivity.after,
// once per period of inactivity, and hands those still inactive
// inactivity.warn after the warning to the purge by setting the subject's
// requested_at column. A subject who comes back is never handed on.
//
// Warnings are recorded as notices in lethe's schema (lethe.notices) before
// they are delivered, by a signed webhook and/or a mail, and marked sent
// after: a crash in between resends with the same identity (Idempotency-Key,
// Message-ID) and never a third time.
//
// It does not erase anything: the purge does that, after its own grace
// period, and deletes the subject's notices in the same transaction.
package inactivity
