// Package processors erases a subject at third parties that hold their data
// (an auth provider, a payment provider, ...) with one HTTP call each, as
// configured in the policy: for example Clerk's
// DELETE https://api.clerk.com/v1/users/{user_id}, Supabase's
// DELETE ${SUPABASE_URL}/auth/v1/admin/users/{key}, or Stripe's
// DELETE https://api.stripe.com/v1/customers/{stripe_customer_id}.
//
// It owns the processor configuration ([Config], decoded by the policy from
// YAML), its validation ([Config.Validate], [Validate], [New]) and the calls
// ([Processor.Erase], [Set.EraseAll]): templating, secrets in headers taken
// from ${ENV} references through a lookup function the caller passes (the
// package never reads the environment), retries with backoff and jitter, and
// an Idempotency-Key that is the same for a subject and processor on every
// attempt and every run ([IdempotencyKey]).
//
// A call is confirmed only by one of the configured done statuses (by
// default 200, 202, 204, and 404 for "already gone"). Anything else leaves
// the subject unconfirmed, so the purge job keeps its rows and a later run
// tries again. Results and errors never hold personal data: they name the
// URL template, not the filled-in URL, and never include response bodies.
//
// It does not decide whom to erase, nor log: results go back to the caller.
package processors
