package processors_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/processors"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	good := processors.Config{Name: "clerk", URL: "https://api.clerk.com/v1/users/{user_id}"}
	require.NoError(t, good.Validate())
	require.NoError(t, processors.Validate([]processors.Config{good}, nil))

	tests := map[string]struct {
		edit func(*processors.Config)
		want string
	}{
		"no name":          {func(c *processors.Config) { c.Name = "" }, "name is required"},
		"bad name":         {func(c *processors.Config) { c.Name = "Clerk API" }, "name may hold only"},
		"bad method":       {func(c *processors.Config) { c.Method = "TRACE" }, `method "TRACE"`},
		"no url":           {func(c *processors.Config) { c.URL = "" }, "url is required"},
		"no placeholder":   {func(c *processors.Config) { c.URL = "https://api.clerk.com/v1/users" }, "no placeholder"},
		"bad placeholder":  {func(c *processors.Config) { c.URL = "https://x.com/u/{user id}" }, "malformed placeholder"},
		"unclosed":         {func(c *processors.Config) { c.URL = "https://x.com/u/{key" }, "malformed placeholder"},
		"stray brace":      {func(c *processors.Config) { c.URL = "https://x.com/u/{key}}" }, "unmatched }"},
		"bad env":          {func(c *processors.Config) { c.URL = "${1X}/u/{key}" }, "malformed environment reference"},
		"id key header":    {func(c *processors.Config) { c.Headers = map[string]string{"idempotency-key": "x"} }, "set by lethe"},
		"bad header name":  {func(c *processors.Config) { c.Headers = map[string]string{"X: y": "x"} }, "header name"},
		"bad done status":  {func(c *processors.Config) { c.DoneStatus = []int{999} }, "done_status 999"},
		"negative timeout": {func(c *processors.Config) { c.Timeout = -1 }, "timeout is negative"},
		"many attempts":    {func(c *processors.Config) { c.MaxAttempts = 100 }, "max_attempts 100"},
		"backoff order":    {func(c *processors.Config) { c.Backoff, c.MaxBackoff = 10, 5 }, "max_backoff is shorter"},
	}
	for name, tt := range tests {
		c := good
		tt.edit(&c)
		require.ErrorContains(t, c.Validate(), tt.want, name)
		require.ErrorContains(t, processors.Validate([]processors.Config{c}, nil), tt.want, name)
	}
}

// TestValidateWithEnv covers what can only be checked once ${NAME}
// references are filled in.
func TestValidateWithEnv(t *testing.T) {
	t.Parallel()
	lookup := func(name string) (string, bool) {
		return map[string]string{"SUPABASE_URL": "https://abc.supabase.co", "BAD": "x\r\nEvil: 1"}[name], name == "SUPABASE_URL" || name == "BAD"
	}
	good := processors.Config{Name: "supabase", URL: "${SUPABASE_URL}/auth/v1/admin/users/{key}"}
	require.NoError(t, processors.Validate([]processors.Config{good}, lookup))

	tests := map[string]struct {
		edit func(*processors.Config)
		want string
	}{
		"placeholder in host": {func(c *processors.Config) { c.URL = "https://{key}.example.com/x" }, "host and a path before the first placeholder"},
		"placeholder as path": {func(c *processors.Config) { c.URL = "https://example.com{key}" }, "host and a path before the first placeholder"},
		"ftp":                 {func(c *processors.Config) { c.URL = "ftp://example.com/{key}" }, "http or https"},
		"missing env":         {func(c *processors.Config) { c.URL = "${NOPE}/u/{key}" }, "environment variable NOPE is not set"},
		"header injection":    {func(c *processors.Config) { c.Headers = map[string]string{"Authorization": "${BAD}"} }, "line break"},
		"body not json":       {func(c *processors.Config) { c.Body = `{"id": {key}}` }, "not valid JSON"},
		"body env missing":    {func(c *processors.Config) { c.Body = `{"t": "${NOPE}", "id": "{key}"}` }, "body: environment variable NOPE"},
	}
	for name, tt := range tests {
		c := good
		tt.edit(&c)
		require.ErrorContains(t, processors.Validate([]processors.Config{c}, lookup), tt.want, name)
	}

	err := processors.Validate([]processors.Config{good, good}, lookup)
	require.ErrorContains(t, err, "name used twice")
}
