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
	require.Equal(t, 0, r.Code)
	id := jobtest.MD5UUID("user20")
	r = lethe(t, env, "receipt", "--subject", id)
	require.Equal(t, 0, r.Code)

	other := append(append([]string{}, env[:2]...), "LETHE_SUBJECT_HASH_KEY=another-key")
	r = lethe(t, other, "receipt", "--subject", id)
	require.Equal(t, 2, r.Code, r.Stdout)
	require.Contains(t, r.Stdout, "made with a different key")
	require.NotContains(t, r.Stdout, "has not erased it")

	r = lethe(t, env, "receipt", "--subject", jobtest.MD5UUID("user21"))
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stdout, "lethe has not erased it")
}
