// Package guardtest is what the tests of the servers' guards (descriptor
// exhaustion, connection floods, password guessing) share: a test re-run
// alone in a child process (RunChild) whose descriptor limit it lowers
// (Lower: the limit is process-wide), connections from other loopback
// addresses (DialFrom), and a log buffer to count log lines (LogBuf).
package guardtest

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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

// DialFrom connects to addr from the loopback address src (127.0.0.2,
// ...), so a test can be several clients; the connection is closed when
// the test ends.
func DialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// LogBuf collects a server's log lines; safe for concurrent writers.
type LogBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Logger is a text logger writing to l.
func (l *LogBuf) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }
