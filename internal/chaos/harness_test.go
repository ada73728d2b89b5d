package chaos_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/ledger"
	"github.com/stretchr/testify/require"
)

// hashKey is LETHE_SUBJECT_HASH_KEY in every test.
const hashKey = "chaos-key"

var (
	letheBin string
	seed     uint64
)

func TestMain(m *testing.M) {
	seed = uint64(time.Now().UnixNano())
	if s := os.Getenv("LETHE_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "LETHE_CHAOS_SEED=%q is not an unsigned integer\n", s)
			os.Exit(2)
		}
		seed = n
	}
	fmt.Printf("chaos: seed %d (replay with LETHE_CHAOS_SEED=%d)\n", seed, seed)
	var err error
	if letheBin, err = letheproc.Build(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := miniotest.Run(m)
	pgtest.Stop()
	letheproc.Cleanup()
	os.Exit(code)
}

// rngFor returns the test's random source: the suite's seed mixed with the
// test's name, so that one test replays alone with the same points.
func rngFor(t *testing.T) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	t.Logf("seed %d: replay with LETHE_CHAOS_SEED=%d go test ./internal/chaos -run '^%s$'", seed, seed, t.Name())
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

func repoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	require.NoError(t, err)
	return string(b)
}

// proc is one lethe process.
type proc struct {
	cmd  *exec.Cmd
	out  letheproc.Buffer
	done chan struct{}
	code int
}

func startLethe(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(letheBin, args...), done: make(chan struct{})}
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "LETHE_LOG_FORMAT=json"}, env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	require.NoError(t, p.cmd.Start())
	go func() {
		err := p.cmd.Wait()
		p.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
			if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
				p.code = -int(st.Signal())
			}
		} else if err != nil {
			p.code = -1000
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process (lethe finishes or is killed; two minutes is
// a hang, not a slow machine) and returns its exit code, -9 for SIGKILL.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("lethe %v hung:\n%s", p.cmd.Args[1:], p.out.String())
	}
	return p.code
}

// runLethe runs lethe to its end and returns its exit code and output.
func runLethe(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	p := startLethe(t, env, args...)
	code := p.wait(t)
	t.Logf("lethe %s → %d\n%s", strings.Join(args, " "), code, p.out.String())
	return code, p.out.String()
}

// trapLock is the advisory lock the trap's Nth event waits on.
const trapLock = 7477

// trapSQL counts the statements (and DDL commands) of lethe's sessions in
// a sequence, which no rollback undoes, and makes the one numbered
// chaos.trap.at wait for the test's advisory lock.
const trapSQL = `
CREATE SCHEMA chaos;
CREATE SEQUENCE chaos.events;
CREATE TABLE chaos.trap (at bigint NOT NULL);
INSERT INTO chaos.trap VALUES (0);
CREATE FUNCTION chaos.tick() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('application_name') = 'lethe'
	   AND nextval('chaos.events') = (SELECT at FROM chaos.trap) THEN
		PERFORM pg_advisory_lock_shared(7477);
		PERFORM pg_advisory_unlock_shared(7477);
	END IF;
END $$;
CREATE FUNCTION chaos.tick_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM chaos.tick(); RETURN NULL; END $$;
CREATE FUNCTION chaos.tick_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM chaos.tick(); END $$;
CREATE EVENT TRIGGER chaos_ddl ON ddl_command_end EXECUTE FUNCTION chaos.tick_ddl();
`

// installTrap migrates lethe's schema (so that its tables can carry the
// trap's triggers), installs the trap with a statement trigger on each of
// tables, and makes the server end a session soon after its client died
// (as a pod's TCP connection does when the node kills it), instead of
// after its statement.
func installTrap(t *testing.T, db *pgtest.DB, tables ...string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, ledger.Migrate(ctx, db.Pool))
	db.Exec(t, trapSQL)
	for i, tbl := range tables {
		db.Exec(t, fmt.Sprintf(`CREATE TRIGGER chaos_%d AFTER INSERT OR UPDATE OR DELETE ON %s
			FOR EACH STATEMENT EXECUTE FUNCTION chaos.tick_row()`, i, tbl))
	}
	db.Exec(t, "ALTER DATABASE "+pgx.Identifier{db.Name}.Sanitize()+" SET client_connection_check_interval = '20ms'")
}

// trap makes lethe stop at its Nth event from now.
type trap struct {
	t      *testing.T
	db     *pgtest.DB
	holder *pgx.Conn
	held   bool
}

func newTrap(t *testing.T, db *pgtest.DB) *trap {
	t.Helper()
	c, err := pgx.Connect(context.Background(), db.URL)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close(context.Background()) })
	return &trap{t: t, db: db, holder: c}
}

func (tr *trap) exec(sql string, args ...any) {
	tr.t.Helper()
	_, err := tr.holder.Exec(context.Background(), sql, args...)
	require.NoError(tr.t, err, sql)
}

// arm makes the nth event of lethe's sessions from now wait.
func (tr *trap) arm(n int) {
	tr.t.Helper()
	if !tr.held {
		tr.exec("SELECT pg_advisory_lock($1)", trapLock)
		tr.held = true
	}
	tr.exec(`UPDATE chaos.trap SET at = (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM chaos.events) + $1`, n)
}

// release lets a waiting event go on; the trap is spent.
func (tr *trap) release() {
	tr.t.Helper()
	if tr.held {
		tr.exec("SELECT pg_advisory_unlock($1)", trapLock)
		tr.held = false
	}
}

// caught waits until lethe's session waits in the trap, and returns that
// session's pid; or 0 when p ended first (the point was past its end).
func (tr *trap) caught(p *proc) int {
	tr.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var pid int
		err := tr.holder.QueryRow(context.Background(), `SELECT pid FROM pg_locks
			WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 AND NOT granted
			  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, trapLock).Scan(&pid)
		if err == nil {
			return pid
		}
		require.ErrorIs(tr.t, err, pgx.ErrNoRows)
		if p.exited() {
			return 0
		}
		require.True(tr.t, time.Now().Before(deadline), "lethe neither reached the trap nor ended:\n%s", p.out.String())
		time.Sleep(2 * time.Millisecond)
	}
}

// kill is one SIGKILL at a seeded random point: after the nth event,
// either while lethe waits in the trap or after a random delay once let go
// (which may land anywhere, even after the end). It returns whether
// lethe was still running when killed, and waits until the killed run's
// sessions are gone from the server.
func kill(t *testing.T, tr *trap, rng *rand.Rand, span int, env []string, args ...string) bool {
	t.Helper()
	n := 1 + rng.IntN(span)
	atOnce := rng.IntN(2) == 0
	delay := time.Duration(rng.IntN(30)) * time.Millisecond
	tr.arm(n)
	p := startLethe(t, env, args...)
	pid := tr.caught(p)
	if pid == 0 {
		tr.release()
		t.Logf("point %d: lethe %v ended first → %d\n%s", n, args, p.wait(t), p.out.String())
		return false
	}
	if atOnce {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
		tr.release()
	} else {
		tr.release()
		time.Sleep(delay) // not a wait for anything: where the kill lands is the fault
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			require.ErrorIs(t, err, os.ErrProcessDone)
		}
	}
	code := p.wait(t)
	t.Logf("point %d (at once %v, delay %s): lethe %v → %d", n, atOnce, delay, args, code)
	waitSessionsGone(t, tr.db)
	return code == -int(syscall.SIGKILL)
}

// waitSessionsGone waits until no session of lethe is left on db: a killed
// run's row locks would otherwise make the next run skip its subjects.
func waitSessionsGone(t *testing.T, db *pgtest.DB) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for db.Int(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'lethe'`, db.Name) > 0 {
		require.True(t, time.Now().Before(deadline), "the killed run's sessions linger")
		time.Sleep(5 * time.Millisecond)
	}
}

// kills runs the job under SIGKILL at points points, span events apart at
// most, on the database that check inspects: check(false) after each kill,
// then a rerun that must exit 0 and check(true). It returns how many kills
// landed while lethe ran.
func kills(t *testing.T, tr *trap, rng *rand.Rand, points, span int, env []string, check func(final bool), args ...string) int {
	t.Helper()
	landed := 0
	for range points {
		if kill(t, tr, rng, span, env, args...) {
			landed++
		}
		check(false)
	}
	code, out := runLethe(t, env, args...)
	require.Equal(t, 0, code, "the rerun after the kills: %s", out)
	check(true)
	return landed
}
