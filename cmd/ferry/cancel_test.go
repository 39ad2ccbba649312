package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/format"
	"ferry/internal/testsupport/fstree"
	"ferry/internal/view"
)

// TestCancelCommand cancels a running `ferry backup` from another process
// with `ferry cancel`: the backup exits non-zero saying so, the job and the
// backup are recorded cancelled, the next backup appends after the partial
// image and the earlier backup still restores.
func TestCancelCommand(t *testing.T) {
	bin := ferryBinary(t)
	root := t.TempDir()
	small := filepath.Join(root, "small")
	big := filepath.Join(root, "big")
	must(t, os.Mkdir(small, 0o755))
	must(t, os.Mkdir(big, 0o755))
	fstree.Build(t, small, fstree.ManySmall(50, 2000))
	fstree.Build(t, big, fstree.Spec{{Path: "huge", Type: format.Regular, Size: 1 << 30, Seed: 4}})

	c := cli{t: t, bin: bin, state: t.TempDir()}
	b1 := c.backup(small)
	if msg, err := c.exec("cancel", "1"); err == nil || !strings.Contains(msg, "already ended") {
		t.Fatalf("cancel of a finished job: %v %s", err, msg)
	}

	// Cancel once the image is flowing: the cartridge has grown by 8 MiB.
	tapeFile := filepath.Join(c.state, "library", "tapes", b1barcode(t, c.state)+".tape")
	before := fileSize(t, tapeFile)
	job := exec.Command(bin, "--state", c.state, "backup", big)
	var out strings.Builder
	job.Stdout, job.Stderr = &out, &out
	must(t, job.Start())
	defer job.Process.Kill()
	deadline := time.Now().Add(2 * time.Minute)
	for fileSize(t, tapeFile) < before+8<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("the big backup wrote nothing in 2 minutes:\n%s", out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	var active []view.Job
	c.runJSON(&active, "jobs", "--active")
	if len(active) != 1 || active[0].BackupID == 0 {
		t.Fatalf("active jobs: %+v (a running backup job names its backup)", active)
	}
	id := active[0].ID
	var cancelled view.Job
	c.runJSON(&cancelled, "cancel", itoa(id))
	if cancelled.State != "cancelled" {
		t.Fatalf("ferry cancel returned job %+v", cancelled)
	}
	if err := job.Wait(); err == nil {
		t.Fatalf("cancelled backup exited 0:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "cancelled by request") {
		t.Errorf("cancelled backup's message: %s", out.String())
	}
	var bs []backupDoc
	c.runJSON(&bs, "backups", "--status", "cancelled")
	if len(bs) != 1 {
		t.Fatalf("cancelled backups: %+v", bs)
	}
	b3 := c.backup(small)
	if b3.Locations[0].File <= b1.Locations[0].File+2 {
		t.Fatalf("backup after the cancel at file %d, first at %d", b3.Locations[0].File, b1.Locations[0].File)
	}
	fstree.Compare(t, small, c.restore(b1.ID), treeOpts)
	fstree.Compare(t, small, c.restore(b3.ID), treeOpts)
}
