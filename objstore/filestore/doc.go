// Package filestore is the file:// backend of [objstore]: subjects' files
// in a local or mounted directory. Files have no versions: each file is one
// [objstore.Object] with an empty VersionID. It owns nothing but removing and
// listing those files; which paths belong to a subject is objstore's.
package filestore
