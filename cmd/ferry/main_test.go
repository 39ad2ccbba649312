package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ferry/internal/library"
	"ferry/internal/testsupport/ndmjobtest"
)

// ferryBinary builds the ferry command once per test binary.
func ferryBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ferry")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestServeAndTapeCat runs the real binary: `ferry serve` on a fresh state
// directory answers an NDMP client with its generated password, `ferry tape
// cat` beside it reads back tape files written into a drive's cartridge, and
// SIGTERM stops the server cleanly.
func TestServeAndTapeCat(t *testing.T) {
	bin := ferryBinary(t)
	state := t.TempDir()
	serve := exec.Command(bin, "serve", "--state", state, "--ndmp", "127.0.0.1:0", "--log-level", "error")
	stderr, err := serve.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer serve.Process.Kill()
	sc := bufio.NewScanner(stderr)
	if !sc.Scan() {
		t.Fatalf("ferry serve printed nothing: %v", sc.Err())
	}
	banner := sc.Text()
	addr, _, _ := strings.Cut(strings.TrimPrefix(banner, "ferry: NDMP agent on "), " ")
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("unexpected banner %q", banner)
	}
	go func() {
		for sc.Scan() {
			t.Logf("serve: %s", sc.Text())
		}
	}()

	pwFile := filepath.Join(state, "ndmp-password")
	fi, err := os.Stat(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("generated password file has mode %v, want 0600", fi.Mode().Perm())
	}
	pw, err := readPasswordFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}

	if tool := ndmjobtest.Find(t); tool != nil {
		r := tool.Run(context.Background(), t, "-q", "-D", addr+"/4m,ndmp,"+pw)
		if r.ExitCode != 0 || !strings.Contains(r.Output, "vendor     ferry") {
			t.Errorf("ndmjob query with the generated password: exit %d\n%s", r.ExitCode, r.Output)
		}
	}

	// Write two tape files into tape2's cartridge from this process, as
	// another ferry process sharing the state directory would.
	lib, err := library.Open(filepath.Join(state, "library"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := lib.OpenDrive("tape2", false)
	if err != nil {
		t.Fatal(err)
	}
	files := [][][]byte{
		{bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 70000), []byte("c")},
		{bytes.Repeat([]byte("z"), 4096)},
	}
	for _, f := range files {
		for _, rec := range f {
			if err := m.WriteRecord(rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.WriteFilemarks(1); err != nil {
			t.Fatal(err)
		}
	}
	if err := lib.CloseDrive("tape2", m); err != nil {
		t.Fatal(err)
	}
	lib.Close()

	for i, f := range files {
		out, err := exec.Command(bin, "tape", "cat", "--state", state, "--drive", "tape2", "--file", strconv.Itoa(i)).Output()
		if err != nil {
			t.Fatalf("tape cat file %d: %v", i, err)
		}
		if want := bytes.Join(f, nil); !bytes.Equal(out, want) {
			t.Errorf("tape cat file %d: got %d bytes, want %d", i, len(out), len(want))
		}
	}
	out, err := exec.Command(bin, "tape", "cat", "--state", state, "--drive", "tape2", "--file", "2").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no such tape file") {
		t.Errorf("tape cat past the last file: err %v, output %q", err, out)
	}

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ferry serve after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("ferry serve did not stop within 15 s of SIGTERM")
	}
}

func TestPasswordFileMustBePrivate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readPasswordFile(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable password file: err %v", err)
	}
	os.Chmod(p, 0o600)
	if pw, err := readPasswordFile(p); err != nil || pw != "secret" {
		t.Errorf("readPasswordFile = %q, %v", pw, err)
	}
}

// TestShortNDMPPasswordRefused: ferry serve refuses a password file
// holding fewer than 12 characters, saying so.
func TestShortNDMPPasswordRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(p, []byte("x\n"), 0o600)
	_, err := readNDMPPassword(p)
	if err == nil || !strings.Contains(err.Error(), "is 1 characters; ferry serve needs at least 12") {
		t.Errorf("one-character password: %v, want a refusal naming the minimum", err)
	}
	os.WriteFile(p, []byte("twelve-chars\n"), 0o600)
	if pw, err := readNDMPPassword(p); err != nil || pw != "twelve-chars" {
		t.Errorf("12-character password: %q, %v", pw, err)
	}
	state := t.TempDir()
	os.WriteFile(p, []byte("short\n"), 0o600)
	err = runServe(context.Background(), &globalOptions{state: state}, serveOptions{ndmpAddr: "127.0.0.1:0", ndmpPasswordFile: p, logLevel: "info"})
	if err == nil || !strings.Contains(err.Error(), "at least 12") {
		t.Errorf("ferry serve with a short password: %v", err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	ndmjobtest.Cleanup()
	postgres.Stop()
	os.Exit(code)
}
