package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/discover"
	"github.com/lethe-project/lethe/draft"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
)

// runInit is lethe init: it writes a draft policy from the live catalog
// to stdout, or to --out (a new file). It only reads the database.
func runInit(ctx, stop context.Context, cfg *Config, logger *slog.Logger, stdout, stderr io.Writer) int {
	pool, code := open(stop, cfg, stderr)
	if pool == nil {
		return code
	}
	defer pool.Close()
	var out bytes.Buffer
	if err := writeDraft(ctx, pool, cfg, logger, &out); err != nil {
		fmt.Fprintf(stderr, "lethe: init: %v\n", err)
		return jobs.ExitCode(err)
	}
	var err error
	if cfg.Out == "" {
		_, err = stdout.Write(out.Bytes())
	} else {
		err = writeNew(cfg.Out, out.Bytes())
	}
	if err != nil {
		fmt.Fprintf(stderr, "lethe: init: %v\n", err)
		return jobs.ExitFailed
	}
	if cfg.Out != "" {
		fmt.Fprintf(stderr, "lethe: wrote %s; review every \"# review\" line, then run lethe check --policy %s\n", cfg.Out, cfg.Out)
	}
	return 0
}

// writeNew writes a file that must not exist yet: a draft never
// overwrites a policy someone reviewed.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// writeDraft reads the catalog, picks the subject and writes the draft.
func writeDraft(ctx context.Context, pool *pgxpool.Pool, cfg *Config, logger *slog.Logger, w io.Writer) error {
	ph := newPhases(logger, "init")
	cat, err := catalog.Load(ctx, pool)
	if err != nil {
		return err
	}
	ph.done("catalog")
	target, err := initSubject(cat, cfg)
	if err != nil {
		return &jobs.ConfigError{Err: err}
	}
	in := draft.Input{Catalog: cat, Subject: target}
	in.Discover = func(ctx context.Context, deleted []discover.Target, sample bool) (*discover.Result, error) {
		del := map[*catalog.Table]bool{target.Table: true}
		for _, t := range deleted {
			del[t.Table] = true
		}
		di := discover.Input{Catalog: cat, Subject: target, Deleted: deleted,
			Covered: func(t *catalog.Table, _ string) bool { return del[t] }}
		if !sample {
			di.Config = &policy.Discovery{SampleRows: -1}
		}
		return discover.Find(ctx, pool, di, discover.Options{Logger: logger})
	}
	d, err := draft.New(ctx, in)
	if err != nil {
		return err
	}
	ph.done("draft")
	return d.Write(w, draft.Header(pool.Config().ConnConfig.Database, time.Now()))
}

// initSubject resolves --table and --key, or guesses them.
func initSubject(cat *catalog.Catalog, cfg *Config) (discover.Target, error) {
	var t *catalog.Table
	if cfg.InitTable != "" {
		id, err := policy.ParseIdent(cfg.InitTable)
		if err != nil {
			return discover.Target{}, fmt.Errorf("--table: %v", err)
		}
		var ok bool
		if t, ok = cat.Lookup(id); !ok {
			return discover.Target{}, fmt.Errorf("--table: %s", cat.Missing(id))
		}
	} else if t = draft.GuessSubject(cat); t == nil {
		return discover.Target{}, errors.New("no users, accounts, people, members or customers table with a one-column primary key: name the account table with --table")
	}
	key := cfg.InitKey
	if key == "" {
		if len(t.PK) != 1 {
			return discover.Target{}, fmt.Errorf("%s has no one-column primary key: name its key with --key", t)
		}
		key = t.PK[0]
	}
	c, ok := t.Columns[key]
	if !ok {
		return discover.Target{}, fmt.Errorf("--key: %s", t.MissingColumn(key))
	}
	return discover.Target{Table: t, Key: c}, nil
}
