// Package fdlimit lets a test run with a lowered descriptor limit: the
// limit is process-wide, so the test re-runs itself alone in a child
// process (RunChild) and lowers the limit there (Lower).
package fdlimit

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// RunChild re-runs test name of this test binary in a child process with
// env=1 set, and fails with the child's output if it fails.
func RunChild(t *testing.T, name, env string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("child test: %v\n%s", err, out)
	}
}

// Lower sets the soft descriptor limit to the descriptors open now plus
// extra, and returns a function that restores it (also run at cleanup).
func Lower(t *testing.T, extra uint64) func() {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	low := old
	low.Cur = uint64(len(fds)) + extra
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	restore := func() { once.Do(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) }) }
	t.Cleanup(restore)
	return restore
}
