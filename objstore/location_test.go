package objstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/objstore"
)

func TestParseLocationValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		template string
		scheme   objstore.Scheme
		prefix   bool
		names    []string
		rootKey  string
	}{
		{"s3://app-uploads/users/{key}/", objstore.SchemeS3, true, []string{"key"}, "users/"},
		{"s3://avatars/{key}.png", objstore.SchemeS3, false, []string{"key"}, ""},
		{"s3://b/t/{tenant_id}/u/{key}/", objstore.SchemeS3, true, []string{"key", "tenant_id"}, "t/"},
		{"file:///var/lib/app/uploads/{key}/", objstore.SchemeFile, true, []string{"key"}, "/var/lib/app/uploads/"},
		{"file:///x/{key}.png", objstore.SchemeFile, false, []string{"key"}, "/x/"},
	}
	for _, tt := range tests {
		loc, err := objstore.ParseLocation(tt.template)
		require.NoError(t, err, tt.template)
		require.Equal(t, tt.scheme, loc.Scheme())
		require.Equal(t, tt.prefix, loc.IsPrefix())
		require.Equal(t, tt.names, loc.Placeholders())
		require.Equal(t, tt.template, loc.String())
		require.Equal(t, tt.rootKey, loc.Root().Key)
	}
}

func TestParseLocationInvalid(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                            "missing scheme",
		"app-uploads/users/{key}/":    "missing scheme",
		"gs://b/{key}/":               "unsupported scheme",
		"s3:///users/{key}/":          "missing bucket",
		"s3://app-uploads":            "whole bucket",
		"s3://app-uploads/":           "whole bucket",
		"s3://app-uploads/users/":     "no placeholder",
		"s3://avatars/static.png":     "no placeholder",
		"s3://{key}/x/{key}":          "must not hold a placeholder",
		"s3://b/users/{key/":          "unclosed placeholder",
		"s3://b/users/key}/":          "unmatched",
		"s3://b/users/{}/":            "malformed placeholder",
		"s3://b/users/{1abc}/":        "malformed placeholder",
		"s3://b/users/{user-id}/":     "malformed placeholder",
		"s3://b/users/../{key}/":      "not allowed",
		"s3://b/users//{key}/":        "empty path segment",
		"s3://b//{key}/":              "starts with",
		"file://relative/{key}/":      "absolute path",
		"file:///var/lib/../{key}/":   "not allowed",
		"file:///var/lib/./{key}.png": "not allowed",
		"file:///var/lib/uploads/":    "no placeholder",
	}
	for template, want := range tests {
		_, err := objstore.ParseLocation(template)
		require.ErrorContains(t, err, want, template)
	}
}

func TestResolveRejectsHostileValues(t *testing.T) {
	t.Parallel()
	for _, template := range []string{"s3://app-uploads/users/{key}/", "file:///var/lib/app/{key}/", "s3://avatars/{key}.png"} {
		loc, err := objstore.ParseLocation(template)
		require.NoError(t, err)
		for _, v := range []string{"", ".", "..", "a/b", "../etc", "a\\b", "a\x00b", "a\nb", "/"} {
			_, err := loc.Resolve(map[string]string{"key": v})
			require.Error(t, err, "%s with %q", template, v)
			if len(v) > 2 {
				require.NotContains(t, err.Error(), v, "error must not repeat the value")
			}
		}
		_, err = loc.Resolve(map[string]string{"other": "1"})
		require.ErrorContains(t, err, "no value for {key}")
	}
}

// A key that merely holds ".." (john..doe) is harmless: only a whole "."
// or ".." path segment could climb the tree, whether the value alone makes
// it or together with the template's text or another value.
func TestResolveAllowsDotsInsideASegment(t *testing.T) {
	t.Parallel()
	for _, template := range []string{"s3://app-uploads/users/{key}/", "file:///var/lib/app/{key}/", "s3://avatars/{key}.png", "file:///x/u-{key}"} {
		loc, err := objstore.ParseLocation(template)
		require.NoError(t, err)
		for _, v := range []string{"john..doe", "...", "a..", "..a", ".hidden", "x.y"} {
			r, err := loc.Resolve(map[string]string{"key": v})
			require.NoError(t, err, "%s with %q", template, v)
			require.Contains(t, r.Key, v)
			vals, ok := loc.Match(r.Key + "f")
			if loc.IsPrefix() {
				require.True(t, ok, "%s matches back %q", template, r.Key)
				require.Equal(t, v, vals["key"])
			}
		}
	}
	for template, vals := range map[string]map[string]string{
		"file:///x/{key}./":    {"key": "."},
		"s3://b/{key}./":       {"key": "."},
		"s3://b/u/.{key}":      {"key": "."},
		"file:///x/{a}{key}/":  {"a": ".", "key": "."},
		"s3://b/x/{a}/{key}/":  {"a": "..", "key": "1"},
		"file:///x/{key}/{a}/": {"a": ".", "key": "1"},
	} {
		loc, err := objstore.ParseLocation(template)
		require.NoError(t, err, template)
		_, err = loc.Resolve(vals)
		require.Error(t, err, "%s with %v", template, vals)
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	loc, err := objstore.ParseLocation("s3://b/t/{tenant}/u/{key}/")
	require.NoError(t, err)
	r, err := loc.Resolve(map[string]string{"key": "42", "tenant": "acme"})
	require.NoError(t, err)
	require.Equal(t, "b", r.Bucket)
	require.Equal(t, "t/acme/u/42/", r.Key)
	require.True(t, r.Prefix)
	require.NoError(t, r.CheckDeletable())
	require.Equal(t, "s3://b/t/acme/u/42/", r.URL())
	require.True(t, r.Contains("t/acme/u/42/a.png"))
	require.False(t, r.Contains("t/acme/u/420/a.png"))

	file, err := objstore.ParseLocation("file:///x/{key}.png")
	require.NoError(t, err)
	r, err = file.Resolve(map[string]string{"key": "7"})
	require.NoError(t, err)
	require.Equal(t, "/x/7.png", r.Key)
	require.False(t, r.Contains("/x/7.png.bak"))

	// A root lists everyone: it may never be deleted.
	require.ErrorContains(t, loc.Root().CheckDeletable(), "refusing to delete")
	require.Error(t, objstore.Resolved{Scheme: objstore.SchemeS3, Bucket: "b", Key: "x/"}.CheckDeletable())
}

func TestMatch(t *testing.T) {
	t.Parallel()
	loc, err := objstore.ParseLocation("s3://b/t/{tenant}/u/{key}/")
	require.NoError(t, err)
	vals, ok := loc.Match("t/acme/u/42/photo.png")
	require.True(t, ok)
	require.Equal(t, map[string]string{"tenant": "acme", "key": "42"}, vals)
	_, ok = loc.Match("t/acme/x/42/photo.png")
	require.False(t, ok)

	one, err := objstore.ParseLocation("s3://avatars/{key}.png")
	require.NoError(t, err)
	vals, ok = one.Match("42.png")
	require.True(t, ok)
	require.Equal(t, "42", vals["key"])
	_, ok = one.Match("a/42.png")
	require.False(t, ok)
	_, ok = one.Match("42.png.bak")
	require.False(t, ok)
}
