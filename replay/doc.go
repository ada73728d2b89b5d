// Package replay re-applies the erasure journal to a restored database:
// it reads the journal (package journal), streams the restored subject
// table hashing each key, and re-erases every subject the journal says was
// erased through the purge's own batches (purge.NewReplay), with their
// receipts restored. It owns finding the subjects; erasing them, and what
// a receipt is, belong to package purge.
package replay
