package ndmjobtest

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// referenceDaemon starts ndmjob's own test daemon (simulated tape) and
// returns its address; it exits when its stdin closes.
func referenceDaemon(t *testing.T, tl *Tool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(tl.Binary, "-o", "test-daemon", "-p", strconv.Itoa(port))
	cmd.Dir = t.TempDir()
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
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "READY" {
		t.Fatalf("test daemon: %q, %v", line, err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

// The harness against the reference itself: ndmjob's own server passes its
// v4 mover series and fails its tape series (ndmp.md §3.3), so Run must
// report one as passed and the other as not.
func TestRunAgainstReference(t *testing.T) {
	tl := Find(t)
	addr := referenceDaemon(t, tl)
	tape := filepath.Join(t.TempDir(), "tape.sim")
	if err := os.WriteFile(tape, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	r := tl.Run(ctx, t, "-o", "test-mover", "-T", addr+"/4t,ndmp,ndmp", "-f", tape)
	r.RequirePassed(t)
	if len(r.Phases) != 6 || r.Final.Pass != 100 {
		t.Errorf("test-mover: phases=%d final=%+v", len(r.Phases), r.Final)
	}

	os.Remove(tape + ".lck")
	r = tl.Run(ctx, t, "-o", "test-tape", "-T", addr+"/4t,ndmp,ndmp", "-f", tape)
	if r.problem() == "" || r.ExitCode == 0 || r.Final != nil {
		t.Errorf("test-tape against the reference passed; want its known failure\n%s", r.Output)
	}
	if len(r.Phases) == 0 || r.Phases[0].Name != "T-OC" || r.Phases[0].Status != "Passed" {
		t.Errorf("test-tape phases = %+v", r.Phases)
	}
}
