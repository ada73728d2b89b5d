package chaos_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

// TestPurgeDatabaseCrash stops PostgreSQL with pg_ctl stop -m immediate
// (every session gone, nothing flushed, as in a power cut) at seeded points
// of a purge, restarts it, and checks the invariants after recovery and
// after a rerun. It runs on a private cluster of its own, with synchronous
// commits, so that the rest of the suite is not disturbed and a commit
// lethe saw acknowledged survives the crash.
func TestPurgeDatabaseCrash(t *testing.T) {
	t.Parallel()
	rng := rngFor(t)
	pg, err := pgtest.NewServer([]string{"synchronous_commit=on"})
	if err != nil {
		if os.Getenv("LETHE_REQUIRE_TOOLS") == "" {
			t.Skipf("no private PostgreSQL cluster: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	w := newWorldOn(t, pg, 300, "", nil)
	installTrap(t, w.db, purgeTables...)
	env := append(w.env, "LETHE_BATCH_SIZE=2", "LETHE_WORKERS=2")
	for point := range 3 {
		tr := newTrap(t, w.db)
		n := 1 + rng.IntN(30)
		atOnce := rng.IntN(2) == 0
		delay := time.Duration(rng.IntN(30)) * time.Millisecond
		tr.arm(n)
		p := startLethe(t, env, "--job", "purge")
		if tr.caught(p) == 0 {
			tr.release()
			t.Logf("point %d: lethe ended first → %d", n, p.wait(t))
			break
		}
		if !atOnce {
			tr.release()
			time.Sleep(delay) // not a wait for anything: where the crash lands is the fault
		}
		require.NoError(t, pg.Crash())
		tr.held = false // its session died with the server
		require.NoError(t, pg.Restart())
		code := p.wait(t)
		t.Logf("point %d (at once %v, delay %s): database crashed; lethe → %d\n%s", n, atOnce, delay, code, p.out.String())
		if atOnce {
			// The crash ended the statement lethe was waiting in: it must
			// not say it is done. (After a delay, lethe may have finished
			// before the crash.)
			require.NotEqual(t, 0, code, "a run whose database crashed under it must not say it is done")
		}
		w.db.Pool.Reset()
		waitSessionsGone(t, w.db)
		w.checkPurge(fmt.Sprintf("after the crash %d at point %d", point, n), false, nil)
	}
	code, out := runLethe(t, env, "--job", "purge")
	require.Equal(t, 0, code, out)
	w.checkPurge("after the rerun", true, nil)
}
