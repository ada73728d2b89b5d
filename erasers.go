package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
	"github.com/lethe-project/lethe/objstore/s3store"
	"github.com/lethe-project/lethe/outside"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
)

// buildErasers builds the erasers for the policy's objects: and processors:
// sections. S3 is configured the standard way: region and credentials from
// the AWS default chain (AWS_REGION, keys, web identity / IRSA, shared
// files, instance and task roles), with LETHE_S3_ENDPOINT and
// LETHE_S3_PATH_STYLE for S3-compatible servers; an S3 client is built only
// when a location uses s3://. Processors' ${NAME} references are read from
// the process environment here, in main, and a missing one is a
// configuration error (exit 2) before anything is changed.
func buildErasers(ctx context.Context, cfg *Config, pol *policy.Policy, logger *slog.Logger) ([]purge.Eraser, error) {
	if len(pol.Objects) == 0 && len(pol.Processors) == 0 {
		return nil, nil
	}
	var locs []string
	for _, o := range pol.Objects {
		locs = append(locs, o.Location)
	}
	router, err := buildRouter(ctx, cfg, locs)
	if err != nil {
		return nil, err
	}
	return outside.New(pol, router, os.LookupEnv, nil, logger)
}

// buildRouter builds an object-store router for locations: file://
// always, and an S3 client (configured as buildErasers says) when one of
// them uses s3://.
func buildRouter(ctx context.Context, cfg *Config, locations []string) (*objstore.Router, error) {
	router := &objstore.Router{File: filestore.Store{}}
	for _, l := range locations {
		if strings.HasPrefix(l, "s3://") {
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

// orphanLocations lists the object locations of the policy's orphans:
// section.
func orphanLocations(pol *policy.Policy) []string {
	var locs []string
	if pol.Orphans != nil {
		for _, r := range pol.Orphans.Organizations {
			locs = append(locs, r.Objects...)
		}
		for _, o := range pol.Orphans.Objects {
			locs = append(locs, o.Location)
		}
	}
	return locs
}
