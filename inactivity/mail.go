package inactivity

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/lethe-project/lethe/delivery"
	"github.com/lethe-project/lethe/policy"
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

type mailer struct {
	m    *delivery.Mailer
	tmpl *policy.MailTemplates
}

func (m *mailer) name() string { return "email" }

func newMailer(cfg *Config, sm *policy.InactivitySMTP, tmpl *policy.MailTemplates) (*mailer, error) {
	m, err := delivery.NewMailer(delivery.MailConfig{SMTPURL: cfg.SMTPURL, From: sm.From, Rate: cfg.SMTPRate,
		Timeout: cfg.DeliveryTimeout, TLSConfig: cfg.TLSConfig})
	if err != nil {
		return nil, err
	}
	return &mailer{m: m, tmpl: tmpl}, nil
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
	if m.tmpl.HTML != nil {
		if err := m.tmpl.HTML.Execute(&html, d); err != nil {
			return fmt.Errorf("html template: %w", err)
		}
	}
	return m.m.Send(ctx, delivery.Message{ID: m.m.MessageID("lethe-notice-" + n.ID), To: n.Email,
		Subject: subj.String(), Text: text.String(), HTML: html.String()})
}

// buildChannels builds the delivery channels the policy configures.
func (j *Job) buildChannels() ([]channel, error) {
	var cs []channel
	if w := j.in.Notify.Webhook; w != nil {
		timeout := j.cfg.DeliveryTimeout
		if w.Timeout > 0 {
			timeout = time.Duration(w.Timeout)
		}
		cs = append(cs, &webhook{delivery.Webhook{URL: w.URL, Secret: []byte(j.cfg.WebhookSecret), Client: &http.Client{Timeout: timeout}}})
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
