package policy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/policy"
)

const subjectPart = `subject:
  table: users
  key: id
  requested_at: deleted_at
  grace: 30d
tables:
  - table: uploads
    match: user_id
    action: delete
  - table: notes
    match: user_id
    action: keep
    basis: contract
`

func TestObjectsAndProcessorsParse(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte(subjectPart+`objects:
  - location: "s3://app-uploads/users/{key}/"
  - location: "file:///var/lib/app/uploads/{key}/"
  - table: uploads
    column: storage_key
    location: "s3://app-uploads/{storage_key}"
processors:
  - name: clerk
    url: "https://api.clerk.com/v1/users/{clerk_id}"
    headers: {Authorization: "Bearer ${CLERK_SECRET_KEY}"}
    done_status: [200, 404]
    timeout: 10s
`), "p.yaml")
	require.NoError(t, err)
	require.Len(t, p.Objects, 3)
	require.Equal(t, 15, p.Objects[0].Line)
	require.True(t, p.Objects[2].ByRows())
	require.Equal(t, "storage_key", p.Objects[2].Column.Column())
	require.Len(t, p.Processors, 1)
	require.Equal(t, 21, p.Processors[0].Line)
	require.Equal(t, 10*time.Second, p.Processors[0].Timeout)
	require.Equal(t, []int{200, 404}, p.Processors[0].DoneStatus)
}

func TestObjectsAndProcessorsProblems(t *testing.T) {
	t.Parallel()
	_, err := policy.Parse([]byte(subjectPart+`objects:
  - location: "s3://app-uploads/"
  - location: "s3://app-uploads/{key}/"
    column: storage_key
  - table: notes
    column: storage_key
    location: "s3://app-uploads/{storage_key}"
  - table: uploads
    column: storage_key
    location: "s3://app-uploads/{storage_key}/{key}"
  - location: "ftp://x/{key}"
processors:
  - name: clerk
    url: "https://api.clerk.com/v1/users/{key}"
    headers: {Authorization: "Bearer sk_live_123"}
  - name: clerk
    url: "https://api.clerk.com/v1/users"
    color: blue
`), "p.yaml")
	var pe *policy.Error
	require.True(t, errors.As(err, &pe), "%v", err)
	t.Log(err)
	require.ErrorContains(t, err, `unknown key "color" in a processors: entry`)

	_, err = policy.Parse([]byte(subjectPart+`objects:
  - location: "s3://app-uploads/"
  - location: "s3://app-uploads/{key}/"
    column: storage_key
  - table: notes
    column: storage_key
    location: "s3://app-uploads/{storage_key}"
  - table: uploads
    column: storage_key
    location: "s3://app-uploads/{storage_key}/{key}"
  - location: "ftp://x/{key}"
processors:
  - name: clerk
    url: "https://api.clerk.com/v1/users/{key}"
    headers: {Authorization: "Bearer sk_live_123"}
  - name: clerk
    url: "https://api.clerk.com/v1/users"
`), "p.yaml")
	require.True(t, errors.As(err, &pe), "%v", err)
	t.Log(err)
	got := map[int]string{}
	for _, pr := range pe.Problems {
		got[pr.Line] += pr.Msg + "|"
	}
	require.Contains(t, got[15], "never be a whole bucket")
	require.Contains(t, got[16], "column: goes with table:")
	require.Contains(t, got[18], "needs a delete rule")
	require.Contains(t, got[21], "must end in {storage_key}")
	require.Contains(t, got[24], "unsupported scheme")
	require.Contains(t, got[26], "from the environment")
	require.NotContains(t, err.Error(), "sk_live_123")
	require.Contains(t, got[29], "no placeholder")
	require.Contains(t, got[29], "repeats the name at line 26")
}
