package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/ledger"
)

// TestReceiptSaysArchivesErased: the receipt names the export archives
// the purge erased, by count at the export.to template, without personal
// data, beside the subject's files.
func TestReceiptSaysArchivesErased(t *testing.T) {
	var out bytes.Buffer
	writeReceipt(&out, ledger.Receipt{SubjectHash: "ab12", PurgedAt: time.Unix(0, 0), Verification: "passed",
		Objects: []ledger.ObjectCount{
			{Location: "s3://exports/archives/{id}.zip", Objects: 3, Bytes: 900, Archives: 2},
			{Location: "s3://uploads/users/{key}/", Objects: 1, Bytes: 10},
		}})
	require.Contains(t, out.String(), "s3://exports/archives/{id}.zip")
	require.Contains(t, out.String(), "removed    2 export archive(s): 3 object version(s), 900 bytes")
	require.Contains(t, out.String(), "removed    1 object version(s), 10 bytes")
}
