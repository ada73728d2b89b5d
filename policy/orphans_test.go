package policy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/policy"
)

const orphansPolicy = `subject:
  table: users
  key: id
  requested_at: deleted_at
  grace: 30d
orphans:
  organizations:
    - table: organizations
      key: id
      members: {table: memberships, match: org_id}
      created_at: created_at
      min_age: 1d
      tables:
        - {table: notes, match: org_id, action: delete}
        - {table: invoices, match: org_id, action: keep, basis: tax law, set: {org_name: null}}
      ignore:
        - {table: audit, reason: cascades}
      objects: ["s3://org-files/orgs/{key}/"]
  invites:
    - {table: invites, inviter: invited_by, pending: {accepted_at: null}}
  objects:
    - {location: "s3://app-uploads/users/{key}/", min_age: 1d}
    - {location: "s3://avatars/{key}.png", min_age: 2h}
`

func TestOrphansParse(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte(orphansPolicy), "test.yaml")
	require.NoError(t, err)
	o := p.Orphans
	require.NotNil(t, o)
	require.Equal(t, 6, o.Line)
	org := o.Organizations[0]
	require.Equal(t, 8, org.Line)
	require.Equal(t, "memberships", org.Members.Table.Column())
	require.Equal(t, 24*time.Hour, time.Duration(org.MinAge))
	require.Equal(t, 14, org.Tables[0].Line)
	require.Equal(t, 15, org.Tables[1].Line)
	require.Equal(t, 17, org.Ignore[0].Line)
	require.Equal(t, []string{"s3://org-files/orgs/{key}/"}, org.Objects)
	require.Equal(t, 20, o.Invites[0].Line)
	require.Equal(t, "accepted_at", o.Invites[0].Pending[0].Column.Column())
	require.Equal(t, 22, o.Objects[0].Line)
	require.Equal(t, 2*time.Hour, time.Duration(o.Objects[1].MinAge))
}

func TestOrphansProblemsHaveLines(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, yaml, want string }{
		{"empty section", "orphans: {}\n", "line 6: orphans: needs organizations:, invites: or objects:"},
		{"unknown key", "orphans:\n  invites:\n    - {table: invites, inviter: by, pending: {a: null}, bogus: 1}\n",
			`unknown key "bogus" in an orphans: invites: rule`},
		{"missing fields", "orphans:\n  organizations:\n    - table: orgs\n", "line 8: orphans: organization orgs needs key"},
		{"no min_age", "orphans:\n  organizations:\n    - {table: orgs, key: id, created_at: c, members: {table: m, match: o}}\n",
			"line 8: orphans: organization orgs needs min_age"},
		{"bad rule", "orphans:\n  organizations:\n    - table: orgs\n      key: id\n      created_at: c\n      min_age: 1d\n      members: {table: m, match: o}\n      tables:\n        - {table: notes, match: org_id}\n",
			"line 14: rule for notes needs action"},
		{"pseudonym", "orphans:\n  organizations:\n    - table: orgs\n      key: id\n      created_at: c\n      min_age: 1d\n      members: {table: m, match: o}\n      tables:\n        - {table: notes, match: org_id, action: anonymize, set: {name: {pseudonym: x}}}\n",
			"pseudonyms are for subjects"},
		{"org row itself", "orphans:\n  organizations:\n    - table: orgs\n      key: id\n      created_at: c\n      min_age: 1d\n      members: {table: m, match: o}\n      tables:\n        - {table: orgs, match: id, action: delete}\n",
			"must not name the organization row itself"},
		{"no pending", "orphans:\n  invites:\n    - {table: invites, inviter: by}\n", "line 8: orphans: invites invites needs pending"},
		{"two placeholders", "orphans:\n  objects:\n    - {location: \"s3://b/{key}/{name}/\", min_age: 1d}\n", "{key} must be the only placeholder"},
		{"nested key", "orphans:\n  objects:\n    - {location: \"s3://b/{key}/files/\", min_age: 1d}\n", "must be followed by"},
		{"objects no age", "orphans:\n  objects:\n    - {location: \"s3://b/{key}/\"}\n", "line 8: orphans: objects s3://b/{key}/ needs min_age"},
		{"whole bucket", "orphans:\n  organizations:\n    - table: orgs\n      key: id\n      created_at: c\n      min_age: 1d\n      members: {table: m, match: o}\n      objects: [\"s3://b\"]\n",
			"a location may never be a whole bucket"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := policy.Parse([]byte(orphansPolicy[:74]+c.yaml), "test.yaml")
			var pe *policy.Error
			require.True(t, errors.As(err, &pe), "want a policy error, got %v", err)
			require.Contains(t, err.Error(), c.want)
		})
	}
}
