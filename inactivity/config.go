package inactivity

import (
	"crypto/tls"
	"time"

	"github.com/lethe-project/lethe/jobs"
)

// Config is everything the inactivity job needs besides the limits every
// job shares, which come with the run's session (jobs.Session). The zero
// values of the numeric fields take the defaults below.
type Config struct {
	// Deps are the process's pool, policy, logger, hasher and object
	// router, built once by main; Pool and Policy are required.
	jobs.Deps

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

	// DeliveryTimeout bounds one delivery attempt per channel (the
	// webhook's timeout: overrides it for the webhook). Default 10s.
	DeliveryTimeout time.Duration
	// MaxFailures stops delivering for the rest of the run after this many
	// consecutive failed deliveries (a receiver that is down). Default 3.
	MaxFailures int
}

func (c *Config) setDefaults() error {
	if err := c.Deps.Require("inactivity"); err != nil {
		return err
	}
	if c.SMTPRate <= 0 {
		c.SMTPRate = 5
	}
	if c.DeliveryTimeout <= 0 {
		c.DeliveryTimeout = 10 * time.Second
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 3
	}
	return nil
}
