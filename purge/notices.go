package purge

// forgetNoticesSQL deletes lethe's own rows that hold a subject's key (the
// inactivity job's notices), so that an erased subject leaves nothing
// behind in the lethe schema but its receipt, which holds only the keyed
// hash. The table exists once the ledger is migrated, which a real run does
// before its first batch.
const forgetNoticesSQL = `DELETE FROM lethe.notices WHERE subject_key = ANY($1::text[])`
