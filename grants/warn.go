package grants

import (
	"context"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// privilegedSQL tells in one round trip whether the session's role is a
// superuser and which of the named tables ($1, quoted names) it owns or
// holds the owner's rights on (a member of the owning role).
const privilegedSQL = `
SELECT r.rolsuper,
       ARRAY(SELECT c.oid::regclass::text FROM unnest($1::text[]) AS n(name)
             JOIN pg_class c ON c.oid = to_regclass(n.name)
             WHERE pg_has_role(current_user, c.relowner, 'USAGE') ORDER BY 1)
FROM pg_roles r WHERE r.rolname = current_user`

// WarnPrivileged logs one warning when lethe runs with more than it needs:
// as a superuser, or as (a member of) the owner of application tables the
// policy names. It names tables, never data. A failed check is logged at
// debug and ignored: it must never stop a run.
func WarnPrivileged(ctx context.Context, q catalog.Querier, p *policy.Policy, logger *slog.Logger) {
	var super bool
	var owned []string
	if err := q.QueryRow(ctx, privilegedSQL, policyTables(p)).Scan(&super, &owned); err != nil {
		logger.Debug("could not check lethe's privileges", slog.String("error", err.Error()))
		return
	}
	switch {
	case super:
		logger.Warn("lethe is connected as a superuser: it can change anything, not only what the policy allows; run it as a role made with lethe grants (docs/least-privilege.md)")
	case len(owned) > 0:
		logger.Warn("lethe's role owns application tables named in the policy: it could alter or drop them; run it as a role made with lethe grants (docs/least-privilege.md)",
			slog.String("tables", strings.Join(owned, ", ")))
	}
}

// policyTables returns every table the policy names, quoted.
func policyTables(p *policy.Policy) []string {
	var ids []policy.Ident
	ids = append(ids, p.Subject.Table)
	for _, r := range p.Tables {
		ids = append(ids, r.Table)
	}
	for _, r := range p.Retention {
		ids = append(ids, r.Table)
	}
	if o := p.Orphans; o != nil {
		for _, r := range o.Organizations {
			ids = append(ids, r.Table, r.Members.Table)
			for _, t := range r.Tables {
				ids = append(ids, t.Table)
			}
		}
		for _, r := range o.Invites {
			ids = append(ids, r.Table)
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if len(id.Parts) == 0 {
			continue
		}
		name := pgx.Identifier(id.Parts).Sanitize()
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}
