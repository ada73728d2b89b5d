package inactivity

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/subject"
)

// Config is everything the inactivity job needs. The zero values of the
// numeric fields take the defaults below.
type Config struct {
	// Pool connects to the application's database.
	Pool *pgxpool.Pool
	// Policy is the parsed policy file; it must have an inactivity: section.
	Policy *policy.Policy
	// Hasher names subjects in logs; required unless DryRun.
	Hasher *subject.Hasher
	// Logger receives per-batch and per-failure lines; never personal data.
	Logger *slog.Logger

	// WebhookSecret is the value of the variable that
	// inactivity.notify.webhook.secret_env names, read by main. Required
	// with a webhook channel.
	WebhookSecret string
	// SMTPURL is LETHE_SMTP_URL: smtp://user:pass@host:port for STARTTLS
	// (port 587 by default), smtps://... for implicit TLS (port 465).
	// Required with an smtp channel.
	SMTPURL string
	// SMTPRate is the most mails sent per second. Default 5.
	SMTPRate float64
	// TLSConfig, when set, is used for SMTP connections (tests trust their
	// own certificate with it); nil uses the system's roots.
	TLSConfig *tls.Config

	// BatchSize is the number of subjects per transaction when recording
	// notices and requesting deletion. Default 500.
	BatchSize int
	// TimeBudget stops the run from starting new batches or deliveries
	// after this long. Default 10 minutes.
	TimeBudget time.Duration
	// MaxSubjects refuses a run that would warn, or request the deletion
	// of, more subjects than this, unless AllowLarge. Default 10000.
	MaxSubjects int
	// MaxShare refuses a run that would warn, or request the deletion of,
	// more than this share of all subjects (once at least 50), unless
	// AllowLarge. Default 0.25.
	MaxShare float64
	// AllowLarge disables the blast-radius guard for this run.
	AllowLarge bool
	// StatementTimeout bounds each statement. Default 30s.
	StatementTimeout time.Duration
	// LockTimeout bounds each lock wait. Default 5s.
	LockTimeout time.Duration
	// DeliveryTimeout bounds one delivery attempt per channel (the
	// webhook's timeout: overrides it for the webhook). Default 10s.
	DeliveryTimeout time.Duration
	// MaxFailures stops delivering for the rest of the run after this many
	// consecutive failed deliveries (a receiver that is down). Default 3.
	MaxFailures int
	// DryRun counts what a run would do in a read-only transaction.
	DryRun bool
	// Stop, when done, stops the run from starting new batches or
	// deliveries (a first SIGTERM).
	Stop context.Context
}

func (c *Config) setDefaults() error {
	if c.Pool == nil || c.Policy == nil {
		return errors.New("inactivity: Pool and Policy are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.SMTPRate <= 0 {
		c.SMTPRate = 5
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.TimeBudget <= 0 {
		c.TimeBudget = 10 * time.Minute
	}
	if c.MaxSubjects <= 0 {
		c.MaxSubjects = 10000
	}
	if c.MaxShare <= 0 {
		c.MaxShare = 0.25
	}
	if c.StatementTimeout <= 0 {
		c.StatementTimeout = 30 * time.Second
	}
	if c.LockTimeout <= 0 {
		c.LockTimeout = 5 * time.Second
	}
	if c.DeliveryTimeout <= 0 {
		c.DeliveryTimeout = 10 * time.Second
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 3
	}
	if c.Stop == nil {
		c.Stop = context.Background()
	}
	return nil
}
