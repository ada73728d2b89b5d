// Package purge is the grace-period erasure job: it finds the subjects whose
// deletion request is older than the grace period and erases each of them,
// in batches, everywhere the policy says their data lives.
//
// A subject's erasure is a sequence of steps: its outside data (objects,
// external processors) through the Eraser hooks while lethe holds the
// subject's row lock, then the policy's table steps in plan order, then the
// subject row, then a receipt, all in the batch's one transaction, and a
// verification after commit. A crash anywhere leaves each subject either
// fully erased or untouched. It does not decide the order of the steps
// (package plan does) nor how runs are reported (package jobs).
package purge
