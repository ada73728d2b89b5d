package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/export"
	"github.com/lethe-project/lethe/inactivity"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
	"github.com/lethe-project/lethe/objstore/s3store"
	"github.com/lethe-project/lethe/orphans"
	"github.com/lethe-project/lethe/outside"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/retention"
)

// jobsFor is every job this build has, configured by cfg: adding a job is
// its package plus one entry here. Usage, --job validation, lethe check
// and lethe schedule read it.
func jobsFor(cfg *Config) *jobs.Registry {
	return jobs.NewRegistry(
		jobs.Spec{
			Name: "purge", Help: "erase subjects whose deletion request is older than the grace period",
			Sections: []string{"subject"},
			New:      func(d jobs.Deps) (jobs.Job, error) { return newPurge(cfg, d, nil) },
		},
		jobs.Spec{
			Name: "replay", Help: "after a restore: erase again the subjects the erasure journal says were erased",
			Sections: []string{"subject"},
			New:      func(d jobs.Deps) (jobs.Job, error) { return newReplay(cfg, d) },
		},
		jobs.Spec{
			Name: "retention", Help: "delete rows older than the policy's retention rules",
			Sections: []string{"retention"},
			New: func(d jobs.Deps) (jobs.Job, error) {
				return retention.New(retention.Config{Deps: d, TargetBatchTime: cfg.TargetBatchTime})
			},
		},
		jobs.Spec{
			Name: "inactivity", Help: "warn inactive subjects, then request their deletion",
			Sections: []string{"subject", "inactivity"},
			New: func(d jobs.Deps) (jobs.Job, error) {
				ic := inactivity.Config{
					Deps:     d,
					SMTPURL:  cfg.SMTPURL,
					SMTPRate: cfg.SMTPRate,
				}
				if wh := d.Policy.Inactivity.Notify.Webhook; wh != nil {
					// The secret is named by the policy and read from the environment.
					ic.WebhookSecret, _ = d.Env(wh.SecretEnv)
				}
				return inactivity.New(ic)
			},
		},
		jobs.Spec{
			Name: "export", Help: "write the archives of recorded access requests and tell the people",
			Sections: []string{"subject", "export"},
			New:      func(d jobs.Deps) (jobs.Job, error) { return newExportJob(cfg, d) },
		},
		jobs.Spec{
			Name: "orphans", Help: "remove organizations, invites and files that lost their owner",
			Sections: []string{"orphans"},
			New: func(d jobs.Deps) (jobs.Job, error) {
				return orphans.New(orphans.Config{Deps: d})
			},
		},
	)
}

// newPurge builds the purge, or with key the erasure of that one subject
// (lethe erase), with the erasers of the policy's objects: and processors:
// and of the subjects' export archives (any the export job wrote).
// A processor's ${NAME} that the environment lacks is a configuration
// error (exit 2) before anything is changed.
func newPurge(cfg *Config, d jobs.Deps, key *string) (jobs.Job, error) {
	pc, err := purgeConfig(cfg, d)
	if err != nil {
		return nil, err
	}
	if pc.Journal, err = newOutbox(cfg, d); err != nil {
		return nil, err
	}
	if key != nil {
		return purge.NewErase(pc, *key)
	}
	return purge.New(pc)
}

// purgeConfig is the purge's configuration, for the purge, lethe erase
// and lethe replay.
func purgeConfig(cfg *Config, d jobs.Deps) (purge.Config, error) {
	pc := purge.Config{
		Deps:    d,
		Workers: cfg.Workers,
	}
	if len(d.Policy.Objects) > 0 || len(d.Policy.Processors) > 0 {
		erasers, err := outside.New(d.Policy, d.Objects, d.Env, nil, d.Logger)
		if err != nil {
			return pc, err
		}
		pc.Erasers = erasers
	}
	if d.Objects != nil {
		// An erased subject's export archives go with the subject, found
		// at the locations lethe.exports recorded: also once the policy
		// lost its export: section, or the purge would report success
		// over an archive of the person.
		a, err := export.NewArchives(d.Pool, d.Objects, d.Logger)
		if err != nil {
			return pc, err
		}
		a.Previous = previousHashers(cfg)
		pc.Erasers = append(pc.Erasers, a)
	}
	return pc, nil
}

// objectRouter is the one object store of the process, for every job. S3
// is configured the standard way: region and credentials from the AWS
// default chain (AWS_REGION, keys, web identity / IRSA, shared files,
// instance and task roles), with LETHE_S3_ENDPOINT and LETHE_S3_PATH_STYLE
// for S3-compatible servers; an S3 client is built only when a location of
// the policy uses s3://.
func objectRouter(ctx context.Context, cfg *Config, pol *policy.Policy) (*objstore.Router, error) {
	router := &objstore.Router{File: filestore.Store{}}
	var locations []string
	for _, o := range pol.Objects {
		locations = append(locations, o.Location)
	}
	if pol.Orphans != nil {
		for _, o := range pol.Orphans.Objects {
			locations = append(locations, o.Location)
		}
		for _, org := range pol.Orphans.Organizations {
			locations = append(locations, org.Objects...)
		}
	}
	if pol.ExportJob != nil {
		locations = append(locations, pol.ExportJob.To)
	}
	for _, loc := range locations {
		if strings.HasPrefix(loc, "s3://") {
			s3, err := s3store.New(ctx, s3store.Config{Endpoint: cfg.S3Endpoint, ForcePathStyle: cfg.S3PathStyle})
			if err != nil {
				return nil, &jobs.ConfigError{Err: fmt.Errorf("s3: %w", err)}
			}
			router.S3 = s3
			break
		}
	}
	return router, nil
}

// newExportJob builds the export job; its archives go where the policy's
// export.to says, through the process's object store.
func newExportJob(cfg *Config, d jobs.Deps) (jobs.Job, error) {
	rc := export.RequestConfig{
		Config:  export.Config{Deps: d},
		SMTPURL: cfg.SMTPURL, SMTPRate: cfg.SMTPRate,
	}
	if s3, ok := d.Objects.S3.(*s3store.Store); ok && s3 != nil {
		rc.S3 = s3.Client()
	}
	return export.NewRequestJob(rc)
}
