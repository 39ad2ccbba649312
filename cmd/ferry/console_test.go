package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// consoleTools finds what the browser test needs: Debian's chromium,
// node, and playwright-core installed by npm ci in tools/console-test.
// Missing, the test fails under CI=true (scripts/test.sh installs them)
// and is skipped elsewhere.
func consoleTools(t *testing.T) (chromium, node, dir string) {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "tools", "console-test"))
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		if chromium, err = exec.LookPath("chromium"); err != nil {
			missing = append(missing, "chromium (Debian package chromium)")
		}
	}
	if node, err = exec.LookPath("node"); err != nil {
		missing = append(missing, "node (Debian package nodejs)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "playwright-core (npm ci in tools/console-test)")
	}
	if len(missing) > 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("missing: %s", strings.Join(missing, ", "))
		}
		t.Skipf("missing: %s", strings.Join(missing, ", "))
	}
	return chromium, node, dir
}

// artifactsDir is where screenshots are kept: $FERRY_ARTIFACTS/NAME when
// set (kept after the test), else under the test's temporary directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "artifacts")
	if a := os.Getenv("FERRY_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, t.Name()+"-"+time.Now().Format("20060102-150405"))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeRandom writes size incompressible bytes (from seed) to name.
func writeRandom(t *testing.T, name string, size int, seed uint64) []byte {
	t.Helper()
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	r := rand.NewChaCha8(key)
	b := make([]byte, size)
	r.Read(b)
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConsoleInChromium runs the real binary and a real browser: ferry
// serve --http with an export, and headless Chromium driven by
// tools/console-test/console.mjs signs in with a token, starts a backup
// from the console, sees its byte count rise at least three times on the
// dashboard before it finishes, browses the backup to one file and
// restores it into a chosen directory; the file restored is compared
// here, byte for byte. Screenshots are kept (the path is logged).
func TestConsoleInChromium(t *testing.T) {
	chromium, node, script := consoleTools(t)
	bin := ferryBinary(t)
	state, export := t.TempDir(), t.TempDir()
	src := filepath.Join(export, "src")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Many files: the backup takes seconds (each file is catalogued), so
	// the dashboard sees its progress many times at --progress-every 50ms.
	for d := range 12 {
		dir := filepath.Join(src, fmt.Sprintf("d%02d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 1000 {
			writeRandom(t, filepath.Join(dir, fmt.Sprintf("f%04d", i)), 4<<10, uint64(d*1000+i))
		}
	}
	want := writeRandom(t, filepath.Join(src, "sub", "chosen.bin"), 100<<10, 1<<40)
	writeRandom(t, filepath.Join(src, "sub", "other.bin"), 10<<10, 1<<41)
	tok := strings.TrimSpace(ferryCLI(t, bin, state, "token", "create", "--name", "console"))

	serve := exec.Command(bin, "serve", "--state", state, "--http", "127.0.0.1:0", "--export", export,
		"--ndmp", "127.0.0.1:0", "--progress-every", "50ms", "--log-level", "warn")
	stderr, err := serve.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		serve.Process.Signal(os.Interrupt)
		serve.Wait()
	}()
	var log lockedLog
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
	var url string
	select {
	case url = <-base:
	case <-time.After(30 * time.Second):
		t.Fatalf("no management API banner:\n%s", log.String())
	}

	artifacts := artifactsDir(t)
	t.Logf("screenshots in %s", artifacts)
	out := filepath.Join(export, "restored")
	cmd := exec.Command(node, filepath.Join(script, "console.mjs"))
	cmd.Dir = script
	cmd.Env = append(os.Environ(), "FERRY_URL="+url, "FERRY_TOKEN="+tok, "SOURCE="+src, "BROWSE=/sub",
		"FILE=/sub/chosen.bin", "RESTORE_TO="+out, "CHROMIUM="+chromium, "ARTIFACTS="+artifacts)
	var stdout, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &errs
	if err := cmd.Run(); err != nil {
		t.Fatalf("console.mjs: %v\n%s\n%s\nferry serve:\n%s", err, stdout.String(), errs.String(), log.String())
	}
	var seen struct {
		Job, Backup, RestoreJob   int64
		Rising                    []int64
		BackupState, RestoreState string
		Problems                  []string
	}
	if err := json.Unmarshal(stdout.Bytes(), &seen); err != nil {
		t.Fatalf("console.mjs printed %q: %v", stdout.String(), err)
	}
	t.Logf("the dashboard showed job %d's bytes rising: %v", seen.Job, seen.Rising)
	if len(seen.Rising) < 3 {
		t.Errorf("the dashboard showed the byte count rising %d times before the backup ended, want 3 or more: %v",
			len(seen.Rising), seen.Rising)
	}
	if seen.BackupState != "succeeded" || seen.RestoreState != "succeeded" || seen.Backup == 0 {
		t.Fatalf("the console showed the backup %q, the restore %q (%+v)\n%s", seen.BackupState, seen.RestoreState, seen, log.String())
	}
	if len(seen.Problems) > 0 {
		t.Errorf("the browser reported: %v", seen.Problems)
	}
	got, err := os.ReadFile(filepath.Join(out, "sub", "chosen.bin"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("restored file: %d bytes (%v), want %d identical", len(got), err, len(want))
	}
	if _, err := os.Stat(filepath.Join(out, "sub", "other.bin")); err == nil {
		t.Error("a file that was not chosen was restored")
	}
	for _, name := range []string{"1-signin", "2-dashboard-running", "3-dashboard-ended", "4-restore-chosen", "5-restore-ended"} {
		if fi, err := os.Stat(filepath.Join(artifacts, name+".png")); err != nil || fi.Size() == 0 {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}
}
