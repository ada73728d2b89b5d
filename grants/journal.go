package grants

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// journalStatements are what lethe needs of the erasure journal's prefix
// (LETHE_JOURNAL, when it is s3://): list it, write new objects, read them
// back (lethe replay) and delete those past the journal's retention.
// Nothing when the journal is not in S3.
func (g *Grants) journalStatements() []iamStatement {
	u, err := url.Parse(g.Journal)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil
	}
	prefix := iamPattern(strings.TrimPrefix(u.Path, "/"))
	list := iamStatement{
		Sid: "LetheJournalList", Effect: "Allow",
		Action: []string{"s3:ListBucket"}, Resource: []string{"arn:aws:s3:::" + u.Host},
	}
	if prefix != "" {
		list.Condition = map[string]map[string]any{"StringLike": {"s3:prefix": []any{prefix + "*"}}}
	}
	return []iamStatement{list, {
		Sid: "LetheJournalObjects", Effect: "Allow",
		Action:   []string{"s3:PutObject", "s3:GetObject", "s3:DeleteObject"},
		Resource: []string{fmt.Sprintf("arn:aws:s3:::%s/%s*", u.Host, prefix)},
	}}
}

// exportStatements are what the export job needs of object storage: read
// the current objects under the policy's s3:// locations (an archive holds
// the subject's files) and, under export.to, write archives, read them
// (their presigned links are signed with lethe's credentials) and delete
// every version of an expired one. Nothing without an export: section.
func (g *Grants) exportStatements(buckets map[string][]string) []iamStatement {
	if g.ExportTo == "" {
		return nil
	}
	var out []iamStatement
	var read []string
	for b, prefixes := range buckets {
		for _, p := range prefixes {
			read = append(read, fmt.Sprintf("arn:aws:s3:::%s/%s*", b, iamPattern(p)))
		}
	}
	if len(read) > 0 {
		sort.Strings(read)
		out = append(out, iamStatement{Sid: "LetheExportReadFiles", Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: read})
	}
	u, err := url.Parse(g.ExportTo)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return out
	}
	prefix := iamPattern(strings.TrimPrefix(u.Path, "/"))
	list := iamStatement{
		Sid: "LetheExportList", Effect: "Allow",
		Action: []string{"s3:ListBucket", "s3:ListBucketVersions"}, Resource: []string{"arn:aws:s3:::" + u.Host},
	}
	if prefix != "" {
		list.Condition = map[string]map[string]any{"StringLike": {"s3:prefix": []any{prefix + "*"}}}
	}
	return append(out, list, iamStatement{
		Sid: "LetheExportArchives", Effect: "Allow",
		Action:   []string{"s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion"},
		Resource: []string{fmt.Sprintf("arn:aws:s3:::%s/%s*", u.Host, prefix)},
	})
}
