package dma

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/catalog"
)

// TestOwnerGone tells this process (alive) from one that has exited, and
// leaves alone what it cannot judge: another machine's jobs, jobs recorded
// without an owner.
func TestOwnerGone(t *testing.T) {
	if ownerGone(Owner()) {
		t.Fatalf("this process (%q) taken for gone", Owner())
	}
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child, ok := processOwner(cmd.Process.Pid)
	if !ok || ownerGone(child) {
		t.Fatalf("a running child (%q) taken for gone", child)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if !ownerGone(child) {
		t.Fatalf("a child that exited (%q) not taken for gone", child)
	}
	f := strings.Fields(Owner())
	f[3] = "1" // a process that took our pid later started at another tick
	if !ownerGone(strings.Join(f, " ")) {
		t.Fatal("a reused pid taken for the job's process")
	}
	for _, o := range []string{"", "otherhost " + strings.Join(f[1:], " "), "garbage"} {
		if ownerGone(o) {
			t.Fatalf("%q taken for gone", o)
		}
	}
}

// TestReconcile ends the jobs of a process that is gone: a backup the tape
// check found complete succeeds, one it did not is failed, and a job of a
// live process is left running.
func TestReconcile(t *testing.T) {
	ctx := context.Background()
	cat, err := catalog.OpenSQLite(ctx, filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dead, _ := processOwner(cmd.Process.Pid)
	cmd.Wait()
	job := func(owner string) (catalog.Job, catalog.Backup) {
		b := &catalog.Backup{Agent: "local", Path: "/src", Butype: "tar", Status: catalog.StatusRunning}
		if _, err := cat.CreateBackup(ctx, b); err != nil {
			t.Fatal(err)
		}
		j := &catalog.Job{Kind: "backup", State: catalog.JobRunning, PID: 1, Owner: owner, BackupID: b.ID}
		if _, err := cat.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		return *j, *b
	}
	complete, _ := job(dead)
	partial, _ := job(dead)
	alive, _ := job(Owner())
	check := func(ctx context.Context, j catalog.Job, b catalog.Backup) error {
		if j.ID == complete.ID {
			return cat.FinishBackup(ctx, b.ID, catalog.BackupResult{Status: catalog.StatusSucceeded, DumpDate: "t"})
		}
		return nil
	}
	done, err := Reconcile(ctx, cat, check)
	if err != nil || len(done) != 2 {
		t.Fatalf("Reconcile = %+v, %v", done, err)
	}
	for _, c := range []struct {
		j           catalog.Job
		job, backup string
	}{
		{complete, catalog.JobSucceeded, catalog.StatusSucceeded},
		{partial, catalog.JobFailed, catalog.StatusFailed},
		{alive, catalog.JobRunning, catalog.StatusRunning},
	} {
		j, _ := cat.Job(ctx, c.j.ID)
		b, _ := cat.Backup(ctx, c.j.BackupID)
		if j.State != c.job || b.Status != c.backup {
			t.Errorf("job %d: %s, backup %s; want %s, %s", j.ID, j.State, b.Status, c.job, c.backup)
		}
	}
	if b, _ := cat.Backup(ctx, partial.BackupID); !strings.Contains(b.Error, "gone") {
		t.Errorf("failed backup's error: %q", b.Error)
	}
}
