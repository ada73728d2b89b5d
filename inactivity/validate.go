package inactivity

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/delivery"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// check resolves the inactivity: section against the catalog and the
// configuration. Every problem is named in one *policy.Error (exit 2),
// before anything is changed. A dry run (and lethe check) needs no hasher:
// it logs no subject.
func (j *Job) check(ctx context.Context, dry bool) (columns, error) {
	cfg := &j.cfg
	pol := cfg.Policy
	in := pol.Inactivity
	if in == nil {
		return columns{}, &policy.Error{Path: pol.Path, Problems: []policy.Problem{{
			Msg: "the policy has no inactivity: section; the inactivity job needs one (see docs/inactivity.md)"}}}
	}
	pl, err := plan.Build(ctx, cfg.Pool, pol)
	if err != nil {
		// A policy problem, or the catalog read (which says so).
		return columns{}, err
	}
	s := pl.Subject
	c := columns{table: s.Table, key: s.Key, requested: s.RequestedAt, hold: s.Hold, purgedAt: s.PurgedAt,
		needsWebhook: in.Notify.Webhook != nil, needsMail: in.Notify.SMTP != nil}
	perr := &policy.Error{Path: pol.Path}
	if col, ok := s.Table.Columns[in.LastActive.Column()]; !ok {
		perr.Add(in.Line, "inactivity.last_active: column %s does not exist in table %s", in.LastActive, s.Table)
	} else if !strings.HasPrefix(col.Type, "timestamp") {
		perr.Add(in.Line, "inactivity.last_active: column %s of %s is %s, want timestamp or timestamptz", in.LastActive, s.Table, col.Type)
	} else {
		c.lastActive = col
	}
	if !in.Email.IsZero() {
		if col, ok := s.Table.Columns[in.Email.Column()]; !ok {
			perr.Add(in.Line, "inactivity.email: column %s does not exist in table %s", in.Email, s.Table)
		} else if col.Category != "S" {
			perr.Add(in.Line, "inactivity.email: column %s of %s is %s, want a text column", in.Email, s.Table, col.Type)
		} else {
			c.email = col
		}
	}
	if w := in.Notify.Webhook; w != nil {
		if cfg.WebhookSecret == "" {
			perr.Add(w.Line, "inactivity.notify.webhook: %s is not set (the secret that signs each request)", w.SecretEnv)
		}
	}
	if sm := in.Notify.SMTP; sm != nil {
		if cfg.SMTPURL == "" {
			perr.Add(sm.Line, "inactivity.notify.smtp: LETHE_SMTP_URL is not set (smtp://user:pass@host:587 or smtps://user:pass@host:465)")
		} else if _, err := delivery.ParseSMTPURL(cfg.SMTPURL); err != nil {
			perr.Add(sm.Line, "inactivity.notify.smtp: %v", err)
		}
		tm, err := sm.Templates(pol.Path)
		if err != nil {
			perr.Add(sm.Line, "inactivity.notify.smtp: template: %v", err)
		} else if err := tryTemplates(tm, s.Table); err != nil {
			perr.Add(sm.Line, "inactivity.notify.smtp: template: %v (the subject row's columns are {{.Row.name}})", err)
		} else {
			j.templates = tm
		}
	}
	if !dry && cfg.Hasher == nil {
		perr.Add(0, "LETHE_SUBJECT_HASH_KEY is not set: logs name subjects by their keyed hash")
	}
	return c, perr.Err()
}

// tryTemplates executes the templates once with every column of the subject
// table, so that a misspelt field or column fails now rather than in a
// mail.
func tryTemplates(tm *policy.MailTemplates, t *catalog.Table) error {
	d := MailData{NoticeID: "00000000-0000-0000-0000-000000000000", Email: "person@example.com",
		LastActive: time.Now(), DeletionDate: time.Now(), Row: map[string]string{}}
	for name := range t.Columns {
		d.Row[name] = ""
	}
	if err := tm.Subject.Execute(io.Discard, d); err != nil {
		return err
	}
	if err := tm.Text.Execute(io.Discard, d); err != nil {
		return err
	}
	if tm.HTML != nil {
		return tm.HTML.Execute(io.Discard, d)
	}
	return nil
}
