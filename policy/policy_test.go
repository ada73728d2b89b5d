package policy

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30d": 30 * 24 * time.Hour, "12h": 12 * time.Hour, "1y": 365 * 24 * time.Hour,
		"2w": 14 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90s": 90 * time.Second,
	} {
		d, err := ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, time.Duration(d), in)
	}
	for _, bad := range []string{"", "30", "d", "30x", "-1d", "1.5d", "999999999y"} {
		_, err := ParseDuration(bad)
		require.Error(t, err, bad)
	}
}

func TestParseIdent(t *testing.T) {
	for in, want := range map[string][]string{
		"users":               {"users"},
		"Users":               {"users"},
		`"UserProfiles"`:      {"UserProfiles"},
		"billing.invoices":    {"billing", "invoices"},
		`billing."Invoices"`:  {"billing", "Invoices"},
		`"a.b"`:               {"a.b"},
		`"say ""hi"""`:        {`say "hi"`},
		"users; DROP TABLE x": {"users; drop table x"},
		`"Crm"."Accounts"`:    {"Crm", "Accounts"},
	} {
		id, err := ParseIdent(in)
		require.NoError(t, err, in)
		require.Equal(t, want, id.Parts, in)
	}
	for _, bad := range []string{"", "a..b", `"open`, "a.b.c.d", `"x"y`} {
		_, err := ParseIdent(bad)
		require.Error(t, err, bad)
	}
	id, _ := ParseIdent("users; DROP TABLE x")
	require.Equal(t, `"users; drop table x"`, id.Sanitize(), "a hostile name is quoted, never spliced")
}

func TestExamplePolicyParses(t *testing.T) {
	p, err := Load("../examples/policy.yaml")
	require.NoError(t, err)
	require.Equal(t, Delete, p.Subject.Final)
	require.Len(t, p.Digest, 64)
	require.NotZero(t, p.Tables[0].Line)
}

func TestFileErrorsNameEveryProblemWithItsLine(t *testing.T) {
	src := `subject:
  table: users
  key: id
  grace: 30x
tables:
  - table: sessions
    match: user_id
    action: remove
  - table: invoices
    match: user_id
    action: keep
  - table: notes
    match: created_by
    action: anonymize
ignore:
  - table: consent
`
	_, err := Parse([]byte(src), "p.yaml")
	var perr *Error
	require.True(t, errors.As(err, &perr))
	require.Contains(t, err.Error(), `line 4: duration "30x": unknown unit 'x'`)

	src = strings.Replace(src, "30x", "30d", 1)
	_, err = Parse([]byte(src), "p.yaml")
	require.True(t, errors.As(err, &perr))
	msg := err.Error()
	for _, want := range []string{
		"subject.requested_at is required",
		`line 6: rule for sessions: action must be delete, anonymize or keep, not "remove"`,
		"line 9: rule for invoices: keep needs basis:",
		"line 12: rule for notes: anonymize needs set:",
		"line 16: ignore entry for consent needs a reason",
	} {
		require.Contains(t, msg, want)
	}
	_, err = Parse([]byte("subject: {table: users}\nsubject: {table: x}\n"), "p.yaml")
	require.ErrorContains(t, err, `mapping key "subject" already defined`)
	_, err = Parse([]byte("subject:\n  table: users\n---\nx: 1\n"), "p.yaml")
	require.ErrorContains(t, err, "more than one YAML document")
}

// FuzzParse feeds the parser arbitrary bytes: it must never panic, and a
// policy it accepts must be complete and parse again to the same digest.
// The seed corpus is in testdata/fuzz/FuzzParse; run longer with
// go test -fuzz=FuzzParse ./policy.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../examples/policy.yaml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, "fuzz.yaml")
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) || len(perr.Problems) == 0 {
				t.Fatalf("error is not a *policy.Error with problems: %v", err)
			}
			return
		}
		if p.HasSubject() && (p.Subject.Table.IsZero() || p.Subject.Key.IsZero() || p.Subject.RequestedAt.IsZero() || p.Subject.Grace <= 0) {
			t.Fatalf("accepted an incomplete subject: %+v", p.Subject)
		}
		for _, r := range p.Tables {
			if r.Action == Keep && r.Basis == "" {
				t.Fatalf("accepted keep without basis")
			}
		}
		p2, err := Parse(data, "fuzz.yaml")
		if err != nil || p2.Digest != p.Digest {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}
