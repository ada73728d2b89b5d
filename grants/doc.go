// Package grants works out the least privilege lethe needs: from the policy
// and the live catalog it computes, table by table, what the jobs read,
// update (column by column), delete and lock, and writes it out as a SQL
// script that creates a dedicated role (lethe grants) and as an IAM policy
// for the s3:// locations the policy names. It also warns at start when
// lethe runs with more than that: as a superuser or as the owner of the
// application's tables.
//
// It mirrors the statements of packages purge, retention, inactivity and
// orphans, and resolves tables with package plan as they do; it does not run
// anything, and it grants nothing itself: an administrator runs the script.
package grants
