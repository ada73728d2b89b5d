package processors

import "time"

// Config is one processor from the policy: an HTTP call that erases the
// subject at a third party. The policy decodes it from YAML as it is; check
// it with [Validate] or [New].
type Config struct {
	// Name identifies the processor in results, logs and metrics, and is
	// part of the Idempotency-Key. Lower-case letters, digits, "_" and "-".
	Name string `yaml:"name"`

	// Method is the HTTP method. Empty means DELETE.
	Method string `yaml:"method"`

	// URL is the URL template, such as
	// "https://api.clerk.com/v1/users/{user_id}". {key} is the subject key
	// and {column} a column of the subject's row; values are escaped for the
	// URL path (or query) and may not be empty, "." or "..". Placeholders may
	// not appear in the scheme or host. ${NAME} takes the environment
	// variable NAME as it is (for a base URL such as
	// "${SUPABASE_URL}/auth/v1/admin/users/{key}").
	URL string `yaml:"url"`

	// Headers are sent with every call. A value may hold ${NAME}
	// references to environment variables, such as
	// "Bearer ${CLERK_SECRET_KEY}"; a missing or empty variable is a
	// configuration error found before any call.
	Headers map[string]string `yaml:"headers"`

	// Body is an optional JSON body template. Placeholders must stand
	// inside JSON strings, as in {"user_id": "{key}"}; values are escaped as
	// JSON. ${NAME} references work as in Headers. Empty sends no body.
	Body string `yaml:"body"`

	// DoneStatus lists the HTTP status codes that confirm the erasure.
	// Empty means 200, 202, 204 and 404 (404: already gone). Note that a
	// wrong URL may also answer 404.
	DoneStatus []int `yaml:"done_status"`

	// Timeout bounds one attempt, from sending the request to reading the
	// answer. Zero means 10s.
	Timeout time.Duration `yaml:"timeout"`

	// MaxAttempts is how many attempts are made in all, counting the first.
	// Only network errors, timeouts, 408, 425, 429 and 5xx answers are
	// retried; any other status that is not done fails at once. Zero means
	// 4. One means no retries.
	MaxAttempts int `yaml:"max_attempts"`

	// Backoff is the longest pause before the first retry; each later pause
	// may be twice as long as the one before, with jitter. A Retry-After
	// answer header is obeyed up to MaxBackoff. Zero means 500ms.
	Backoff time.Duration `yaml:"backoff"`

	// MaxBackoff caps each pause between attempts. Zero means 30s.
	MaxBackoff time.Duration `yaml:"max_backoff"`

	// ExportURL, optional, is a URL template like URL for a GET that
	// answers the processor's copy of the subject as JSON (Clerk's
	// /v1/users/{user_id}), for lethe export. It is sent with Headers and
	// the same timeout and retries; only 200 is an answer.
	ExportURL string `yaml:"export_url"`
}

// Subject is the person to erase, as the purge job knows them.
type Subject struct {
	// Hash is the subject's keyed hash, the only form in which a subject
	// may appear in logs. It seeds the Idempotency-Key.
	Hash string
	// Values are the subject's row: "key" and one entry per column that a
	// template references.
	Values map[string]string
}

// Result is the outcome of erasing one subject at one processor. It holds
// no personal data.
type Result struct {
	// Processor is the processor's name.
	Processor string
	// Confirmed is true when the processor answered with a done status.
	Confirmed bool
	// Status is the HTTP status of the last answer, 0 if none came.
	Status int
	// Attempts is how many requests were sent.
	Attempts int
	// Err says why the erasure is not confirmed; nil when Confirmed.
	Err error
}
