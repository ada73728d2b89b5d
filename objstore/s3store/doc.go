// Package s3store is the s3:// backend of [objstore]: AWS S3 and
// S3-compatible servers (MinIO, Ceph, R2).
//
// The client is built the standard way ([NewClient]): config.LoadDefaultConfig
// supplies region and credentials (environment keys, web identity / IRSA,
// shared files, instance and task roles), and [Config] adds an endpoint
// override and path-style addressing for self-hosted servers. The package
// never reads the environment itself.
//
// Listing uses ListObjectVersions page by page, so versioned and unversioned
// buckets are handled alike and memory stays flat. Deleting sends
// DeleteObjects in groups of 1000 with each VersionId, turns per-key Errors
// into a [*DeleteError], and lists once more to confirm nothing is left.
// Requests are retried by the SDK's standard retryer, bounded by
// Config.MaxAttempts and Config.MaxBackoff: 5xx answers including 503
// SlowDown, throttling codes, attempt timeouts and dropped or reset
// connections.
//
// Object Lock is never bypassed: a version under legal hold or unexpired
// retention stays, and the error wraps [objstore.ErrObjectLocked]. MinIO
// says so in its error; AWS answers a bare AccessDenied, after which the
// store asks GetObjectLegalHold and GetObjectRetention to tell a lock from a
// missing permission.
//
// Errors name the location template, never a key: keys hold subject values.
package s3store
