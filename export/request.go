package export

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/policy"
)

// RequestConfig is everything the export job (lethe --job export) needs
// besides the limits of the run's session. The zero values of the numeric
// fields take the defaults below.
type RequestConfig struct {
	// Config is the export's: Pool, Policy, Hasher (required unless dry),
	// Logger, Objects (which also deletes expired archives), Env (for the
	// webhook's secret and the processors) and HTTPClient. Its
	// Destination is not used: archives go to the policy's export.to.
	Config
	// S3 is the client of an s3:// export.to: it uploads archives and
	// signs their links.
	S3 *s3.Client
	// SMTPURL is LETHE_SMTP_URL; required with notify.smtp.
	SMTPURL string
	// SMTPRate is the most mails sent per second. Default 5.
	SMTPRate float64
	// TLSConfig, when set, is used for SMTP connections.
	TLSConfig *tls.Config
	// DeliveryTimeout bounds one delivery attempt. Default 10s.
	DeliveryTimeout time.Duration
	// MaxFailures stops writing, or delivering, for the rest of the run
	// after this many consecutive failures (a bucket or receiver that is
	// down). Default 3.
	MaxFailures int
	// Workers is how many archives are written at once; a worker holds a
	// database connection only while it reads the rows, so the pool's size
	// does not bound it. Default 8.
	Workers int

	// afterSend, set by tests, runs when a channel has delivered and
	// before that is recorded.
	afterSend func(channel string)
}

// maxPresign is the longest an S3 presigned link can last (SigV4).
const maxPresign = 7 * 24 * time.Hour

// RequestJob is the export job: it serves the access requests the
// application records, with outbox semantics (lethe.exports): each
// request is recorded, its archive written, the person told, and the
// request marked done in the transaction that records the last delivery,
// so that a run killed at any point is finished by the next one.
type RequestJob struct {
	cfg      RequestConfig
	sec      *policy.ExportJob
	exp      *Job
	sql      requestSQL
	channels []noticeChannel
	store    objstore.Store
	archive  objstore.Location
}

var (
	_ jobs.Job     = (*RequestJob)(nil)
	_ jobs.Checker = (*RequestJob)(nil)
)

// NewRequestJob returns the export job; the policy must have an export:
// section.
func NewRequestJob(cfg RequestConfig) (*RequestJob, error) {
	if cfg.Pool == nil || cfg.Policy == nil {
		return nil, errors.New("export: Pool and Policy are required")
	}
	if cfg.Policy.ExportJob == nil {
		return nil, cfg.Policy.Require("the export job", "export")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SMTPRate <= 0 {
		cfg.SMTPRate = 5
	}
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = 10 * time.Second
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 3
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	exp, err := New(cfg.Config, "")
	if err != nil {
		return nil, err
	}
	exp.pipelined = true
	sec := cfg.Policy.ExportJob
	// The archive of an export is TO/ID.zip: the template deletes it with
	// every version, as objstore deletes a subject's files.
	loc, err := objstore.ParseLocation(sec.To + "{id}.zip")
	if err != nil {
		return nil, &jobs.ConfigError{Err: fmt.Errorf("export.to: %w", err)}
	}
	j := &RequestJob{cfg: cfg, sec: sec, exp: exp, archive: loc}
	if cfg.Objects != nil {
		j.store = cfg.Objects
	}
	return j, nil
}

// Name implements jobs.Job.
func (j *RequestJob) Name() string { return "export" }

// Check implements jobs.Checker: the export: section against the catalog
// and the environment.
func (j *RequestJob) Check(ctx context.Context) error {
	_, err := j.check(ctx, true)
	return err
}

// check builds the plan and resolves the section; every problem is one
// *policy.Error (exit 2), found before anything is changed.
func (j *RequestJob) check(ctx context.Context, dry bool) (*prepared, error) {
	pr, err := j.exp.prepare(ctx)
	if err != nil {
		return nil, err
	}
	pol := j.cfg.Policy
	perr := &policy.Error{Path: pol.Path}
	cols := resolveRequest(pr.pl, j.sec, perr)
	j.channels = j.buildChannels(perr, pr.pl.Subject.Table)
	if j.store == nil {
		perr.Add(j.sec.Line, "export.to: no object store for %s", j.archive.Scheme())
	}
	if j.archive.Scheme() == objstore.SchemeS3 && j.cfg.S3 == nil {
		perr.Add(j.sec.Line, "export.to: an s3:// destination needs an S3 client (LETHE_S3_ENDPOINT and the AWS credentials)")
	}
	if !dry && j.cfg.Hasher == nil {
		perr.Add(0, "LETHE_SUBJECT_HASH_KEY is not set: the audit record and logs name subjects by their keyed hash")
	}
	if err := perr.Err(); err != nil {
		return nil, err
	}
	j.sql = buildRequestSQL(cols)
	return pr, nil
}

// Run implements jobs.Job: it deletes expired archives, records new
// requests, writes their archives, and tells the people, marking each
// request done with its last notice.
func (j *RequestJob) Run(ctx context.Context, s *jobs.Session) error {
	pr, err := j.check(ctx, s.DryRun())
	if err != nil {
		return err
	}
	if err := j.stats(ctx, s); err != nil {
		return err
	}
	if s.DryRun() {
		return nil
	}
	release, ok, err := s.TryLock(ctx, jobs.LockKey("export", "requests"))
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("export: another export job is running")
	}
	defer release()
	if err := s.Start(ctx); err != nil {
		return err
	}
	for _, c := range []jobs.Counter{jobs.ArchivesWritten, jobs.ExportFailures, RequestsDone, NoticesSent, ArchivesExpired} {
		s.Report.Add(c, 0)
	}
	if err := j.expireAll(ctx, s); err != nil {
		return err
	}
	if err := j.recordAll(ctx, s); err != nil {
		return err
	}
	werr := j.writeAll(ctx, s, pr)
	derr := j.deliverAll(ctx, s)
	return errors.Join(werr, derr)
}

// The export job's own counters (docs/export.md describes them).
const (
	// RequestsRecorded is how many access requests were recorded.
	RequestsRecorded jobs.Counter = "requests_recorded"
	// RequestsDone is how many requests were marked done.
	RequestsDone jobs.Counter = "requests_done"
	// SubjectsGone is how many requests were of subjects no longer there.
	SubjectsGone jobs.Counter = "subjects_gone"
	// NoticesSent is how many notices a channel accepted.
	NoticesSent jobs.Counter = "notices_sent"
	// ArchivesExpired is how many archives were deleted at their expiry.
	ArchivesExpired jobs.Counter = "archives_expired"
)

// stats reports the pending requests and the oldest one's age, dry or not.
func (j *RequestJob) stats(ctx context.Context, s *jobs.Session) error {
	var (
		n      int64
		oldest *time.Time
		now    time.Time
	)
	err := pgx.BeginTxFunc(ctx, j.cfg.Pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
			return err
		}
		return tx.QueryRow(ctx, j.sql.pending).Scan(&n, &oldest)
	})
	if err != nil {
		return fmt.Errorf("export: count requests: %w", err)
	}
	s.Report.SetGauge(jobs.ExportPendingRequests, float64(n))
	age := 0.0
	if oldest != nil {
		age = max(now.Sub(*oldest).Seconds(), 0)
	}
	s.Report.SetGauge(jobs.ExportOldestRequestAgeSeconds, age)
	return nil
}

// recordAll records the pending requests in lethe.exports, a batch per
// transaction, each under ledger.ExportsLock; while a purge batch holds it
// (the instant between clearing its subjects' requests and committing),
// the rest are left for the next run rather than waited for.
func (j *RequestJob) recordAll(ctx context.Context, s *jobs.Session) error {
	webhook, mail := j.sec.Notify.Webhook != nil, j.sec.Notify.SMTP != nil
	for s.Continue(ctx) {
		var picked int
		var busy bool
		err := s.InTx(ctx, func(ctx context.Context, tx pgx.Tx, t *jobs.Tally) error {
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, ledger.ExportsLock).Scan(&ok); err != nil {
				return fmt.Errorf("export: record requests: %w", err)
			}
			if busy = !ok; busy {
				return nil
			}
			var ins int64
			if err := tx.QueryRow(ctx, j.sql.record, s.Limits.BatchSize, webhook, mail).Scan(&picked, &ins); err != nil {
				return fmt.Errorf("export: record requests: %w", err)
			}
			t.Add(RequestsRecorded, ins)
			return nil
		})
		if err != nil {
			return err
		}
		if busy {
			// A purge batch is committing: the next run records the rest.
			j.cfg.Logger.Debug("a purge batch is finishing: requests left for the next run")
			return nil
		}
		if picked < s.Limits.BatchSize {
			return nil
		}
	}
	return nil
}

// redact removes a subject's key and address from an error written by a
// receiver, a mail server or a store, before it is logged or stored.
func redact(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}
