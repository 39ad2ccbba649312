package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ferry/internal/format"
	"ferry/internal/testsupport/fstree"
)

// serveProc is a `ferry serve` process on a state directory.
type serveProc struct {
	cmd  *exec.Cmd
	addr string
}

func startServe(t *testing.T, bin, state string, exports ...string) *serveProc {
	t.Helper()
	args := []string{"serve", "--state", state, "--ndmp", "127.0.0.1:0", "--log-level", "error"}
	for _, e := range exports {
		args = append(args, "--export", e)
	}
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	sc := bufio.NewScanner(stderr)
	if !sc.Scan() {
		t.Fatalf("ferry serve printed nothing: %v", sc.Err())
	}
	addr, _, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "ferry: NDMP agent on "), " ")
	go func() {
		for sc.Scan() {
		}
	}()
	return &serveProc{cmd: cmd, addr: addr}
}

// TestBackupAgentKilled kills the agent in the middle of a backup: the job
// fails with a message within seconds and is recorded failed, and after
// the agent restarts the next backup appends after the partial image while
// the earlier backup stays restorable.
func TestBackupAgentKilled(t *testing.T) {
	bin := ferryBinary(t)
	root := t.TempDir()
	small := filepath.Join(root, "small")
	big := filepath.Join(root, "big")
	must(t, os.Mkdir(small, 0o755))
	must(t, os.Mkdir(big, 0o755))
	fstree.Build(t, small, fstree.ManySmall(50, 2000))
	fstree.Build(t, big, fstree.Spec{{Path: "huge", Type: format.Regular, Size: 768 << 20, Seed: 3}})
	agentState := t.TempDir()
	pw := filepath.Join(agentState, "ndmp-password")
	srv := startServe(t, bin, agentState, root)

	c := cli{t: t, bin: bin, state: t.TempDir()}
	c.run("agent", "add", "nas", "ndmp://ndmp@"+srv.addr, "--password-file", pw)
	b1 := c.backup("ndmp://nas" + small)

	// The big backup runs until the cartridge has grown by 8 MiB; then the
	// agent dies.
	tapeFile := filepath.Join(agentState, "library", "tapes", b1barcode(t, agentState)+".tape")
	before := fileSize(t, tapeFile)
	job := exec.Command(bin, "--state", c.state, "backup", "ndmp://nas"+big)
	var out strings.Builder
	job.Stdout, job.Stderr = &out, &out
	must(t, job.Start())
	deadline := time.Now().Add(2 * time.Minute)
	for fileSize(t, tapeFile) < before+8<<20 {
		if time.Now().After(deadline) {
			t.Fatal("the big backup wrote nothing in 2 minutes")
		}
		time.Sleep(2 * time.Millisecond)
	}
	must(t, srv.cmd.Process.Signal(syscall.SIGKILL))
	srv.cmd.Wait()
	killed := time.Now()
	err := job.Wait()
	if err == nil {
		t.Fatalf("backup survived the agent's death:\n%s", out.String())
	}
	if took := time.Since(killed); took > 30*time.Second {
		t.Errorf("backup took %v to notice the agent died", took)
	}
	if !strings.Contains(out.String(), "failed") {
		t.Errorf("backup's message: %s", out.String())
	}
	var failed []backupDoc
	c.runJSON(&failed, "backups", "--status", "failed")
	if len(failed) != 1 {
		t.Fatalf("failed backups: %+v\n%s", failed, out.String())
	}

	var jobs []struct {
		State string `json:"state"`
		Error string `json:"error"`
	}
	c.runJSON(&jobs, "jobs")
	if len(jobs) != 2 || jobs[1].State != "failed" || jobs[1].Error == "" {
		t.Fatalf("jobs: %+v", jobs)
	}

	srv = startServe(t, bin, agentState, root)
	c.run("agent", "add", "nas", "ndmp://ndmp@"+srv.addr, "--password-file", pw)
	b3 := c.backup("ndmp://nas" + small)
	if b3.Locations[0].File != b1.Locations[0].File+5 {
		t.Fatalf("backup after the kill at file %d, first image at %d: want trailer+header+partial image+header between", b3.Locations[0].File, b1.Locations[0].File)
	}
	fstree.Compare(t, small, c.restore(b1.ID), treeOpts)
	fstree.Compare(t, small, c.restore(b3.ID), treeOpts)
}

// b1barcode returns the cartridge in tape0 of a default library.
func b1barcode(t *testing.T, state string) string {
	b, err := os.ReadFile(filepath.Join(state, "library", "library.json"))
	must(t, err)
	if !strings.Contains(string(b), "FRY021L8") {
		t.Fatalf("library has no FRY021L8: %s", b)
	}
	return "FRY021L8"
}

func fileSize(t *testing.T, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
