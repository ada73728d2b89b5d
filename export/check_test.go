package export

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/plan"
)

// TestCheckWarnsAboutSecretLookingColumns: lethe check names each column
// that looks secret and is exported, and stops once it is excluded; an
// exclude that names no column is a policy error.
func TestCheckWarnsAboutSecretLookingColumns(t *testing.T) {
	t.Parallel()
	b := sampleDB(t, 5)
	b.db.Exec(t, `ALTER TABLE users ADD COLUMN device_seed text, ADD COLUMN signing_key text, ADD COLUMN auth_provider text;
		ALTER TABLE documents ADD COLUMN content_hash text`)
	pl, err := plan.Build(t.Context(), b.db.Pool, b.pol)
	require.NoError(t, err)
	warns, err := Check(pl)
	require.NoError(t, err)
	require.Equal(t, []string{
		"export: column users.device_seed looks secret and would be exported (subject.export.exclude)",
		"export: column users.signing_key looks secret and would be exported (subject.export.exclude)",
		"export: column users.device_seed looks secret and would be exported (export.exclude of the rule at line 39)",
		"export: column users.signing_key looks secret and would be exported (export.exclude of the rule at line 39)",
		"export: column documents.content_hash looks secret and would be exported (export.exclude of the rule at line 49)",
	}, warns)

	b.pol.Subject.Export.Exclude = append(b.pol.Subject.Export.Exclude, mustIdent(t, "device_seed"), mustIdent(t, "signing_key"))
	pl, err = plan.Build(t.Context(), b.db.Pool, b.pol)
	require.NoError(t, err)
	warns, err = Check(pl)
	require.NoError(t, err)
	require.Len(t, warns, 3, "the subject row's are excluded, the invited accounts' not yet")

	b.pol.Subject.Export.Exclude = append(b.pol.Subject.Export.Exclude, mustIdent(t, "device"))
	_, err = Check(pl)
	require.ErrorContains(t, err, "subject: export.exclude names column device, which does not exist in table users")
}
