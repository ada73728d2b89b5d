// Package outside erases a subject's data outside the database for the
// purge job: the files named by the policy's objects: section ([Objects])
// and the third parties of its processors: section ([Processors]). Both are
// purge.Eraser implementations: the purge calls them while the batch holds
// the subjects' row locks, before their rows are touched, keeps the rows of
// any subject whose outside data is not all confirmed gone, and calls
// Verify after commit.
//
// It owns turning policy entries into erasers ([New]), reading object keys
// from a table's rows in the batch's transaction, and remembering them for
// verification. How objects are listed and deleted (every version and
// delete marker, Object Lock) is objstore's; how a processor is called
// (Idempotency-Key, retries) is processors'. It does not read the
// environment: the caller passes a lookup function for ${NAME} references.
package outside
