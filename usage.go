package main

import (
	"fmt"
	"io"
)

func usage(w io.Writer) {
	fmt.Fprint(w, `lethe erases personal data from a PostgreSQL application when it is due.

Usage:
  lethe --job NAME [--dry-run] [flags]   run a job
  lethe check [--policy FILE] [--strict] [--format text|json]
                                         check the policy against the database, list what it does not
                                         classify (--strict: as problems) and print the plan
  lethe init [--table T] [--key K] [--out FILE]
                                         write a draft policy from the database (stdout by default)
  lethe erase --subject KEY [--confirm]  erase one subject now (no grace period, never a hold)
  lethe receipt --subject KEY            show the receipt that proves a subject was erased
  lethe replay [--since TIME] [--dry-run]
                                         after a database restore: erase again whom the journal says was erased
  lethe grants [--role R] [--format F]   print the SQL (and IAM policy) of a least-privilege role
  lethe export --subject KEY [--out FILE|s3://bucket/prefix/] [--dry-run]
                                         write a zip of the subject's rows (GDPR Art. 15/20); stdout if not a terminal
  lethe schedule                         run jobs on cron schedules (LETHE_SCHEDULE), serve /metrics
  lethe version                          print version, commit and Go version (also --version)

lethe with no arguments and no LETHE_JOB prints this and exits 2.

Jobs:
`)
	jobsFor(&Config{}).Usage(w)
	fmt.Fprint(w, `
Flags (override the environment):
  --job NAME            job to run
  --policy FILE         policy file
  --dry-run             change nothing; report what a real run would do
  --dry-run=execute     the purge runs every statement of each batch and rolls back
  --batch-size N        subjects (or rows) per transaction
  --workers N           batches in flight at once
  --time-budget D       stop starting batches after D (e.g. 10m)
  --max-subjects N      blast-radius guard: most subjects one purge may erase
  --max-share F         blast-radius guard: largest share of all subjects (0-1); at any size,
                        more than 90% (and at least 2) of all is refused too
  --allow-large         run even when the blast-radius guard would refuse
  --log-format F        json or text
  --log-level L         debug, info, warn or error
  --summary             print the summary table even when stdout is not a terminal

Environment:
`)
	for _, e := range envVars {
		fmt.Fprintf(w, "  %-24s %s\n", e[0], e[1])
	}
	fmt.Fprint(w, `
Exit codes:
  0  done
  1  the job failed; what was committed stays committed and is correct, the next run continues
  2  configuration or policy is wrong; nothing was changed
  3  refused by a safety guard (blast radius); nothing was changed
`)
}
