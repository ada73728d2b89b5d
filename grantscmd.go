package main

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/grants"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
)

// printGrants writes the least-privilege role's SQL script and/or IAM
// policy for the policy and the live catalog; it changes nothing.
func printGrants(ctx context.Context, cfg *Config, pool *pgxpool.Pool, pol *policy.Policy, stdout, stderr io.Writer) int {
	g, err := grants.Compute(ctx, pool, pol)
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", err)
		return jobs.ExitCode(err)
	}
	g.Journal = cfg.Journal
	if cfg.GrantsFormat == "iam" {
		err = g.WriteIAM(stdout)
		_ = g.WriteFileNotes(stderr, "lethe: ")
	} else {
		err = g.WriteSQL(stdout, cfg.Role)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lethe: %v\n", err)
		return jobs.ExitConfig
	}
	return 0
}
