// Package journal keeps the erasure journal: a copy of every committed
// erasure receipt outside the application's database, so that a restore of
// that database (which rolls lethe's own receipts back with it) cannot make
// lethe forget whom it erased.
//
// The journal is an append-only series of immutable objects under an
// object-storage prefix (s3://bucket/prefix/) or in a directory
// (file:///dir/), one object per batch of receipts, named by the time it was
// written so that listing from a time on is cheap. An entry holds only what
// a receipt holds: the subject's keyed hash, never its key nor any value of
// its rows. The Outbox moves committed receipts into the journal and marks
// them journaled once the object is confirmed. Package replay reads it back
// after a restore. It does not erase anything itself.
package journal
