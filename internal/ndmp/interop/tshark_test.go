package interop

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ferry/internal/testsupport/ndmjobtest"
	"ferry/internal/testsupport/ndmptest"
)

// netnsChild marks the copy of this test binary that runs inside its own
// network namespace.
const netnsChild = "FERRY_INTEROP_NETNS"

// Wireshark's NDMP dissector only recognises TCP port 10000, so the capture
// runs in a private network namespace where that port is ours alone.
const ndmpPort = "10000"

func TestMain(m *testing.M) {
	code := m.Run()
	ndmjobtest.Cleanup()
	os.Exit(code)
}

// TestTsharkDecodesSession captures ndmjob driving ferry's agent (v4 and v3
// queries, MD5 and TEXT auth, the tape conformance series, a robot query) and
// requires tshark to decode every NDMP message without a malformed packet.
func TestTsharkDecodesSession(t *testing.T) {
	if os.Getenv(netnsChild) == "" {
		runInNetns(t, "TestTsharkDecodesSession")
		return
	}
	tool := ndmjobtest.Find(t)
	if tool == nil {
		return
	}
	if err := exec.Command("ip", "link", "set", "lo", "up").Run(); err != nil {
		t.Fatalf("bring up lo in the test namespace: %v", err)
	}
	addr := startServer(t)
	capture := filepath.Join(t.TempDir(), "ndmp.pcapng")
	stopCapture := startCapture(t, capture)

	ctx := context.Background()
	auth := func(v string) string { return addr + "/" + v + ",ndmp," + password }
	requireOK(t, tool.Run(ctx, t, "-q", "-D", auth("4m")))
	requireOK(t, tool.Run(ctx, t, "-q", "-D", auth("3t")))
	tool.Run(ctx, t, "-o", "test-tape", "-T", auth("4m"), "-f", "tape0").RequirePassed(t)
	requireOK(t, tool.Run(ctx, t, "-q", "-R", auth("4t"), "-r", "changer0"))
	stopCapture()

	messages := tshark(t, "-r", capture, "-Y", "ndmp", "-T", "fields", "-e", "ndmp.msg")
	seen := map[string]int{}
	for _, line := range strings.Fields(messages) {
		for _, code := range strings.Split(line, ",") {
			seen[code]++
		}
	}
	t.Logf("tshark decoded NDMP messages by code: %v", seen)
	// CONNECT_OPEN, CONFIG_GET_HOST_INFO, TAPE_OPEN, TAPE_WRITE, SCSI_EXECUTE_CDB,
	// NOTIFY_CONNECTION_STATUS: the dissector must have recognised each.
	for _, code := range []string{"0x00000900", "0x00000100", "0x00000300", "0x00000304", "0x00000206", "0x00000502"} {
		if seen[code] == 0 {
			t.Errorf("tshark decoded no message %s; decoded: %v", code, seen)
		}
	}
	if bad := tshark(t, "-r", capture, "-Y", "_ws.malformed || _ws.expert.severity >= 0x00800000"); strings.TrimSpace(bad) != "" {
		t.Errorf("tshark reports malformed NDMP packets:\n%s", bad)
	}
}

const password = "interop-secret"

// startServer runs ferry's NDMP agent on 127.0.0.1:10000 with a fresh library.
func startServer(t *testing.T) string {
	t.Helper()
	return ndmptest.Start(t, ndmptest.Options{NoEngine: true, Addr: "127.0.0.1:" + ndmpPort, User: "ndmp", Password: password,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Addr
}

// startCapture starts tshark on lo and returns once it is capturing; the
// returned function stops it and waits until the capture file is complete.
func startCapture(t *testing.T, file string) (stop func()) {
	t.Helper()
	cmd := exec.Command("tshark", "-q", "-i", "lo", "-f", "tcp port "+ndmpPort, "-w", file)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start tshark: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		capturing := false
		for sc.Scan() {
			if !capturing && strings.Contains(sc.Text(), "Capturing on") {
				capturing = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("tshark did not start capturing")
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		// Let the last segments reach the capture before stopping it.
		time.Sleep(500 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}
	t.Cleanup(stop)
	return stop
}

// requireOK fails t unless an ndmjob query exited 0.
func requireOK(t *testing.T, r *ndmjobtest.Result) {
	t.Helper()
	if r.Err != nil || r.ExitCode != 0 {
		t.Fatalf("ndmjob: exit %d: %v\n%s", r.ExitCode, r.Err, r.Output)
	}
}

func tshark(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	return string(out)
}

// runInNetns re-runs one test of this binary inside a new network namespace
// and fails t with its output when it fails.
func runInNetns(t *testing.T, name string) {
	t.Helper()
	for _, tool := range []string{"unshare", "tshark", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing: %v", tool, err)
			}
			t.Skipf("%s is missing: %v", tool, err)
		}
	}
	args := []string{"-n"}
	if os.Geteuid() != 0 {
		args = []string{"-r", "-n"} // a user namespace grants the capture capability
	}
	args = append(args, os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), netnsChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in a network namespace: %v\n%s", name, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s did not pass in its network namespace:\n%s", name, out)
	}
	t.Logf("%s", out)
}
