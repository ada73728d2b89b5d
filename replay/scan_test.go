package replay

import (
	"testing"

	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

func TestUnescapeCopyText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`plain`:          "plain",
		`a\tb\nc\\d`:     "a\tb\nc\\d",
		`\101\x42\r\b\v`: "AB\r\b\v",
		`end\`:           `end\`,
	} {
		require.Equal(t, want, string(unescape(nil, []byte(in))), in)
	}
}

// TestScannerSplitsRowsAcrossWrites: COPY may cut the stream anywhere.
func TestScannerSplitsRowsAcrossWrites(t *testing.T) {
	t.Parallel()
	h := subject.NewHasher("k")
	ix := &index{byKeyID: map[string]hashSet{}}
	set := hashSet{}
	set[h.Stream().Hash([]byte("a\tkey"))] = 5
	set[h.Stream().Hash([]byte("held"))] = 6
	ix.byKeyID[""] = set
	ps, err := ix.probes([]*subject.Hasher{h})
	require.NoError(t, err)
	sc := &scanner{probes: ps}
	stream := "other\tf\na\\tkey\tf\nheld\tt\n\\N\tf\n"
	for i := 0; i < len(stream); i += 3 {
		_, err := sc.Write([]byte(stream[i:min(i+3, len(stream))]))
		require.NoError(t, err)
	}
	require.Empty(t, sc.carry)
	require.EqualValues(t, 3, sc.out.scanned)
	require.EqualValues(t, 1, sc.out.held)
	require.Len(t, sc.out.hits, 1)
	require.Equal(t, "a\tkey", sc.out.hits[0].Key)
}
