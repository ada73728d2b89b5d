// Package delivery owns how lethe tells a person or the application
// something: a JSON POST signed with a shared secret (Lethe-Signature, with
// an Idempotency-Key that is the same on every attempt) and a mail through
// LETHE_SMTP_URL (with a Message-ID that is the same on every attempt).
//
// It sends one message once per call; what to send, and remembering what
// was sent (the outbox), belong to the jobs that use it: inactivity's
// warnings and export's links.
package delivery
