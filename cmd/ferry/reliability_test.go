package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"ferry/internal/format"
	"ferry/internal/testsupport/fstree"
	"ferry/internal/view"
)

// exitCode is the exit status of a finished command's error (0 for nil).
func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if err == nil {
		return 0
	}
	if !errors.As(err, &ee) {
		t.Fatalf("not an exit: %v", err)
	}
	return ee.ExitCode()
}

// TestBackupOutOfDescriptors backs up a tree with far more files than the
// process may hold descriptors (ulimit -n 26: ferry itself holds about 20,
// and a reproduction found ferry recording 10 of 511 files as a success
// at 22): every file is backed up, with small files read whole, large ones
// streamed and subdirectories opened while descriptors run out. (With too
// few to open anything the backup fails saying so, after a 20 s wait.)
func TestBackupOutOfDescriptors(t *testing.T) {
	bin := ferryBinary(t)
	src := filepath.Join(t.TempDir(), "src")
	spec := fstree.ManySmall(511, 2000)
	for i := range 6 {
		spec = append(spec, fstree.Node{Path: "big/f" + itoa(int64(i)), Type: format.Regular, Size: 3 << 20, Seed: uint64(i + 1)})
		spec = append(spec, fstree.Node{Path: "deep/d" + itoa(int64(i)) + "/x/y/file", Type: format.Regular, Size: 1000, Seed: uint64(i + 9)})
	}
	must(t, os.Mkdir(src, 0o755))
	fstree.Build(t, src, spec)

	// The same tree without the limit gives the count to expect.
	ref := cli{t: t, bin: bin, state: t.TempDir()}
	want := ref.backup(src)

	state := t.TempDir()
	cmd := exec.Command("sh", "-c", `ulimit -n 26 && exec "$0" "$@"`, bin, "--state", state, "backup", src, "--json")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("backup under ulimit -n 26: exit %d: %v\n%s%s", exitCode(t, err), err, out, stderr)
	}
	var got backupDoc
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Status != "succeeded" || got.Files != want.Files {
		t.Fatalf("backup under ulimit -n 26: %s with %d files, want succeeded with %d", got.Status, got.Files, want.Files)
	}
	c := cli{t: t, bin: bin, state: state}
	fstree.Compare(t, src, c.restore(got.ID), treeOpts)
}

// TestBackupWarnings backs up, as an unprivileged user, a tree holding a
// file that user cannot read: the backup completes with warnings (status,
// JSON, exit 1 as GNU tar's), names the file on standard error, and ferry
// log and ferry jobs show it; the rest restores.
func TestBackupWarnings(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run ferry as another user")
	}
	const nobody = 65534
	bin := ferryBinary(t)
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(bin); d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // the test's temporary directories, for nobody to reach the binary
	}
	top, err := os.MkdirTemp("", "ferry-warn-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	src, state := filepath.Join(top, "src"), filepath.Join(top, "state")
	must(t, os.Mkdir(src, 0o755))
	fstree.Build(t, src, fstree.ManySmall(20, 500))
	secret := filepath.Join(src, "secret.txt")
	if err := os.WriteFile(secret, []byte("not for nobody"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A directory nobody cannot read yet: opened up after the full, with
	// its file unchanged, the next incremental must still store it.
	locked := filepath.Join(src, "locked")
	must(t, os.Mkdir(locked, 0o755))
	must(t, os.WriteFile(filepath.Join(locked, "inner.txt"), []byte("kept for later"), 0o644))
	for _, p := range []string{top, state} {
		os.MkdirAll(p, 0o755)
		os.Chown(p, nobody, nobody)
	}
	filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			os.Chmod(p, 0o755)
		} else if err == nil && p != secret {
			os.Chmod(p, 0o644)
		}
		return nil
	})
	must(t, os.Chmod(locked, 0o700))

	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(bin, append([]string{"--state", state}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		cmd.Env = append(os.Environ(), "HOME="+top)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	stdout, stderr, err := run("backup", src, "--json")
	if code := exitCode(t, err); code != 1 {
		t.Fatalf("backup with an unreadable file: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "secret.txt") || !strings.Contains(stderr, "completed with warnings") {
		t.Fatalf("standard error does not name the file left out:\n%s", stderr)
	}
	var b struct {
		backupDoc
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(stdout), &b); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if b.Status != "completed_with_warnings" || len(b.Warnings) != 2 || !strings.Contains(strings.Join(b.Warnings, "\n"), "secret.txt") {
		t.Fatalf("backup JSON: %+v", b)
	}

	stdout, _, err = run("jobs", "--json")
	var jobs []view.Job
	if err != nil || json.Unmarshal([]byte(stdout), &jobs) != nil || len(jobs) != 1 || jobs[0].State != "completed_with_warnings" {
		t.Fatalf("ferry jobs: %v %s", err, stdout)
	}
	stdout, _, err = run("log", itoa(jobs[0].ID))
	if err != nil || !strings.Contains(stdout, "completed with warnings") || !strings.Contains(stdout, "secret.txt") {
		t.Fatalf("ferry log: %v\n%s", err, stdout)
	}
	// A backup with warnings is complete: it restores and an incremental
	// builds on it.
	dest := filepath.Join(top, "dest")
	if out, errOut, err := run("restore", itoa(b.ID), "--to", dest); err != nil {
		t.Fatalf("restore: %v\n%s%s", err, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dest, "secret.txt")); !os.IsNotExist(err) {
		t.Fatalf("the unreadable file was restored: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dest, filepath.Base(src))); err != nil && countFiles(t, dest) < 20 {
		t.Fatalf("restore brought back %d files", countFiles(t, dest))
	}
	must(t, os.Chmod(locked, 0o755))
	stdout, stderr, err = run("backup", src, "--incremental", "--json")
	var inc backupDoc
	if exitCode(t, err) != 1 || json.Unmarshal([]byte(stdout), &inc) != nil || inc.BaseID != b.ID ||
		!strings.Contains(stderr, "secret.txt") {
		t.Fatalf("incremental on a backup with warnings: %v %s %s", err, stdout, stderr)
	}
	dest = filepath.Join(top, "dest2")
	if out, errOut, err := run("restore", itoa(inc.ID), "--to", dest); err != nil {
		t.Fatalf("restore: %v\n%s%s", err, out, errOut)
	}
	if got, err := os.ReadFile(filepath.Join(dest, "locked", "inner.txt")); err != nil || string(got) != "kept for later" {
		t.Fatalf("a file the full could not read, unchanged since, is missing from the chain: %q %v", got, err)
	}
}

// TestBackupSkipsOwnState backs up a tree holding ferry's state directory
// and a catalog kept elsewhere in it: neither is stored (each backup of a
// home directory would otherwise hold all the ones before), and the job
// log says so.
func TestBackupSkipsOwnState(t *testing.T) {
	bin := ferryBinary(t)
	home := t.TempDir()
	must(t, os.Mkdir(filepath.Join(home, "docs"), 0o755))
	fstree.Build(t, filepath.Join(home, "docs"), fstree.ManySmall(30, 4000))
	c := cli{t: t, bin: bin, state: filepath.Join(home, ".local", "share", "ferry"), catalog: filepath.Join(home, "cat", "catalog.db")}
	b1 := c.backup(home)
	b2 := c.backup(home)
	if b2.Files != b1.Files {
		t.Fatalf("second backup of the home holds %d files, the first %d", b2.Files, b1.Files)
	}
	var files []struct {
		Path string `json:"path"`
	}
	c.runJSON(&files, "find", "*", "--backup", itoa(b2.ID))
	for _, f := range files {
		if strings.Contains(f.Path, ".local/share/ferry") || strings.HasSuffix(f.Path, "catalog.db") {
			t.Fatalf("backup stored ferry's own file %s", f.Path)
		}
	}
	var jobs []view.Job
	c.runJSON(&jobs, "jobs")
	out := c.run("log", itoa(jobs[len(jobs)-1].ID))
	if !strings.Contains(out, "ferry's state directory") || !strings.Contains(out, "catalog.db") {
		t.Fatalf("the job log does not say what it left out:\n%s", out)
	}
}
