package ndmjobtest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Daemon says how to start ndmjob's test daemon.
type Daemon struct {
	// Config is the path of its config file; "" gives it an empty one.
	Config string
	// Env is added to the daemon's environment (e.g. a PATH that finds a
	// formatter).
	Env []string
}

// StartTestDaemon starts `ndmjob -o test-daemon` (an NDMP agent that accepts
// user "ndmp" with password "ndmp") on a free loopback port, waits until it
// prints READY, and returns its address. It stops when the test ends: the
// daemon exits when its standard input closes, and is killed if it does not
// within 10 s.
func (tl *Tool) StartTestDaemon(t testing.TB, d Daemon) string {
	t.Helper()
	conf := d.Config
	if conf == "" {
		conf = filepath.Join(t.TempDir(), "ndmjob.conf")
		if err := os.WriteFile(conf, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(tl.Binary, "-o", "test-daemon", "-p", fmt.Sprint(port), "-o", "config-file="+conf)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), d.Env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "READY") {
		t.Fatalf("ndmjob test-daemon did not start: %q %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// StartDaemon starts `ndmjob -o daemon` (user and password "ndmp"), the
// agent as an administrator runs it, with config file conf, on a free
// loopback port, and returns its address once it accepts connections. The
// daemon forks a process per connection and never exits by itself: its
// whole process group is killed when the test ends.
func (tl *Tool) StartDaemon(t testing.TB, conf string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(tl.Binary, "-o", "daemon", "-p", fmt.Sprint(port), "-o", "config-file="+conf)
	cmd.Dir = t.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("ndmjob -o daemon does not accept on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
