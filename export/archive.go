package export

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// FormatVersion is the archive format's version, in the manifest.
const FormatVersion = 1

// Manifest describes an archive; it is manifest.json, the archive's last
// entry. It holds the subject's keyed hash, never its key.
type Manifest struct {
	// Format is FormatVersion.
	Format int `json:"format"`
	// ExportedAt is the time of the snapshot the rows were read from, UTC.
	ExportedAt time.Time `json:"exported_at"`
	// PolicySHA256 is the hex SHA-256 of the policy file.
	PolicySHA256 string `json:"policy_sha256"`
	// SubjectHash is the subject's keyed hash (LETHE_SUBJECT_HASH_KEY).
	SubjectHash string `json:"subject_hash"`
	// Tables lists the files, one per step of the policy, the subject's
	// own row first.
	Tables []TableEntry `json:"tables"`
	// Objects lists the subject's files under files/.
	Objects []ObjectEntry `json:"objects,omitempty"`
	// Processors lists the processors' copies under processors/.
	Processors []ProcessorEntry `json:"processors,omitempty"`
}

// TableEntry describes one JSON Lines file: the rows one step of the
// policy reaches for the subject, and what erasure does with them.
type TableEntry struct {
	// File is the entry's name in the archive.
	File string `json:"file"`
	// Table names the table as lethe's reports do (the public schema left
	// out, quoted where SQL would need quotes).
	Table string `json:"table"`
	// Schema and Name are the table's schema and name as they are.
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// Category is what erasure does with these rows: delete, anonymize,
	// keep (with Basis), or cascade (deleted by ON DELETE CASCADE).
	Category string `json:"category"`
	// Basis is the legal basis of a keep rule.
	Basis string `json:"basis,omitempty"`
	// Match is the column that ties the rows to the subject.
	Match string `json:"match"`
	// Via names the table through which the rows reach the subject.
	Via string `json:"via,omitempty"`
	// ForeignKey is the constraint a cascade follows.
	ForeignKey string `json:"foreign_key,omitempty"`
	// Subject is true for the subject's own row.
	Subject bool `json:"subject,omitempty"`
	// Excluded lists the columns left out (policy export.exclude and the
	// default list of secret-looking names).
	Excluded []string `json:"excluded_columns,omitempty"`
	// PolicyLine is the policy line of the rule.
	PolicyLine int `json:"policy_line,omitempty"`
	// Rows is the number of lines in File.
	Rows int64 `json:"rows"`
}

// Destination is where an archive goes: a file, written as Path+".tmp" and
// renamed once complete; s3://bucket/prefix/, uploaded in parts as
// prefix/SUBJECT_HASH.zip, which appears only when the upload completes;
// or, without Path, Writer (standard output). A failure leaves no half
// archive at a file or an s3:// destination.
type Destination struct {
	// Path is the archive file, or an s3:// URL.
	Path string
	// Writer receives the archive when Path is empty.
	Writer io.Writer
	// S3 is the client of an s3:// Path.
	S3 S3API
	// Name, when set, is the archive's name under an s3:// prefix instead
	// of SUBJECT_HASH.zip.
	Name string
}

// Kind names the destination for the audit record, without the path.
func (d Destination) Kind() string {
	switch {
	case strings.HasPrefix(d.Path, "s3://"):
		return "s3"
	case d.Path != "":
		return "file"
	}
	return "stdout"
}

// check finds what is wrong with the destination before anything is read.
func (d Destination) check() error {
	switch {
	case d.Kind() == "s3":
		if _, _, err := ParseS3(d.Path); err != nil {
			return err
		}
		if d.S3 == nil {
			return errNoS3
		}
	case d.Path == "" && d.Writer == nil:
		return errors.New("export: no destination")
	}
	return nil
}

// sink is an opened destination.
type sink interface {
	io.Writer
	// publish makes the complete archive visible.
	publish() error
	// discard removes what was written of an unfinished archive.
	discard()
}

// open opens the destination for the archive of the subject with hash.
func (d Destination) open(ctx context.Context, hash string) (sink, error) {
	switch d.Kind() {
	case "s3":
		bucket, prefix, err := ParseS3(d.Path)
		if err != nil {
			return nil, err
		}
		name := hash + ".zip"
		if d.Name != "" {
			name = d.Name
		}
		return openS3(ctx, d.S3, bucket, prefix+name)
	case "stdout":
		return stream{d.Writer}, nil
	}
	// The archive holds personal data: only its owner may read it.
	f, err := os.OpenFile(d.Path+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create archive: %w", err)
	}
	return &fileOutput{file: f, path: d.Path}, nil
}

// stream is standard output: what was written cannot be taken back.
type stream struct{ io.Writer }

func (stream) publish() error { return nil }
func (stream) discard()       {}

// fileOutput is an archive file being written under its temporary name.
type fileOutput struct {
	file *os.File
	path string
}

func (o *fileOutput) Write(p []byte) (int, error) { return o.file.Write(p) }

// publish makes a complete archive visible at its path.
func (o *fileOutput) publish() error {
	if err := o.file.Sync(); err != nil {
		o.discard()
		return fmt.Errorf("write archive: %w", err)
	}
	if err := o.file.Close(); err != nil {
		o.discard()
		return fmt.Errorf("write archive: %w", err)
	}
	if err := os.Rename(o.file.Name(), o.path); err != nil {
		_ = os.Remove(o.file.Name())
		return fmt.Errorf("publish archive: %w", err)
	}
	return nil
}

// discard removes an unfinished archive file.
func (o *fileOutput) discard() {
	_ = o.file.Close()
	_ = os.Remove(o.file.Name())
}

// archive is a zip stream: entries are written as their data comes, with
// sizes after the data, so nothing is held in memory.
type archive struct {
	zw *zip.Writer
	at time.Time
}

func (a *archive) create(name string) (io.Writer, error) {
	w, err := a.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: a.at})
	if err != nil {
		return nil, fmt.Errorf("write archive: %w", err)
	}
	return w, nil
}

// finish writes the manifest and the archive's directory.
func (a *archive) finish(m *Manifest) error {
	w, err := a.create("manifest.json")
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	if err := a.zw.Close(); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	return nil
}
