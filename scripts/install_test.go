package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sandbox is a PATH holding only bash's helpers and stand-ins for the
// system's package tools, which record how they were called in log.
type sandbox struct {
	bin, log, policy string
}

func newSandbox(t *testing.T, present ...string) *sandbox {
	dir := t.TempDir()
	s := &sandbox{bin: filepath.Join(dir, "bin"), log: filepath.Join(dir, "calls.log"), policy: filepath.Join(dir, "policy-rc.d")}
	require.NoError(t, os.Mkdir(s.bin, 0o755))
	for _, tool := range []string{"head", "chmod", "rm"} {
		p, err := exec.LookPath(tool)
		require.NoError(t, err)
		require.NoError(t, os.Symlink(p, filepath.Join(s.bin, tool)))
	}
	stub := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(s.bin, name), []byte("#!/bin/bash\n"+body+"\n"), 0o755))
	}
	record := `echo "${0##*/} $*" >> ` + s.log
	for _, name := range present {
		stub(name, "echo "+name+" 1.0")
	}
	stub("id", "echo 0")
	stub("systemctl", record)
	stub("deb-systemd-helper", record)
	// apt-get install "installs" the commands of the packages it is given,
	// and notes whether policy-rc.d kept services from starting meanwhile.
	stub("apt-get", record+`
if [ "$1" = install ]; then
  [ -x "`+s.policy+`" ] && echo "policy-rc.d present during install" >> `+s.log+`
  for p in "$@"; do
    case "$p" in
      prometheus) printf '#!/bin/bash\necho promtool\n' > `+s.bin+`/promtool; /bin/chmod +x `+s.bin+`/promtool ;;
      prometheus-pushgateway) printf '#!/bin/bash\n' > `+s.bin+`/prometheus-pushgateway; /bin/chmod +x `+s.bin+`/prometheus-pushgateway ;;
    esac
  done
fi`)
	return s
}

func (s *sandbox) run(t *testing.T, script string) (string, string) {
	bash, err := exec.LookPath("bash")
	require.NoError(t, err)
	cmd := exec.Command(bash, script)
	cmd.Env = []string{"PATH=" + s.bin, "POLICY_RC_D=" + s.policy}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	calls, _ := os.ReadFile(s.log)
	return string(out), string(calls)
}

// TestInstallPrometheusInstallsOnlyWhatIsMissing: with promtool present
// and the Pushgateway missing, the script used to install (so upgrade) the
// system's prometheus package too, and stop and disable its service.
func TestInstallPrometheusInstallsOnlyWhatIsMissing(t *testing.T) {
	s := newSandbox(t, "promtool")
	_, calls := s.run(t, "install-prometheus.sh")
	require.Contains(t, calls, "apt-get install -y -qq --no-install-recommends prometheus-pushgateway\n")
	require.NotContains(t, calls, " prometheus ", "the system's prometheus package is left alone")
	require.NotContains(t, calls, "prometheus.service")
	require.Contains(t, calls, "policy-rc.d present during install")
	require.Contains(t, calls, "systemctl disable prometheus-pushgateway.service")
	require.NoFileExists(t, s.policy, "the temporary policy-rc.d is removed")
}

// TestInstallPrometheusDoesNothingWhenPresent: nothing is installed,
// updated or disabled when both commands are there.
func TestInstallPrometheusDoesNothingWhenPresent(t *testing.T) {
	s := newSandbox(t, "promtool", "prometheus-pushgateway")
	out, calls := s.run(t, "install-prometheus.sh")
	require.Empty(t, strings.TrimSpace(calls), out)
}
