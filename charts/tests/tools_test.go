package charttests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// chartDir is the chart under test, relative to this package.
const chartDir = "../lethe"

// kubeVersion is passed to helm template: the chart requires 1.27 or later,
// and helm's default without a cluster is older.
const kubeVersion = "1.31.0"

// requireTool returns the path of a command-line tool, looked up on PATH and
// then in $(go env GOPATH)/bin. When it is missing the test is skipped, or
// failed when LETHE_REQUIRE_TOOLS is set.
func requireTool(t *testing.T, name, installer string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(gopath))) {
			p := filepath.Join(dir, "bin", name)
			if info, err := os.Stat(p); err == nil && !info.IsDir() {
				return p
			}
		}
	}
	msg := name + " not found on PATH or in $(go env GOPATH)/bin; install it with " + installer
	if os.Getenv("LETHE_REQUIRE_TOOLS") != "" {
		t.Fatal(msg + " (LETHE_REQUIRE_TOOLS is set)")
	}
	t.Skip(msg + " (set LETHE_REQUIRE_TOOLS=1 to make this a failure)")
	return ""
}

func helmPath(t *testing.T) string {
	return requireTool(t, "helm", "scripts/install-helm.sh")
}

func promtoolPath(t *testing.T) string {
	return requireTool(t, "promtool", "scripts/install-prometheus.sh")
}

// run runs a tool and returns its stdout and stderr and whether it exited 0.
func run(t *testing.T, bin string, args ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	err := cmd.Run()
	if err != nil {
		if _, isExit := err.(*exec.ExitError); !isExit {
			t.Fatalf("run %s %v: %v", bin, args, err)
		}
	}
	return out.String(), errOut.String(), err == nil
}
