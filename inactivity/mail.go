package inactivity

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lethe-project/lethe/policy"
	"github.com/wneessen/go-mail"
	"golang.org/x/time/rate"
)

// MailData is what the smtp: templates see.
type MailData struct {
	// NoticeID identifies the warning.
	NoticeID string
	// Email is the recipient's address.
	Email string
	// LastActive is the last activity the warning is about.
	LastActive time.Time
	// DeletionDate is when deletion will be requested if the person stays
	// inactive; zero with then: notify-only.
	DeletionDate time.Time
	// Row holds the subject row's columns as text: {{.Row.name}}.
	Row map[string]string
}

// smtpTarget is a parsed LETHE_SMTP_URL.
type smtpTarget struct {
	host           string
	port           int
	implicitTLS    bool
	user, password string
}

// parseSMTPURL reads smtp://user:pass@host:port (STARTTLS, required) or
// smtps://user:pass@host:port (implicit TLS). Errors never echo the URL,
// which holds a password.
func parseSMTPURL(raw string) (smtpTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return smtpTarget{}, fmt.Errorf("LETHE_SMTP_URL is not a valid URL")
	}
	var t smtpTarget
	switch u.Scheme {
	case "smtp":
		t.port = 587
	case "smtps":
		t.port, t.implicitTLS = 465, true
	default:
		return t, fmt.Errorf("LETHE_SMTP_URL: scheme must be smtp (STARTTLS) or smtps (implicit TLS), not %q", u.Scheme)
	}
	t.host = u.Hostname()
	if t.host == "" {
		return t, fmt.Errorf("LETHE_SMTP_URL has no host")
	}
	if p := u.Port(); p != "" {
		if t.port, err = strconv.Atoi(p); err != nil {
			return t, fmt.Errorf("LETHE_SMTP_URL: bad port")
		}
	}
	if u.User != nil {
		t.user = u.User.Username()
		t.password, _ = u.User.Password()
	}
	return t, nil
}

type mailer struct {
	client  *mail.Client
	from    string
	domain  string
	tmpl    *policy.MailTemplates
	limiter *rate.Limiter
}

func (m *mailer) name() string { return "email" }

func newMailer(cfg *Config, sm *policy.InactivitySMTP, tmpl *policy.MailTemplates) (*mailer, error) {
	t, err := parseSMTPURL(cfg.SMTPURL)
	if err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tlsConf = cfg.TLSConfig.Clone()
	}
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = t.host
	}
	opts := []mail.Option{mail.WithPort(t.port), mail.WithTimeout(cfg.DeliveryTimeout), mail.WithTLSConfig(tlsConf)}
	if t.implicitTLS {
		opts = append(opts, mail.WithSSL())
	} else {
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if t.user != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(t.user), mail.WithPassword(t.password))
	}
	c, err := mail.NewClient(t.host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	from := sm.From
	domain := from[strings.LastIndexByte(from, '@')+1:]
	domain = strings.TrimRight(domain, "> ")
	return &mailer{client: c, from: from, domain: domain, tmpl: tmpl,
		limiter: rate.NewLimiter(rate.Limit(cfg.SMTPRate), 1)}, nil
}

// MessageID is the Message-ID of a notice's mail, without angle brackets:
// the same on every attempt.
func MessageID(noticeID, domain string) string { return "lethe-notice-" + noticeID + "@" + domain }

func (m *mailer) deliver(ctx context.Context, n *Notice) error {
	d := MailData{NoticeID: n.ID, Email: n.Email, LastActive: n.LastActive, DeletionDate: n.DeletionDate, Row: n.Row}
	var subj, text, html bytes.Buffer
	if err := m.tmpl.Subject.Execute(&subj, d); err != nil {
		return fmt.Errorf("subject template: %w", err)
	}
	if err := m.tmpl.Text.Execute(&text, d); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	msg := mail.NewMsg()
	if err := msg.From(m.from); err != nil {
		return err
	}
	if err := msg.To(n.Email); err != nil {
		return fmt.Errorf("recipient address is not valid")
	}
	msg.Subject(strings.TrimSpace(subj.String()))
	msg.SetMessageIDWithValue(MessageID(n.ID, m.domain))
	msg.SetDate()
	msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(mail.TypeTextPlain, text.String())
	if m.tmpl.HTML != nil {
		if err := m.tmpl.HTML.Execute(&html, d); err != nil {
			return fmt.Errorf("html template: %w", err)
		}
		msg.AddAlternativeString(mail.TypeTextHTML, html.String())
	}
	if err := m.limiter.Wait(ctx); err != nil {
		return err
	}
	if err := m.client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// buildChannels builds the delivery channels the policy configures.
func (j *Job) buildChannels() ([]channel, error) {
	var cs []channel
	if w := j.in.Notify.Webhook; w != nil {
		timeout := j.cfg.DeliveryTimeout
		if w.Timeout > 0 {
			timeout = time.Duration(w.Timeout)
		}
		cs = append(cs, &webhook{url: w.URL, secret: []byte(j.cfg.WebhookSecret), client: &http.Client{Timeout: timeout}})
	}
	if sm := j.in.Notify.SMTP; sm != nil {
		m, err := newMailer(&j.cfg, sm, j.templates)
		if err != nil {
			return nil, err
		}
		cs = append(cs, m)
	}
	return cs, nil
}
