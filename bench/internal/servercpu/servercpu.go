// Package servercpu reads how much CPU time a benchmark's PostgreSQL server
// used, and the machine's load average: on a shared machine the wall time
// of one run moves by 2x; the server's CPU time for the same work moves
// less (though contention inflates it too), and it shows how much work
// each variant asks of the server.
package servercpu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's times.
const clockTicks = 100

// Read reads the CPU time the PostgreSQL server has used so far, in
// all its processes: the postmaster's own and its reaped children's (every
// backend that exited, lethe's connections included), plus the processes
// that still run (the checkpointer, the WAL writer, open connections). Read
// before and after a run, it is the server's CPU time for the run, which
// on a shared machine says more than the wall time.
func Read(ctx context.Context, u string) (time.Duration, error) {
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		return 0, err
	}
	defer c.Close(ctx)
	// The run's connections end with it, but their server processes
	// exit, and are reaped, a moment later: wait for them (up to 10 s).
	for range 100 {
		var others int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&others); err != nil {
			return 0, err
		}
		if others == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var pid int
	if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		return 0, err
	}
	st, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	postmaster := st.ppid
	// A child reaped while the children are read would be missed or
	// counted twice: read again until the postmaster's reaped time stays.
	var total int64
	for range 10 {
		before, err := procStat(postmaster)
		if err != nil {
			return 0, err
		}
		total = before.utime + before.stime + before.cutime + before.cstime + childrenCPU(postmaster)
		if after, err := procStat(postmaster); err == nil && after.cutime+after.cstime == before.cutime+before.cstime {
			break
		}
	}
	return time.Duration(total) * time.Second / clockTicks, nil
}

// childrenCPU is the CPU time, in clock ticks, of parent's live children.
func childrenCPU(parent int) int64 {
	var total int64
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil || p == parent {
			continue
		}
		if s, err := procStat(p); err == nil && s.ppid == parent {
			total += s.utime + s.stime
		}
	}
	return total
}

type stat struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

// procStat reads /proc/PID/stat: the fields after the command's name.
func procStat(pid int) (stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 15 {
		return stat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var st stat
	st.ppid, _ = strconv.Atoi(f[1])
	st.utime, _ = strconv.ParseInt(f[11], 10, 64)
	st.stime, _ = strconv.ParseInt(f[12], 10, 64)
	st.cutime, _ = strconv.ParseInt(f[13], 10, 64)
	st.cstime, _ = strconv.ParseInt(f[14], 10, 64)
	return st, nil
}

// Ticks is the CPU time, in clock ticks, that process pid has used
// itself (user and system; not its children's).
func Ticks(pid int) (int64, error) {
	st, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	return st.utime + st.stime, nil
}

// LoadAverage is the machine's 1-, 5- and 15-minute load averages.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// Child is the CPU time (user and system) and the peak resident set, in
// KiB, of a child process that has exited (a lethe run); zero when ps is
// nil or the platform keeps no rusage.
func Child(ps *os.ProcessState) (cpu time.Duration, maxRSSKiB int64) {
	if ps == nil {
		return 0, 0
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss
}
