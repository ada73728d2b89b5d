package grants

import (
	"fmt"
	"net/url"
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
