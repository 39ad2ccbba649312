package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ferry/internal/view"
)

// ferryCLI runs the built binary on state and returns its standard output.
func ferryCLI(t *testing.T, bin, state string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--state", state}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ferry %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// startServeHTTP starts ferry serve on state with NDMP, iSCSI and the
// management API on free loopback ports (and args), and returns the
// process, the API's base URL from its banner, and its standard error.
// The process is killed when the test ends.
func startServeHTTP(t *testing.T, bin, state string, args ...string) (*exec.Cmd, string, *lockedLog) {
	t.Helper()
	serve := exec.Command(bin, append([]string{"serve", "--state", state, "--ndmp", "127.0.0.1:0", "--iscsi", "127.0.0.1:0",
		"--http", "127.0.0.1:0"}, args...)...)
	stderr, err := serve.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Process.Kill(); serve.Wait() })
	log := &lockedLog{}
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.add(sc.Text())
			if a, ok := strings.CutPrefix(sc.Text(), "ferry: management API on "); ok {
				base <- a
			}
		}
	}()
	select {
	case url := <-base:
		return serve, url, log
	case <-time.After(30 * time.Second):
		t.Fatalf("no management API banner:\n%s", log.String())
		return nil, "", nil
	}
}

// lockedLog collects a process's standard error.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s + "\n")
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeHTTPWithTokens runs the real binary: `ferry serve --ndmp --iscsi
// --http` on loopback; tokens made with `ferry token create` read the API
// (the read-only one /metrics too, and gets 403 on a DELETE), nothing but
// /healthz answers without one, a disk made with `ferry disk create` is
// in the next answer, a token revoked with `ferry token revoke` is refused
// by the next request, and neither the answers nor the server's log carry
// a token, the NDMP password or a CHAP secret.
func TestServeHTTPWithTokens(t *testing.T) {
	bin := ferryBinary(t)
	state := t.TempDir()
	chap := filepath.Join(t.TempDir(), "chap")
	const chapSecret = "cli-chap-secret-7e3d1f"
	os.WriteFile(chap, []byte(chapSecret+"\n"), 0o600)
	ferryCLI(t, bin, state, "target", "allow", "iqn.2026-01.test:cli", "--chap-secret-file", chap)
	rw := strings.TrimSpace(ferryCLI(t, bin, state, "token", "create", "--name", "admin"))
	ro := strings.TrimSpace(ferryCLI(t, bin, state, "token", "create", "--read-only", "--name", "prom"))
	if !strings.HasPrefix(rw, "ferry_") || !strings.HasPrefix(ro, "ferry_") || rw == ro {
		t.Fatalf("tokens %q %q", rw, ro)
	}
	var listed []view.Token
	json.Unmarshal([]byte(ferryCLI(t, bin, state, "token", "ls", "--json")), &listed)
	if len(listed) != 2 || listed[0].Name != "admin" || listed[0].ReadOnly || !listed[1].ReadOnly {
		t.Fatalf("token ls = %+v", listed)
	}

	serve, url, log := startServeHTTP(t, bin, state, "--log-level", "debug")
	var answers strings.Builder
	do := func(method, path, tok string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answers.Write(b)
		return resp.StatusCode, b
	}

	if code, _ := do("GET", "/healthz", ""); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	for _, p := range []string{"/api/v1/disks", "/metrics", "/api/v1/target"} {
		if code, _ := do("GET", p, ""); code != 401 {
			t.Errorf("GET %s without a token: %d", p, code)
		}
		if code, b := do("GET", p, ro); code != 200 {
			t.Errorf("GET %s read-only: %d %s", p, code, b)
		}
	}
	if code, b := do("DELETE", "/api/v1/disks/d1", ro); code != 403 {
		t.Errorf("DELETE read-only: %d %s", code, b)
	}
	if code, b := do("GET", "/metrics", ro); code != 200 || !strings.Contains(string(b), `ferry_drive_loaded{drive="tape0",library="changer0"} 1`) {
		t.Errorf("metrics: %d\n%s", code, b)
	}

	ferryCLI(t, bin, state, "disk", "create", "d1", "--size", "1M")
	var disks []view.Disk
	_, b := do("GET", "/api/v1/disks", rw)
	json.Unmarshal(b, &disks)
	if len(disks) != 1 || disks[0].Name != "d1" || disks[0].Size != 1<<20 {
		t.Errorf("disks right after ferry disk create: %s", b)
	}

	ferryCLI(t, bin, state, "token", "revoke", "prom")
	if code, _ := do("GET", "/api/v1/disks", ro); code != 401 {
		t.Errorf("revoked token: %d", code)
	}
	if code, _ := do("GET", "/api/v1/disks", rw); code != 200 {
		t.Errorf("the other token after a revoke: %d", code)
	}

	pw, err := readPasswordFile(filepath.Join(state, "ndmp-password"))
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ferry serve after SIGTERM: %v\n%s", err, log.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("ferry serve did not stop within 15 s of SIGTERM")
	}
	if !strings.Contains(log.String(), "token=admin") {
		t.Fatalf("the server's log has no request lines: the grep below would prove nothing\n%s", log.String())
	}
	for name, secret := range map[string]string{"read-write token": rw, "read-only token": ro, "NDMP password": pw, "CHAP secret": chapSecret} {
		if strings.Contains(answers.String(), secret) {
			t.Errorf("an answer carries the %s", name)
		}
		if strings.Contains(log.String(), secret) {
			t.Errorf("the server's log carries the %s", name)
		}
	}
}

// TestServeHTTPRefusesPlainHTTPOffLoopback: plain HTTP on an address
// other hosts reach is refused unless --insecure-http; TLS flags need
// --http.
func TestServeHTTPRefusesPlainHTTPOffLoopback(t *testing.T) {
	bin := ferryBinary(t)
	state := t.TempDir()
	out, err := exec.Command(bin, "serve", "--state", state, "--ndmp", "", "--http", "0.0.0.0:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "plain HTTP on a non-loopback address") {
		t.Errorf("plain HTTP on 0.0.0.0: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "serve", "--state", state, "--tls-cert", "c.pem").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "need --http") {
		t.Errorf("--tls-cert without --http: %v\n%s", err, out)
	}
}
