package main

import (
	"testing"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/stretchr/testify/require"
)

// TestReceiptWithAnotherKey: looked up with another LETHE_SUBJECT_HASH_KEY,
// an erased subject is not reported "not erased": receipts exist, made
// with a different key (exit 2). A subject not erased still is.
func TestReceiptWithAnotherKey(t *testing.T) {
	t.Parallel()
	_, env := exampleDB(t, 100)
	r := lethe(t, env, "--job", "purge")
	require.Equal(t, 0, r.code)
	id := jobtest.MD5UUID("user20")
	r = lethe(t, env, "receipt", "--subject", id)
	require.Equal(t, 0, r.code)

	other := append(append([]string{}, env[:2]...), "LETHE_SUBJECT_HASH_KEY=another-key")
	r = lethe(t, other, "receipt", "--subject", id)
	require.Equal(t, 2, r.code, r.stdout)
	require.Contains(t, r.stdout, "made with a different key")
	require.NotContains(t, r.stdout, "has not erased it")

	r = lethe(t, env, "receipt", "--subject", jobtest.MD5UUID("user21"))
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stdout, "lethe has not erased it")
}
