package inactivity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/delivery"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
)

// Notice is one warning as a channel delivers it. Its ID is its identity
// on every attempt: the webhook's Idempotency-Key, the mail's Message-ID.
type Notice struct {
	// ID is the notice's uuid.
	ID string
	// Key is the subject's key. Never log it.
	Key string
	// Email is the subject's address, empty when none.
	Email string
	// LastActive is the last activity the warning is about.
	LastActive time.Time
	// DeletionDate is when deletion will be requested if the subject stays
	// inactive; zero with then: notify-only.
	DeletionDate time.Time
	// Row is the subject row's columns as text.
	Row map[string]string
}

// channel delivers notices; Deliver must be safe to repeat with the same
// notice (the receiver deduplicates by its ID).
type channel interface {
	name() string
	deliver(ctx context.Context, n *Notice) error
}

// deliverAll delivers every pending notice, oldest first, each in its own
// transaction that holds the notice's row lock while it is delivered: a
// concurrent run skips it, and a crash before the commit leaves it pending
// for the next run, which resends it with the same ID.
func (j *Job) deliverAll(ctx context.Context, s *jobs.Session) error {
	failed := delivery.NewFailures()
	for s.Continue(ctx) {
		var o outcome
		err := s.InTx(ctx, func(ctx context.Context, tx pgx.Tx, t *jobs.Tally) error {
			var err error
			o, err = j.deliverNext(ctx, tx, failed.IDs, t)
			return err
		})
		if err != nil {
			return err
		}
		if o.id == "" {
			break
		}
		failed.Add(o.id, o.failed)
		if failed.Stop(j.cfg.MaxFailures) {
			s.Report.Set(DeliveryStopped, 1)
			break
		}
	}
	return failed.Err("inactivity", "notice(s) not delivered")
}

// outcome is what became of one pending notice: its id (empty when there
// was none left) and the delivery error.
type outcome struct {
	id     string
	failed error
}

// deliverNext locks the oldest pending notice not failed in this run,
// delivers it on the channels it still needs and records the outcome.
func (j *Job) deliverNext(ctx context.Context, tx pgx.Tx, failed []string, t *jobs.Tally) (outcome, error) {
	var (
		n                     Notice
		needWebhook, needMail bool
		now                   time.Time
		exists                bool
		current               *time.Time
		email                 *string
		rowJSON               []byte
	)
	err := tx.QueryRow(ctx, j.sql.nextNotice, failed).Scan(&n.ID, &n.Key, &n.LastActive, &needWebhook, &needMail,
		&now, &exists, &current, &email, &rowJSON)
	if errors.Is(err, pgx.ErrNoRows) {
		return outcome{}, nil
	}
	if err != nil {
		return outcome{}, fmt.Errorf("inactivity: next notice: %w", err)
	}
	hash := j.cfg.Hasher.Hash(n.Key)
	switch {
	case !exists:
		_, err = tx.Exec(ctx, "DELETE FROM lethe.notices WHERE id = $1", n.ID)
		t.Add(NoticesForgotten, 1)
		return outcome{id: n.ID}, err
	case current != nil && current.After(n.LastActive):
		_, err = tx.Exec(ctx, "UPDATE lethe.notices SET status = 'closed', closed_at = now() WHERE id = $1", n.ID)
		t.Add(ClosedActiveAgain, 1)
		return outcome{id: n.ID}, err
	}
	if email != nil {
		n.Email = strings.TrimSpace(*email)
	}
	if j.in.Then == policy.RequestDeletion {
		n.DeletionDate = now.Add(time.Duration(j.in.Warn))
	}
	row := map[string]*string{}
	if err := json.Unmarshal(rowJSON, &row); err != nil {
		return outcome{id: n.ID}, fmt.Errorf("inactivity: read subject row: %w", err)
	}
	n.Row = make(map[string]string, len(row))
	for k, v := range row {
		if v != nil {
			n.Row[k] = *v
		}
	}

	// One channel per transaction: a crash while delivering on one channel
	// never repeats a channel that was already marked sent.
	var todo []channel
	for _, c := range j.channels {
		if (c.name() == "email" && needMail) || (c.name() == "webhook" && needWebhook) {
			todo = append(todo, c)
		}
	}
	if len(todo) > 0 {
		c := todo[0]
		if err := c.deliver(ctx, &n); err != nil {
			derr := fmt.Errorf("%s: %s", c.name(), redact(err.Error(), n))
			t.Add(DeliveryFailures, 1)
			j.cfg.Logger.Warn("notice not delivered", slog.String("subject", hash), slog.String("error", derr.Error()))
			_, err = tx.Exec(ctx, "UPDATE lethe.notices SET attempts = attempts + 1, last_error = $2 WHERE id = $1", n.ID, derr.Error())
			return outcome{id: n.ID, failed: derr}, err
		}
		col := map[string]string{"webhook": "webhook_sent_at", "email": "email_sent_at"}[c.name()]
		if _, err := tx.Exec(ctx, "UPDATE lethe.notices SET "+col+" = now(), attempts = attempts + 1 WHERE id = $1", n.ID); err != nil {
			return outcome{id: n.ID}, fmt.Errorf("inactivity: mark %s sent: %w", c.name(), err)
		}
		if len(todo) > 1 {
			return outcome{id: n.ID}, nil // the next round delivers the next channel
		}
	}
	_, err = tx.Exec(ctx, `UPDATE lethe.notices SET status = 'sent', sent_at = now(), last_error = NULL WHERE id = $1`, n.ID)
	if err != nil {
		return outcome{id: n.ID}, fmt.Errorf("inactivity: mark sent: %w", err)
	}
	t.Add(Warned, 1)
	j.cfg.Logger.Debug("notice delivered", slog.String("subject", hash))
	return outcome{id: n.ID}, nil
}

// redact removes the subject's key and address from an error that a
// receiver or mail server wrote, before it is logged or stored.
func redact(msg string, n Notice) string {
	for _, s := range []string{n.Key, n.Email} {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}
