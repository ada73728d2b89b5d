package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/delivery"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
)

// Ready is what the person is told once their archive is written.
type Ready struct {
	// ExportID identifies the request's export: the webhook's
	// Idempotency-Key and the mail's Message-ID.
	ExportID string
	// Key is the subject's key. Never log it.
	Key string
	// Email is the address, empty when none.
	Email string
	// RequestedAt is when the person asked.
	RequestedAt time.Time
	// URL is the time-limited link to the archive (an S3 presigned GET),
	// or for a file:// destination the archive's path.
	URL string
	// ExpiresAt is when the link stops working and the archive is deleted.
	ExpiresAt time.Time
	// Row holds the subject row's columns as text: {{.Row.name}} in mail
	// templates.
	Row map[string]string
}

// ReadyEvent is the webhook's JSON body.
type ReadyEvent struct {
	// Type is "export.ready".
	Type string `json:"type"`
	// ExportID is also the Idempotency-Key.
	ExportID string `json:"export_id"`
	// SubjectKey is the subject's key as text.
	SubjectKey string `json:"subject_key"`
	// RequestedAt is when the request was recorded by the application.
	RequestedAt time.Time `json:"requested_at"`
	// URL is the time-limited link to the archive.
	URL string `json:"url"`
	// ExpiresAt is when the link and the archive expire.
	ExpiresAt time.Time `json:"expires_at"`
}

// noticeChannel delivers a Ready notice; repeating it with the same
// ExportID must be safe (the receiver deduplicates).
type noticeChannel interface {
	name() string
	deliver(ctx context.Context, r *Ready) error
}

type webhookChannel struct{ delivery.Webhook }

func (w *webhookChannel) name() string { return "webhook" }

func (w *webhookChannel) deliver(ctx context.Context, r *Ready) error {
	body, err := json.Marshal(ReadyEvent{Type: "export.ready", ExportID: r.ExportID, SubjectKey: r.Key,
		RequestedAt: r.RequestedAt.UTC(), URL: r.URL, ExpiresAt: r.ExpiresAt.UTC()})
	if err != nil {
		return err
	}
	return w.Post(ctx, r.ExportID, body)
}

type mailChannel struct {
	m    *delivery.Mailer
	tmpl *policy.MailTemplates
}

func (m *mailChannel) name() string { return "email" }

func (m *mailChannel) deliver(ctx context.Context, r *Ready) error {
	if r.Email == "" {
		return nil // no address: the webhook alone tells the application
	}
	subj, text, html, err := renderMail(m.tmpl, r)
	if err != nil {
		return err
	}
	return m.m.Send(ctx, delivery.Message{ID: m.m.MessageID("lethe-export-" + r.ExportID), To: r.Email,
		Subject: subj, Text: text, HTML: html})
}

func renderMail(tm *policy.MailTemplates, r *Ready) (subj, text, html string, err error) {
	var a, b, c bytes.Buffer
	if err := tm.Subject.Execute(&a, r); err != nil {
		return "", "", "", fmt.Errorf("subject template: %w", err)
	}
	if err := tm.Text.Execute(&b, r); err != nil {
		return "", "", "", fmt.Errorf("template: %w", err)
	}
	if tm.HTML != nil {
		if err := tm.HTML.Execute(&c, r); err != nil {
			return "", "", "", fmt.Errorf("html template: %w", err)
		}
	}
	return a.String(), b.String(), c.String(), nil
}

// buildChannels builds the section's channels; problems go into perr.
func (j *RequestJob) buildChannels(perr *policy.Error, subject *catalog.Table) []noticeChannel {
	var cs []noticeChannel
	n := j.sec.Notify
	if w := n.Webhook; w != nil {
		secret := ""
		if j.cfg.Env != nil {
			secret, _ = j.cfg.Env(w.SecretEnv)
		}
		if secret == "" {
			perr.Add(w.Line, "export.notify.webhook: %s is not set (the secret that signs each request)", w.SecretEnv)
		}
		timeout := j.cfg.DeliveryTimeout
		if w.Timeout > 0 {
			timeout = time.Duration(w.Timeout)
		}
		cs = append(cs, &webhookChannel{delivery.Webhook{URL: w.URL, Secret: []byte(secret), Client: &http.Client{Timeout: timeout}}})
	}
	if sm := n.SMTP; sm != nil {
		tm, err := sm.Templates(j.cfg.Policy.Path)
		if err == nil {
			err = tryTemplates(tm, subject)
		}
		if err != nil {
			perr.Add(sm.Line, "export.notify.smtp: template: %v (the fields are .ExportID, .Email, .URL, .ExpiresAt, .RequestedAt, .Row.column)", err)
		}
		if j.cfg.SMTPURL == "" {
			perr.Add(sm.Line, "export.notify.smtp: LETHE_SMTP_URL is not set (smtp://user:pass@host:587 or smtps://user:pass@host:465)")
			return cs
		}
		m, err := delivery.NewMailer(delivery.MailConfig{SMTPURL: j.cfg.SMTPURL, From: sm.From, Rate: j.cfg.SMTPRate,
			Timeout: j.cfg.DeliveryTimeout, TLSConfig: j.cfg.TLSConfig})
		if err != nil {
			perr.Add(sm.Line, "export.notify.smtp: %v", err)
			return cs
		}
		cs = append(cs, &mailChannel{m: m, tmpl: tm})
	}
	return cs
}

// tryTemplates executes the templates once with every column of the
// subject table, so that a misspelt field fails before any mail.
func tryTemplates(tm *policy.MailTemplates, t *catalog.Table) error {
	r := &Ready{ExportID: "00000000-0000-0000-0000-000000000000", Email: "person@example.com", URL: "https://example.com/a.zip",
		RequestedAt: time.Now(), ExpiresAt: time.Now(), Row: map[string]string{}}
	for name := range t.Columns {
		r.Row[name] = ""
	}
	_, _, _, err := renderMail(tm, r)
	return err
}

// link returns the archive's time-limited link: an S3 presigned GET that
// lasts until the archive expires (at most 7 days), or a file's path.
func (j *RequestJob) link(ctx context.Context, archive string, expires, now time.Time) (string, error) {
	rest, ok := strings.CutPrefix(archive, "s3://")
	if !ok {
		return strings.TrimPrefix(archive, "file://"), nil
	}
	bucket, key, _ := strings.Cut(rest, "/")
	d := min(max(expires.Sub(now), time.Minute), maxPresign)
	req, err := s3.NewPresignClient(j.cfg.S3).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
		s3.WithPresignExpires(d))
	if err != nil {
		return "", fmt.Errorf("sign the link: %w", err)
	}
	return req.URL, nil
}

// deliverAll tells the person of every written export, a channel per
// transaction that holds the export's row locked: a crash before the
// commit repeats that channel with the same ID, never one already
// recorded. The transaction that records the last channel also marks the
// application's request done, exactly once.
func (j *RequestJob) deliverAll(ctx context.Context, s *jobs.Session) error {
	failed := delivery.NewFailures()
	for s.Continue(ctx) {
		var id string
		var derr error
		err := s.InTx(ctx, func(ctx context.Context, tx pgx.Tx, t *jobs.Tally) error {
			var err error
			id, derr, err = j.deliverNext(ctx, tx, failed.IDs, t)
			return err
		})
		if err != nil {
			return err
		}
		if id == "" {
			break
		}
		failed.Add(id, derr)
		if failed.Stop(j.cfg.MaxFailures) {
			s.Report.Set(DeliveryStopped, 1)
			break
		}
	}
	return failed.Err("export", "notice(s) not delivered")
}

// DeliveryStopped is 1 when a run stopped delivering after
// RequestConfig.MaxFailures consecutive failures.
const DeliveryStopped jobs.Counter = "delivery_stopped"

// deliverNext delivers the oldest written export on the next channel it
// needs; it returns its id (empty when none is left) and the delivery's
// error.
func (j *RequestJob) deliverNext(ctx context.Context, tx pgx.Tx, failed []string, t *jobs.Tally) (string, error, error) {
	var (
		r                     Ready
		archive               string
		needWebhook, needMail bool
		exists                bool
		email                 *string
		rowJSON               []byte
		now                   time.Time
	)
	err := tx.QueryRow(ctx, j.sql.next, failed).Scan(&r.ExportID, &r.Key, &r.RequestedAt, &archive, &r.ExpiresAt, &now,
		&needWebhook, &needMail, &exists, &email, &rowJSON)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("export: next notice: %w", err)
	}
	if !exists {
		return r.ExportID, nil, j.forget(ctx, tx, t, &r, archive)
	}
	if email != nil {
		r.Email = strings.TrimSpace(*email)
	}
	if r.Row, err = rowValues(rowJSON); err != nil {
		return r.ExportID, nil, err
	}
	var todo []noticeChannel
	sent := ""
	for _, c := range j.channels {
		if (c.name() == "email" && needMail) || (c.name() == "webhook" && needWebhook) {
			todo = append(todo, c)
		}
	}
	if len(todo) > 0 {
		c := todo[0]
		if r.URL, err = j.link(ctx, archive, r.ExpiresAt, now); err != nil {
			return r.ExportID, nil, err
		}
		if err := c.deliver(ctx, &r); err != nil {
			derr := fmt.Errorf("%s: %s", c.name(), redact(err.Error(), r.Key, r.Email, r.URL))
			t.Add(jobs.ExportFailures, 1)
			j.cfg.Logger.Warn("notice not delivered", slog.String("export_id", r.ExportID), slog.String("error", derr.Error()))
			_, err = tx.Exec(ctx, "UPDATE lethe.exports SET attempts = attempts + 1, last_error = $2 WHERE id = $1", r.ExportID, derr.Error())
			return r.ExportID, derr, err
		}
		if j.cfg.afterSend != nil {
			j.cfg.afterSend(c.name())
		}
		t.Add(NoticesSent, 1)
		if len(todo) > 1 {
			// The next round delivers the next channel.
			col := map[string]string{"webhook": "webhook_sent_at", "email": "email_sent_at"}[c.name()]
			if _, err := tx.Exec(ctx, "UPDATE lethe.exports SET "+col+" = now(), attempts = attempts + 1 WHERE id = $1", r.ExportID); err != nil {
				return r.ExportID, nil, fmt.Errorf("export: mark %s sent: %w", c.name(), err)
			}
			return r.ExportID, nil, nil
		}
		sent = c.name()
	}
	if _, err := tx.Exec(ctx, j.sql.finish, r.ExportID, r.Key, r.RequestedAt, sent); err != nil {
		return r.ExportID, nil, fmt.Errorf("export: mark the request done: %w", err)
	}
	t.Add(RequestsDone, 1)
	return r.ExportID, nil, nil
}

// forget ends the export of a subject erased (or deleted by the
// application) after its archive was written: nobody is told, the archive
// goes with every version, and the request is done (there is nothing left
// to give).
func (j *RequestJob) forget(ctx context.Context, tx pgx.Tx, t *jobs.Tally, r *Ready, archive string) error {
	_, removed, err := deleteArchive(ctx, j.store, archive, r.ExportID)
	if err != nil {
		return fmt.Errorf("%w (subject gone)", err)
	}
	t.Add(jobs.ObjectsRemoved, removed.Versions+removed.DeleteMarkers)
	if _, err := tx.Exec(ctx, j.sql.done, r.Key, r.RequestedAt); err != nil {
		return fmt.Errorf("export: mark the request done: %w", err)
	}
	_, err = tx.Exec(ctx, `UPDATE lethe.exports SET status = 'gone', subject_key = NULL, done_at = now(), expired_at = now() WHERE id = $1`, r.ExportID)
	if err != nil {
		return fmt.Errorf("export: mark gone: %w", err)
	}
	t.Add(SubjectsGone, 1)
	return nil
}

// rowValues reads the subject row's columns as text; NULLs are left out.
func rowValues(b []byte) (map[string]string, error) {
	out := map[string]string{}
	if len(b) == 0 {
		return out, nil
	}
	row := map[string]*string{}
	if err := json.NewDecoder(io.LimitReader(bytes.NewReader(b), 1<<24)).Decode(&row); err != nil {
		return nil, fmt.Errorf("export: read the subject row: %w", err)
	}
	for k, v := range row {
		if v != nil {
			out[k] = *v
		}
	}
	return out, nil
}
