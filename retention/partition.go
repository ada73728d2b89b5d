package retention

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/jobs"
)

// partition is one direct partition of a partitioned table.
type partition struct {
	oid         uint32
	ident, name string
	partitioned bool
	// pending is true while a DETACH ... CONCURRENTLY is unfinished.
	pending bool
	// bound is pg_get_expr(relpartbound): FOR VALUES FROM (...) TO (...),
	// or DEFAULT.
	bound string
	// estRows is the planner's row count (pg_class.reltuples, summed over
	// the leaves), not a count: 0 for a partition never vacuumed nor
	// analyzed.
	estRows int64
}

const partitionsSQL = `
SELECT c.oid, format('%I.%I', n.nspname, c.relname), c.relname, c.relkind = 'p', i.inhdetachpending,
       pg_get_expr(c.relpartbound, c.oid),
       (SELECT COALESCE(sum(GREATEST(l.reltuples, 0)), 0)::bigint FROM pg_partition_tree(c.oid) t
        JOIN pg_class l ON l.oid = t.relid WHERE t.isleaf)
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.inhparent = $1
ORDER BY c.oid`

// rangeKeySQL returns the single partition key column of a table
// partitioned by RANGE, or no row.
const rangeKeySQL = `
SELECT a.attname FROM pg_partitioned_table p
JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
WHERE p.partrelid = $1 AND p.partstrat = 'r' AND p.partnatts = 1`

// leavesSQL lists the leaf partitions under a partitioned table.
const leavesSQL = `
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_partition_tree($1::oid) t
JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.isleaf ORDER BY t.level, c.oid`

// leftoverSQL finds tables that a killed run detached and had not dropped
// yet: they carry the marker comment set before the detach.
const leftoverSQL = `
SELECT c.oid, format('%I.%I', n.nspname, c.relname), c.relname, GREATEST(c.reltuples, 0)::bigint FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND d.description = $1`

var rangeBound = regexp.MustCompile(`^FOR VALUES FROM \((.*)\) TO \((.*)\)$`)

// marker is the comment a partition gets just before lethe detaches it.
func marker(parentOID uint32) string {
	return fmt.Sprintf("lethe retention: detached from table oid %d, to be dropped", parentOID)
}

// partitioned deletes old rows of a partitioned table: a table partitioned
// by RANGE on the rule's column, without a where: filter, loses its
// partitions wholly older than the cutoff and the rows of the others by
// batches; any other partitioned table is cleaned by batches on each leaf.
func (j *Job) partitioned(ctx context.Context, r *jobs.Report, tr *tableRun) error {
	t := tr.t
	var key string
	err := j.cfg.Pool.QueryRow(ctx, rangeKeySQL, t.table.OID).Scan(&key)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("retention %s: read partition key: %w", t.name(), err)
	}
	if key != t.col.Name || len(t.filters) > 0 {
		return j.drainLeaves(ctx, r, tr, t.table.OID)
	}
	if !j.s.DryRun() && tr.owner {
		if err := j.dropLeftovers(ctx, tr); err != nil {
			return err
		}
	}
	parts, err := j.partitions(ctx, t.table.OID)
	if err != nil {
		return fmt.Errorf("retention %s: %w", t.name(), err)
	}
	hasDefault := false
	for _, p := range parts {
		hasDefault = hasDefault || p.bound == "DEFAULT"
	}
	kinds, err := j.classify(ctx, tr, parts)
	if err != nil {
		return fmt.Errorf("retention %s: %w", t.name(), err)
	}
	var old []partition
	for i, p := range parts {
		if kinds[i] == partOld && tr.owner {
			old = append(old, p)
		}
	}
	if err := j.dropPartitions(ctx, r, tr, old, hasDefault); err != nil {
		return err
	}
	for i, p := range parts {
		if err := j.mustStop(ctx); err != nil {
			return err
		}
		switch kind := kinds[i]; {
		case kind == partOld, kind == partFuture, p.pending, !p.partitioned && !j.s.Limits.Shard.Owns(p.name):
			// Nothing older than the cutoff, or no longer part of the table.
		case p.partitioned:
			err = j.drainLeaves(ctx, r, tr, p.oid)
		default:
			err = j.drainRel(ctx, r, tr, p.ident)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (j *Job) drainLeaves(ctx context.Context, r *jobs.Report, tr *tableRun, oid uint32) error {
	rows, err := j.cfg.Pool.Query(ctx, leavesSQL, oid)
	if err != nil {
		return fmt.Errorf("retention %s: list partitions: %w", tr.t.name(), err)
	}
	leaves, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("retention %s: list partitions: %w", tr.t.name(), err)
	}
	for _, l := range leaves {
		if !j.s.Limits.Shard.Owns(l) {
			continue // another shard's leaf
		}
		if err := j.drainRel(ctx, r, tr, l); err != nil {
			return err
		}
	}
	return nil
}

func (j *Job) partitions(ctx context.Context, oid uint32) ([]partition, error) {
	rows, err := j.cfg.Pool.Query(ctx, partitionsSQL, oid)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	var out []partition
	for rows.Next() {
		var p partition
		if err := rows.Scan(&p.oid, &p.ident, &p.name, &p.partitioned, &p.pending, &p.bound, &p.estRows); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list partitions: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

type partKind int

const (
	partStraddles partKind = iota // some rows may be older, some not: batches
	partOld                       // every row is older than the cutoff: drop
	partFuture                    // no row is older than the cutoff: skip
)

// classify compares the bounds of every partition with the cutoff, in one
// query on the server, in the column's own type. The upper bound is
// exclusive, so a partition whose upper bound equals the cutoff holds only
// older rows.
func (j *Job) classify(ctx context.Context, tr *tableRun, parts []partition) ([]partKind, error) {
	kinds := make([]partKind, len(parts))
	var los, his []*string
	var idx []int
	for i, p := range parts {
		m := rangeBound.FindStringSubmatch(p.bound)
		if m == nil {
			kinds[i] = partStraddles // DEFAULT
			continue
		}
		idx = append(idx, i)
		los, his = append(los, boundValue(m[1])), append(his, boundValue(m[2]))
	}
	if len(idx) == 0 {
		return kinds, nil
	}
	q := fmt.Sprintf(`SELECT COALESCE(hi::%[1]s <= %[2]s, false), COALESCE(lo::%[1]s >= %[2]s, false)
		FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS b(hi, lo, n) ORDER BY n`, tr.t.col.Type, tr.t.cutoffExpr())
	rows, err := j.cfg.Pool.Query(ctx, q, tr.cutoff, his, los)
	if err != nil {
		return nil, fmt.Errorf("compare partition bounds: %w", err)
	}
	defer rows.Close()
	for k := 0; rows.Next(); k++ {
		var old, future bool
		if err := rows.Scan(&old, &future); err != nil {
			return nil, fmt.Errorf("compare partition bounds: %w", err)
		}
		i := idx[k]
		switch {
		case old && his[k] != nil:
			kinds[i] = partOld
		case future && los[k] != nil:
			kinds[i] = partFuture
		default:
			kinds[i] = partStraddles
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("compare partition bounds: %w", err)
	}
	return kinds, nil
}

// boundValue unquotes one single-column bound; nil for MINVALUE/MAXVALUE.
func boundValue(s string) *string {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '\'' {
		return nil
	}
	if i := strings.LastIndexByte(s, '\''); i > 0 {
		s = s[1:i]
	}
	v := strings.ReplaceAll(s, "''", "'")
	return &v
}
