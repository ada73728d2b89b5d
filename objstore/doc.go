// Package objstore owns where a subject's files live outside the database
// and how they are removed: location templates from the policy
// ([ParseLocation], [Location.Resolve]), the [Store] interface that the purge
// and orphans jobs use, and the checks built on it ([Exists], [Usage]).
//
// Backends live in subpackages: s3store (AWS S3 and S3-compatible servers
// such as MinIO, Ceph and R2) and filestore (file:// paths). [Router] sends
// each location to the backend for its scheme.
//
// # Templates
//
// "s3://app-uploads/users/{key}/" names every object under a prefix (the
// template ends in "/"); "s3://avatars/{key}.png" names exactly one object.
// "file:///var/lib/app/uploads/{key}/" and "file:///x/{key}.png" do the same
// on disk. {key} is the subject key; any other {name} is a column of the
// subject's row. Every template needs a placeholder, and a value may not be
// empty, "." or "..", nor hold "/", "\" or control characters, nor make a "."
// or ".." path segment with the template's text, so no subject value can
// turn a location into a bucket root or a parent directory. Dots inside a
// segment ("john..doe") are harmless and allowed.
//
// # Versions
//
// On S3 a delete removes every version and every delete marker, each by its
// VersionId, so that nothing at all remains in a versioned bucket; [Exists]
// checks the same way. A plain (unversioned) DeleteObject would only add a
// delete marker and keep the data.
//
// # Object Lock
//
// A version under S3 Object Lock (a legal hold, or retention that has not
// expired) cannot be deleted, and lethe never bypasses governance retention.
// Such a delete fails: the error wraps [ErrObjectLocked], the rest of the
// location is still removed, and the subject keeps its rows so a later run
// retries. The lock must be lifted, or the retention must run out, by
// whoever placed it; lethe does not pretend the data is gone.
//
// # Personal data
//
// A [Resolved] location and an [Object] key hold subject values. Errors from
// this package and its backends name the template ([Resolved.Template]) and
// never a resolved key or path.
//
// It does not decide which subjects to erase or when, nor talk to the
// database: that is the purge job's. External processors are in processors.
package objstore
