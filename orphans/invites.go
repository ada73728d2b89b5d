package orphans

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
)

// inviteTarget is one invites: rule resolved against the catalog.
type inviteTarget struct {
	rule  *policy.InviteRule
	table *catalog.Table
	// SQL built once; args are $1 the batch size, then the pending values.
	del, counts string
	args        []any
}

func (iv *inviteTarget) name() string { return iv.table.String() }

func resolveInvite(cat *catalog.Catalog, pol *policy.Policy, r *policy.InviteRule, perr *policy.Error) *inviteTarget {
	where := fmt.Sprintf("orphans: invites %s", r.Table)
	bad := len(perr.Problems)
	t, ok := cat.Lookup(r.Table)
	if !ok {
		perr.Add(r.Line, "%s: table %s does not exist", where, r.Table)
		return nil
	}
	st, ok := cat.Lookup(pol.Subject.Table)
	if !ok {
		perr.Add(r.Line, "%s: the subject table %s does not exist", where, pol.Subject.Table)
		return nil
	}
	key, kok := st.Columns[pol.Subject.Key.Column()]
	req, rok := st.Columns[pol.Subject.RequestedAt.Column()]
	if !kok || !rok {
		perr.Add(r.Line, "%s: the subject table %s lacks its key or requested_at column", where, st)
		return nil
	}
	inv, ok := t.Columns[r.Inviter.Column()]
	if !ok {
		perr.Add(r.Line, "%s: inviter: column %s does not exist in table %s", where, r.Inviter, t)
		return nil
	}
	keyExpr := "u." + key.Ident()
	switch {
	case inv.Type == key.Type, inv.Category == "N" && key.Category == "N":
	case inv.Category == "S":
		keyExpr += "::text"
	default:
		perr.Add(r.Line, "%s: inviter column %s is %s, but the subject key is %s", where, inv.Name, inv.Type, key.Type)
	}
	iv := &inviteTarget{rule: r, table: t}
	conds := []string{"t." + inv.Ident() + " IS NOT NULL"}
	for _, a := range r.Pending {
		c, ok := t.Columns[a.Column.Column()]
		if !ok {
			perr.Add(a.Line, "%s: pending: column %s does not exist in table %s", where, a.Column, t)
			continue
		}
		if a.Value.Kind == policy.Null {
			conds = append(conds, "t."+c.Ident()+" IS NULL")
			continue
		}
		iv.args = append(iv.args, a.Value.Text)
		conds = append(conds, fmt.Sprintf("t.%s = $%d::text::%s", c.Ident(), len(iv.args)+1, c.Type))
	}
	for _, fk := range cat.FKsInto(t) {
		if fk.OnDelete == "a" || fk.OnDelete == "r" {
			perr.Add(r.Line, "%s: %s.%s references %s (%s, %s): deleting invitations would fail while its rows point at them",
				where, fk.Child, strings.Join(fk.ChildCols, ","), t, fk.Name, fk.OnDeleteText())
		}
	}
	var id string
	switch {
	case len(t.PK) > 0:
		cols := make([]string, len(t.PK))
		for i, c := range t.PK {
			cols[i] = pgx.Identifier{c}.Sanitize()
		}
		id = "(" + strings.Join(cols, ", ") + ")"
	case !t.Partitioned:
		id = "ctid"
	default:
		perr.Add(r.Line, "%s: a partitioned table needs a primary key", where)
	}
	if len(perr.Problems) > bad {
		return nil
	}
	pending := strings.Join(conds[1:], " AND ")
	gone := fmt.Sprintf("%s AND NOT EXISTS (SELECT 1 FROM %s u WHERE %s = t.%s AND u.%s IS NULL)",
		strings.Join(conds, " AND "), st.Ident(), keyExpr, inv.Ident(), req.Ident())
	iv.del = fmt.Sprintf("WITH d AS (DELETE FROM %s WHERE %s IN (SELECT %s FROM %s t WHERE %s LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING 1) SELECT count(*) FROM d",
		t.Ident(), id, id, t.Ident(), gone)
	iv.counts = fmt.Sprintf("SELECT count(*) FILTER (WHERE %s), count(*) FILTER (WHERE %s) FROM %s t WHERE $1::int IS NOT NULL", gone, pending, t.Ident())
	return iv
}

func (j *Job) surveyInvites(ctx context.Context, iv *inviteTarget) error {
	var n, total int64
	args := append([]any{0}, iv.args...)
	if err := j.cfg.Pool.QueryRow(ctx, iv.counts, args...).Scan(&n, &total); err != nil {
		return fmt.Errorf("orphans: count invitations in %s: %w", iv.name(), err)
	}
	j.s.Report.Add(InvitesEligible, n)
	if j.s.DryRun() {
		j.s.Report.Add(InvitesRemoved, n)
		j.s.Report.AddRows(iv.name(), string(policy.Delete), n)
	}
	return j.guard("pending invitations of "+iv.name()+" whose inviter is gone", n, total,
		"check subject: (table, key, requested_at) and orphans: invites: inviter:")
}

// runInvites deletes one rule's invitations a batch at a time, each batch
// counted once it committed. A dry run has counted them in the survey
// already.
func (j *Job) runInvites(ctx context.Context, iv *inviteTarget) error {
	if j.s.DryRun() {
		return nil
	}
	var total int64
	for {
		if err := j.proceed(ctx); err != nil {
			return err
		}
		var n int64
		err := j.s.InTx(ctx, func(ctx context.Context, tx pgx.Tx, t *jobs.Tally) error {
			args := append([]any{j.s.Limits.BatchSize}, iv.args...)
			if err := tx.QueryRow(ctx, iv.del, args...).Scan(&n); err != nil {
				return fmt.Errorf("delete invitations: %w", err)
			}
			t.Add(InvitesRemoved, n)
			t.AddRows(iv.name(), string(policy.Delete), n)
			return nil
		})
		if err != nil {
			return fmt.Errorf("orphans: %s batch: %w", iv.name(), err)
		}
		total += n
		if n < int64(j.s.Limits.BatchSize) {
			break
		}
	}
	j.cfg.Logger.Info("invitations done", slog.String("table", iv.name()), slog.Int64("removed", total))
	return nil
}
