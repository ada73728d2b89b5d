package grants

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/lethe-project/lethe/objstore"
)

// ErrNoS3 is returned by WriteIAM when the policy names no s3:// location.
var ErrNoS3 = errors.New("the policy names no s3:// location: there is no IAM policy to write")

// iamDocument is an AWS IAM policy document.
type iamDocument struct {
	Version   string         `json:"Version"`
	Statement []iamStatement `json:"Statement"`
}

type iamStatement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// s3Buckets groups the fixed key prefixes of the s3:// locations by bucket.
func (g *Grants) s3Buckets() map[string][]string {
	out := map[string][]string{}
	for _, l := range g.Locations {
		if l.Scheme() != objstore.SchemeS3 {
			continue
		}
		root := l.Root()
		prefixes := out[root.Bucket]
		found := false
		for _, p := range prefixes {
			found = found || p == root.Key
		}
		if !found {
			out[root.Bucket] = append(prefixes, root.Key)
		}
	}
	return out
}

// WriteIAM writes an IAM policy that lets lethe list the versions under the
// policy's s3:// prefixes and delete them, and nothing else: no GetObject
// (lethe never reads an object), no PutObject, no other prefix or bucket.
// The two Get*Retention/LegalHold actions only let lethe say why a delete
// was refused (an object lock). With an s3:// erasure journal (Journal),
// two statements more let lethe list, write, read and expire the journal's
// objects under its prefix; with an export: section, the export job's
// statements (exportStatements). It returns ErrNoS3 when there is no
// s3:// location.
func (g *Grants) WriteIAM(w io.Writer) error {
	buckets := g.s3Buckets()
	journal := append(g.journalStatements(), g.exportStatements(buckets)...)
	if len(buckets) == 0 && len(journal) == 0 {
		return ErrNoS3
	}
	names := make([]string, 0, len(buckets))
	for b := range buckets {
		names = append(names, b)
	}
	sort.Strings(names)
	doc := iamDocument{Version: "2012-10-17"}
	for i, b := range names {
		prefixes := buckets[b]
		sort.Strings(prefixes)
		var list []any
		var objects []string
		for _, p := range prefixes {
			list = append(list, iamPattern(p)+"*")
			objects = append(objects, fmt.Sprintf("arn:aws:s3:::%s/%s*", b, iamPattern(p)))
		}
		listing := iamStatement{
			Sid: fmt.Sprintf("LetheListVersions%d", i+1), Effect: "Allow",
			Action:   []string{"s3:ListBucket", "s3:ListBucketVersions"},
			Resource: []string{"arn:aws:s3:::" + b},
		}
		if len(prefixes) > 1 || prefixes[0] != "" {
			listing.Condition = map[string]map[string]any{"StringLike": {"s3:prefix": list}}
		}
		doc.Statement = append(doc.Statement, listing, iamStatement{
			Sid: fmt.Sprintf("LetheDeleteVersions%d", i+1), Effect: "Allow",
			Action:   []string{"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObjectLegalHold", "s3:GetObjectRetention"},
			Resource: objects,
		})
	}
	doc.Statement = append(doc.Statement, journal...)
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// iamPattern escapes the characters IAM reads as wildcards or variables.
func iamPattern(s string) string {
	return strings.NewReplacer("$", "${$}", "*", "${*}", "?", "${?}").Replace(s)
}

// writeFileNotes writes, each line after prefix, what the file://
// locations need of the file system.
func (g *Grants) writeFileNotes(w *errWriter, prefix string) {
	first := true
	for _, l := range g.Locations {
		if l.Scheme() != objstore.SchemeFile {
			continue
		}
		if first {
			w.printf("\n%sfile:// locations: lethe's user (the pod's runAsUser) needs, on each directory below,\n", prefix)
			w.printf("%sread and search (r-x) to list it and write (w) to remove entries, and the same on the\n", prefix)
			w.printf("%ssubjects' directories under it; nothing above it. Mount nothing else writable.\n", prefix)
			first = false
		}
		w.printf("%s  %s  (from %s)\n", prefix, l.Root().Key, l)
	}
}

// WriteFileNotes writes the file-system notes for the file:// locations,
// each line after prefix; nothing when there are none.
func (g *Grants) WriteFileNotes(w io.Writer, prefix string) error {
	ew := &errWriter{w: w}
	g.writeFileNotes(ew, prefix)
	return ew.err
}
