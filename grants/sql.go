package grants

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DefaultRole is the role name lethe grants uses when none is given.
const DefaultRole = "lethe"

// roleTag is the dollar quote of the DO block that creates the role.
const roleTag = "$lethe_role$"

// CheckRole returns an error unless name can be a role name in the script.
func CheckRole(name string) error {
	switch {
	case name == "":
		return errors.New("--role: the role name is empty")
	case len(name) > 63:
		return fmt.Errorf("--role: the role name is %d bytes long, PostgreSQL allows 63", len(name))
	case strings.ContainsAny(name, "\x00$"):
		return errors.New("--role: the role name may not hold a NUL or a $")
	case strings.HasPrefix(strings.ToLower(name), "pg_"):
		return errors.New("--role: names starting with pg_ are reserved by PostgreSQL")
	}
	return nil
}

// WriteSQL writes the script that creates role and grants it exactly what
// g needs, with a comment for each grant. An administrator runs it.
func (g *Grants) WriteSQL(w io.Writer, role string) error {
	ew := &errWriter{w: w}
	r := pgx.Identifier{role}.Sanitize()
	ew.printf("-- Least privilege for lethe, written by `lethe grants` from %s (sha256 %s)\n", g.PolicyPath, short(g.PolicyDigest))
	ew.printf("-- and the catalog of database %s. Run it as a superuser (or the tables' owner):\n", g.Database)
	ew.printf("--   psql -v ON_ERROR_STOP=1 -f grants.sql, then set the password:  \\password %s\n", r)
	ew.printf("-- It can be run again after the policy or the schema changes: it revokes what the role\n")
	ew.printf("-- held on the application's schemas and grants what the policy needs now.\n\nBEGIN;\n\n")
	ew.printf("-- The role logs in and holds nothing else: no superuser, no CREATEDB, no CREATEROLE, no BYPASSRLS.\n")
	ew.printf("DO %s BEGIN\n  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN\n", roleTag, strings.ReplaceAll(role, "'", "''"))
	ew.printf("    CREATE ROLE %s LOGIN;\n  END IF;\nEND %s;\n", r, roleTag)
	ew.printf("ALTER ROLE %s NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;\n", r)
	ew.printf("-- lethe connects to this database (PUBLIC usually may; said here in case that was revoked).\n")
	ew.printf("GRANT CONNECT ON DATABASE %s TO %s;\n", pgx.Identifier{g.Database}.Sanitize(), r)
	ew.printf("-- The governor waits while the application's sessions queue behind lethe's locks, or the\n")
	ew.printf("-- replicas lag: PostgreSQL shows other roles' sessions and the replicas' lag only to\n")
	ew.printf("-- members of pg_read_all_stats (the statistics part of pg_monitor). It gives no access to\n")
	ew.printf("-- any table; it does show other sessions' query text, which lethe never reads.\n")
	ew.printf("-- Granting it takes a superuser (or its ADMIN OPTION): otherwise this warns, and the governor sees less.\n")
	ew.printf("DO %s BEGIN\n  GRANT pg_read_all_stats TO %s;\n", roleTag, r)
	ew.printf("EXCEPTION WHEN insufficient_privilege THEN\n  RAISE WARNING 'pg_read_all_stats not granted: the governor will not see other roles'' sessions';\nEND %s;\n\n", roleTag)

	ew.printf("-- lethe's own schema holds its ledger (runs, receipts, notices), which lethe creates and migrates.\n")
	ew.printf("-- The role owns the schema, so a new migration needs no new grant; it needs no CREATE on the database.\n")
	ew.printf("CREATE SCHEMA IF NOT EXISTS lethe AUTHORIZATION %s;\nALTER SCHEMA lethe OWNER TO %s;\n", r, r)
	for _, t := range g.LetheTables {
		ew.printf("ALTER TABLE %s OWNER TO %s;\n", pgx.Identifier{"lethe", t}.Sanitize(), r)
	}
	ew.printf("\n-- Start from nothing on the application's schemas (privileges of an earlier policy go).\n")
	for _, s := range g.AppSchemas {
		ew.printf("REVOKE ALL ON ALL TABLES IN SCHEMA %s FROM %s;\n", pgx.Identifier{s}.Sanitize(), r)
		ew.printf("REVOKE ALL ON SCHEMA %s FROM %s;\n", pgx.Identifier{s}.Sanitize(), r)
	}
	for _, s := range g.Schemas() {
		ew.printf("-- schema %s holds tables of the policy: lethe may look them up, nothing more.\n", s)
		ew.printf("GRANT USAGE ON SCHEMA %s TO %s;\n", pgx.Identifier{s}.Sanitize(), r)
	}
	for _, e := range g.Tables {
		g.writeTable(ew, e, r)
	}
	ew.printf("\nCOMMIT;\n")
	g.writeNotes(ew)
	return ew.err
}

func (g *Grants) writeTable(ew *errWriter, e *Table, r string) {
	t := e.Table.Ident()
	ew.printf("\n-- %s\n", e.Table)
	for _, why := range e.Why {
		ew.printf("--   %s\n", why)
	}
	privs := []string{"SELECT"}
	if e.Delete {
		privs = append(privs, "DELETE")
	}
	ew.printf("GRANT %s ON %s TO %s;\n", strings.Join(privs, ", "), t, r)
	if len(e.Update) > 0 {
		if e.LockColumn != "" {
			ew.printf("--   %s;\n--   a row lock needs UPDATE on one column: %s, which lethe never writes\n", e.Lock, e.LockColumn)
		}
		ew.printf("GRANT UPDATE (%s) ON %s TO %s;\n", identList(e.Update), t, r)
	}
	if len(e.Leaves) > 0 {
		ew.printf("--   retention deletes from each leaf partition directly. New partitions need the same grant:\n")
		ew.printf("--   with pg_partman set part_config.inherit_privileges = true for this table.\n")
		for _, l := range e.Leaves {
			ew.printf("GRANT SELECT, DELETE ON %s TO %s;\n", l, r)
		}
	}
	if e.Detach {
		owner := pgx.Identifier{e.Owner}.Sanitize()
		ew.printf("--   retention drops whole partitions older than the cutoff: DETACH PARTITION, DROP TABLE and\n")
		ew.printf("--   COMMENT ON need ownership of the table and its partitions, which no GRANT gives. Either\n")
		ew.printf("--   make the role a member of the owner (it then holds all the owner's rights, and lethe\n")
		ew.printf("--   warns at start):\n--     GRANT %s TO %s;\n", owner, r)
		ew.printf("--   or have a dedicated role own this table and its partitions, and grant that role to\n")
		ew.printf("--   both the application's migrations and %s. See docs/least-privilege.md.\n", r)
	}
}

// writeNotes ends the script with what SQL cannot grant.
func (g *Grants) writeNotes(ew *errWriter) {
	ew.printf("\n-- Not granted, on purpose: TRUNCATE, INSERT, REFERENCES, TRIGGER, any other table or column.\n")
	ew.printf("-- Triggers on these tables run as lethe's role: if one writes elsewhere (an audit table), grant that too.\n")
	ew.printf("-- Row-level security applies to the role: its policies must let it see and delete the rows.\n")
	g.writeFileNotes(ew, "-- ")
	if len(g.s3Buckets()) > 0 || len(g.journalStatements()) > 0 {
		ew.printf("\n-- The s3:// locations need object-store permissions: lethe grants --format iam writes the\n")
		ew.printf("-- IAM policy. Here it is, for reference:\n")
		cw := &commentWriter{w: ew}
		_ = g.WriteIAM(cw)
	}
}

func identList(cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = pgx.Identifier{c}.Sanitize()
	}
	return strings.Join(out, ", ")
}

func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// commentWriter prefixes each line with "-- ".
type commentWriter struct{ w io.Writer }

func (c *commentWriter) Write(p []byte) (int, error) {
	lines := strings.SplitAfter(string(p), "\n")
	for _, l := range lines {
		if l == "" {
			continue
		}
		if _, err := io.WriteString(c.w, "-- "+l); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
