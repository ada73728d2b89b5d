// Package ledger owns lethe's own bookkeeping in the database: the lethe
// schema, its versioned migrations, the record of each run and the receipts
// that show a subject was erased.
//
// Nothing in the ledger holds personal data: subjects appear only as the
// keyed hash of their key. It does not decide what to erase.
package ledger
