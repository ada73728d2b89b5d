package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/journal"
	"github.com/lethe-project/lethe/objstore/s3store"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/replay"
	"github.com/lethe-project/lethe/subject"
)

// validateJournal checks the journal's settings and lethe replay's
// --since.
func (c *Config) validateJournal() []string {
	var errs []string
	if c.Journal != "" {
		if err := journal.CheckLocation(c.Journal); err != nil {
			errs = append(errs, "LETHE_JOURNAL: "+err.Error())
		}
	}
	if _, err := parseRetention(c.JournalRetention); err != nil {
		errs = append(errs, "LETHE_JOURNAL_RETENTION: "+err.Error())
	}
	if _, err := parseSince(c.Since); err != nil {
		errs = append(errs, "--since: "+err.Error())
	}
	return errs
}

// parseRetention reads a retention: a Go duration (8760h), a number of
// days (400d), or 0 for ever.
func parseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "" {
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("%q: want a number of days such as 400d, a duration such as 8760h, or 0", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q: want a number of days such as 400d, a duration such as 8760h, or 0", s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("%q: must not be negative", s)
	}
	return d, nil
}

// parseSince reads --since: RFC 3339 or a date (midnight UTC).
func parseSince(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-01-31T12:00:00Z) or a date (2026-01-31)", s)
}

// openJournal opens LETHE_JOURNAL; nil when it is not set.
func openJournal(cfg *Config) (*journal.Journal, error) {
	if cfg.Journal == "" {
		return nil, nil
	}
	j, err := journal.Open(context.Background(), cfg.Journal, func(ctx context.Context) (*s3.Client, error) {
		return s3store.NewClient(ctx, s3store.Config{Endpoint: cfg.S3Endpoint, ForcePathStyle: cfg.S3PathStyle})
	})
	if err != nil {
		return nil, &jobs.ConfigError{Err: fmt.Errorf("LETHE_JOURNAL: %w", err)}
	}
	return j, nil
}

// newOutbox is the purge's journal; nil when LETHE_JOURNAL is not set.
func newOutbox(cfg *Config, d jobs.Deps) (purge.Journal, error) {
	j, err := openJournal(cfg)
	if err != nil {
		return nil, err
	}
	if j == nil {
		return nil, nil
	}
	ret, err := parseRetention(cfg.JournalRetention)
	if err != nil {
		return nil, &jobs.ConfigError{Err: fmt.Errorf("LETHE_JOURNAL_RETENTION: %w", err)}
	}
	return &journal.Outbox{Pool: d.Pool, Journal: j, Retention: ret}, nil
}

// previousHashers are the hashers of LETHE_SUBJECT_HASH_KEYS_PREVIOUS.
func previousHashers(cfg *Config) []*subject.Hasher {
	var out []*subject.Hasher
	for _, k := range strings.Split(cfg.PreviousHashKeys, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, subject.NewHasher(k))
		}
	}
	return out
}

// newReplay is lethe replay (and --job replay).
func newReplay(cfg *Config, d jobs.Deps) (jobs.Job, error) {
	j, err := openJournal(cfg)
	if err != nil {
		return nil, err
	}
	pc, err := purgeConfig(cfg, d)
	if err != nil {
		return nil, err
	}
	since, err := parseSince(cfg.Since)
	if err != nil {
		return nil, &jobs.ConfigError{Err: fmt.Errorf("--since: %w", err)}
	}
	return replay.New(replay.Config{Purge: pc, Journal: j, Previous: previousHashers(cfg), Since: since})
}

// warnJournal is lethe check's warning when erasures are not journaled.
func warnJournal(stderr io.Writer, cfg *Config, pol *policy.Policy) {
	if cfg.Journal == "" && pol.HasSubject() {
		fmt.Fprintln(stderr, "lethe: warning: no erasure journal (LETHE_JOURNAL): restoring a backup would bring back the subjects erased since, "+
			"and nothing could erase them again; see docs/backups-and-restores.md")
	}
}
