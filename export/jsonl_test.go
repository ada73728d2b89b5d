package export

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// TestAppendStringDecodesToTheText: every string, control characters,
// quotes, backslashes and non-ASCII included, decodes back to itself;
// invalid UTF-8 becomes U+FFFD, as encoding/json writes it.
func TestAppendStringDecodesToTheText(t *testing.T) {
	t.Parallel()
	var all strings.Builder
	for r := rune(0); r < 0x250; r++ {
		all.WriteRune(r)
	}
	for _, s := range []string{"", "plain", `say "hi" \ bye`, "a\nb\rc\td\x00\x01\x1f\x7f", "é日本\u2028😀", all.String()} {
		var got string
		require.NoError(t, json.Unmarshal(appendString(nil, []byte(s)), &got), "%q", s)
		require.Equal(t, s, got)
	}
	bad := []byte("a\xffb\xc3")
	var got string
	require.NoError(t, json.Unmarshal(appendString(nil, bad), &got))
	want, _ := json.Marshal(string(bad))
	var w string
	require.NoError(t, json.Unmarshal(want, &w))
	require.Equal(t, w, got)
	require.True(t, utf8.ValidString(got))
}

func TestAppendTime(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"2026-03-29 01:30:00.123456+00": `"2026-03-29T01:30:00.123456+00:00"`,
		"2026-03-29 01:30:00+00":        `"2026-03-29T01:30:00+00:00"`,
		"infinity":                      `"infinity"`,
		"-infinity":                     `"-infinity"`,
		"0044-03-15 12:00:00+00 BC":     `"0044-03-15 12:00:00+00 BC"`,
	} {
		require.Equal(t, want, string(appendTime(nil, []byte(in))), in)
	}
}

func TestAppendRow(t *testing.T) {
	t.Parallel()
	cols := []outColumn{{[]byte(`"a":`), asJSON}, {[]byte(`"b":`), asBool}, {[]byte(`"c":`), asString}, {[]byte(`"d":`), asBool}}
	require.Equal(t, `{"a":12,"b":true,"c":null,"d":false}`+"\n",
		string(appendRow(nil, cols, [][]byte{[]byte("12"), []byte("t"), nil, []byte("f")})))
}
