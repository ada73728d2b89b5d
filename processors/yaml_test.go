package processors_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/lethe-project/lethe/processors"
)

// TestDecodeYAML checks the field names and types the policy file uses.
func TestDecodeYAML(t *testing.T) {
	t.Parallel()
	const doc = `
name: stripe
method: DELETE
url: https://api.stripe.com/v1/customers/{stripe_customer_id}
headers:
  Authorization: Bearer ${STRIPE_SECRET_KEY}
done_status: [200, 404]
timeout: 15s
max_attempts: 6
backoff: 250ms
max_backoff: 1m
`
	var c processors.Config
	require.NoError(t, yaml.Unmarshal([]byte(doc), &c))
	require.Equal(t, processors.Config{
		Name:        "stripe",
		Method:      "DELETE",
		URL:         "https://api.stripe.com/v1/customers/{stripe_customer_id}",
		Headers:     map[string]string{"Authorization": "Bearer ${STRIPE_SECRET_KEY}"},
		DoneStatus:  []int{200, 404},
		Timeout:     15 * time.Second,
		MaxAttempts: 6,
		Backoff:     250 * time.Millisecond,
		MaxBackoff:  time.Minute,
	}, c)
	require.NoError(t, c.Validate())
}
