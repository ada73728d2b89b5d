// Package orphans is the orphans job: it removes what lost its owner.
//
//   - Organizations (teams, workspaces: any shared entity) with no member
//     left and older than their min_age, with everything the policy lists
//     for them (rows in foreign-key order, children first, the
//     organization row last) and their objects, every version.
//   - Pending invitations whose inviter no longer exists or has requested
//     deletion.
//   - Object prefixes named after a subject key that no subject row holds
//     any more, once their newest version is older than min_age.
//
// Each organization is locked (FOR UPDATE SKIP LOCKED) and checked again
// for members in a later statement of the transaction that removes it: a
// membership committed before the lock is seen and saves the organization,
// and one inserted after it waits on the lock through its foreign key. Its
// objects are removed while the lock is held, before its rows; if any
// cannot be removed, its rows stay and the run exits 1, as in the purge.
//
// It owns the catalog checks of the orphans: section, the planning of an
// organization's tables ([PlanOrganization], which package grants uses
// too) and the batching. It builds that plan with package plan from the
// organization table as the root (plan.BuildFrom), uses package objstore
// to list and remove objects through the router its caller gives, and does
// not parse the policy (package policy) nor own the run's mechanics: stop,
// budget, transactions, retries, locks and the report are its
// jobs.Session's.
package orphans
