package replay

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/purge"
)

// scanSQL is the COPY that streams every subject not yet erased: its key
// as text (the form the purge hashes) and whether it is on hold.
func scanSQL(pl *plan.Plan) string {
	s := pl.Subject
	hold := "false"
	if s.Hold != nil {
		hold = "t." + s.Hold.Ident() + " IS TRUE"
	}
	where := ""
	if s.PurgedAt != nil {
		where = " WHERE t." + s.PurgedAt.Ident() + " IS NULL"
	}
	return fmt.Sprintf("COPY (SELECT t.%s::text, %s FROM %s t%s) TO STDOUT", s.Key.Ident(), hold, s.Table.Ident(), where)
}

// found is what a scan found.
type found struct {
	scanned int64
	// hits are the subjects to re-erase.
	hits []purge.Replayed
	// held counts the subjects the journal has that are on hold.
	held int64
}

// scanner is the io.Writer COPY writes to: it splits the stream into
// rows, hashes each key and keeps those the journal has. Its memory does
// not grow with the table: only a partial row is carried between writes.
type scanner struct {
	probes []probe
	carry  []byte
	key    []byte
	out    found
}

func (sc *scanner) Write(p []byte) (int, error) {
	n := len(p)
	if len(sc.carry) > 0 {
		sc.carry = append(sc.carry, p...)
		p, sc.carry = sc.carry, sc.carry[:0]
	}
	for {
		nl := bytes.IndexByte(p, '\n')
		if nl < 0 {
			sc.carry = append(sc.carry, p...)
			return n, nil
		}
		if err := sc.row(p[:nl]); err != nil {
			return 0, err
		}
		p = p[nl+1:]
	}
}

// row handles one COPY text row: key TAB t|f.
func (sc *scanner) row(line []byte) error {
	tab := bytes.LastIndexByte(line, '\t')
	if tab < 0 {
		return fmt.Errorf("replay: unexpected COPY row")
	}
	raw, hold := line[:tab], string(line[tab+1:]) == "t"
	if string(raw) == `\N` {
		return nil // a subject without a key: nothing names it
	}
	key := raw
	if bytes.IndexByte(raw, '\\') >= 0 {
		sc.key = unescape(sc.key[:0], raw)
		key = sc.key
	}
	sc.out.scanned++
	t, ok := lookup(sc.probes, key)
	if !ok {
		return nil
	}
	if hold {
		sc.out.held++
		return nil
	}
	sc.out.hits = append(sc.out.hits, purge.Replayed{Key: string(key), ErasedAt: time.Unix(0, t).UTC()})
	return nil
}

// unescape decodes COPY's text format escapes.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		switch e := s[i]; e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'v':
			dst = append(dst, '\v')
		case 'x':
			j := i + 1
			for j < len(s) && j < i+3 && isHex(s[j]) {
				j++
			}
			v, _ := strconv.ParseUint(string(s[i+1:j]), 16, 8)
			dst, i = append(dst, byte(v)), j-1
		default:
			if e >= '0' && e <= '7' {
				j := i
				for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
					j++
				}
				v, _ := strconv.ParseUint(string(s[i:j]), 8, 8)
				dst, i = append(dst, byte(v)), j-1
				continue
			}
			dst = append(dst, e)
		}
	}
	return dst
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// scan streams the subject table through the probes.
func scan(ctx context.Context, pool *pgxpool.Pool, pl *plan.Plan, ps []probe) (found, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return found{}, fmt.Errorf("replay: %w", err)
	}
	defer conn.Release()
	sc := &scanner{probes: ps}
	if _, err := conn.Conn().PgConn().CopyTo(ctx, sc, scanSQL(pl)); err != nil {
		return found{}, fmt.Errorf("replay: read the subject table: %w", err)
	}
	if len(sc.carry) > 0 {
		return found{}, fmt.Errorf("replay: the subject table's stream ended mid-row")
	}
	return sc.out, nil
}
