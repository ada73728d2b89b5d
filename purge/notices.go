package purge

// forgetNoticesSQL deletes lethe's own rows that hold a subject's key (the
// inactivity job's notices), so that an erased subject leaves nothing
// behind in the lethe schema but its receipt, which holds only the keyed
// hash. The table exists once the ledger is migrated, which a real run does
// before its first batch.
const forgetNoticesSQL = `DELETE FROM lethe.notices WHERE subject_key = ANY($1::text[])`

// lockExportsSQL takes ledger.ExportsLock shared until the batch commits,
// before forgetExportsSQL: the export job records no request in between.
const lockExportsSQL = `SELECT pg_advisory_xact_lock_shared($1)`

// forgetExportsSQL reduces the subjects' access requests in lethe.exports
// (the export job's outbox) to what holds no personal data: the key goes,
// the keyed hash (the receipt's own name for the subject) stays, so that
// the request's audit record (received, served or not) outlives the
// person as the receipt does, and so that verification, even a late one
// after a killed run, finds the archive locations by the hash. A request
// not served yet ends as 'gone': the export job never writes its archive
// nor sends its notice. $1 keys, $2 their hashes, $3 the ids whose
// archives the erasers deleted (found, for requests served under an
// earlier hash key, by that key's hash), recorded as expired.
const forgetExportsSQL = `UPDATE lethe.exports e SET subject_key = NULL,
		subject_hash = COALESCE(e.subject_hash, ($2::text[])[array_position($1::text[], e.subject_key)]),
		status = CASE WHEN e.status IN ('pending', 'written') THEN 'gone' ELSE e.status END,
		done_at = COALESCE(e.done_at, now()),
		expired_at = CASE WHEN e.id = ANY($3::uuid[]) THEN COALESCE(e.expired_at, now()) ELSE e.expired_at END,
		last_error = NULL
	WHERE e.subject_key = ANY($1::text[]) OR e.subject_hash = ANY($2::text[]) OR e.id = ANY($3::uuid[])`
