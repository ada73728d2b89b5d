package delivery

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
	"golang.org/x/time/rate"
)

// SMTPTarget is a parsed LETHE_SMTP_URL.
type SMTPTarget struct {
	// Host and Port are the server's.
	Host string
	Port int
	// ImplicitTLS is smtps:// (port 465); otherwise STARTTLS is required.
	ImplicitTLS bool
	// User and Password authenticate, when User is set.
	User, Password string
}

// ParseSMTPURL reads smtp://user:pass@host:port (STARTTLS, required) or
// smtps://user:pass@host:port (implicit TLS). Errors never echo the URL,
// which holds a password.
func ParseSMTPURL(raw string) (SMTPTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SMTPTarget{}, fmt.Errorf("LETHE_SMTP_URL is not a valid URL")
	}
	var t SMTPTarget
	switch u.Scheme {
	case "smtp":
		t.Port = 587
	case "smtps":
		t.Port, t.ImplicitTLS = 465, true
	default:
		return t, fmt.Errorf("LETHE_SMTP_URL: scheme must be smtp (STARTTLS) or smtps (implicit TLS), not %q", u.Scheme)
	}
	t.Host = u.Hostname()
	if t.Host == "" {
		return t, fmt.Errorf("LETHE_SMTP_URL has no host")
	}
	if p := u.Port(); p != "" {
		if t.Port, err = strconv.Atoi(p); err != nil {
			return t, fmt.Errorf("LETHE_SMTP_URL: bad port")
		}
	}
	if u.User != nil {
		t.User = u.User.Username()
		t.Password, _ = u.User.Password()
	}
	return t, nil
}

// MailConfig configures a Mailer.
type MailConfig struct {
	// SMTPURL is LETHE_SMTP_URL.
	SMTPURL string
	// From is the sender address; its domain ends each Message-ID.
	From string
	// Rate is the most mails sent per second.
	Rate float64
	// Timeout bounds one delivery.
	Timeout time.Duration
	// TLSConfig, when set, is used for connections (tests trust their own
	// certificate with it); nil uses the system's roots.
	TLSConfig *tls.Config
}

// Mailer sends mails through one SMTP server, at most Rate a second.
type Mailer struct {
	client  *mail.Client
	from    string
	domain  string
	limiter *rate.Limiter
}

// NewMailer returns a Mailer; it connects only when it sends.
func NewMailer(cfg MailConfig) (*Mailer, error) {
	t, err := ParseSMTPURL(cfg.SMTPURL)
	if err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tlsConf = cfg.TLSConfig.Clone()
	}
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = t.Host
	}
	opts := []mail.Option{mail.WithPort(t.Port), mail.WithTimeout(cfg.Timeout), mail.WithTLSConfig(tlsConf)}
	if t.ImplicitTLS {
		opts = append(opts, mail.WithSSL())
	} else {
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if t.User != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(t.User), mail.WithPassword(t.Password))
	}
	c, err := mail.NewClient(t.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	domain := cfg.From[strings.LastIndexByte(cfg.From, '@')+1:]
	domain = strings.TrimRight(domain, "> ")
	return &Mailer{client: c, from: cfg.From, domain: domain, limiter: rate.NewLimiter(rate.Limit(cfg.Rate), 1)}, nil
}

// Message is one mail.
type Message struct {
	// ID makes the Message-ID, with the sender's domain: the same on
	// every attempt. Build it with [Mailer.MessageID].
	ID string
	// To is the recipient's address.
	To string
	// Subject, Text and HTML (optional) are the rendered mail.
	Subject, Text, HTML string
}

// MessageID returns the Message-ID, without angle brackets, of a mail
// whose local part is local: local@the sender's domain.
func (m *Mailer) MessageID(local string) string { return local + "@" + m.domain }

// Send sends msg once. An error about the recipient never repeats the
// address.
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	mm := mail.NewMsg()
	if err := mm.From(m.from); err != nil {
		return err
	}
	if err := mm.To(msg.To); err != nil {
		return fmt.Errorf("recipient address is not valid")
	}
	mm.Subject(strings.TrimSpace(msg.Subject))
	mm.SetMessageIDWithValue(msg.ID)
	mm.SetDate()
	mm.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	mm.SetBodyString(mail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		mm.AddAlternativeString(mail.TypeTextHTML, msg.HTML)
	}
	if err := m.limiter.Wait(ctx); err != nil {
		return err
	}
	if err := m.client.DialAndSendWithContext(ctx, mm); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}
