package catalog_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"ferry/internal/catalog"
)

// TestSQLiteProcesses runs ingesters in several processes against one
// catalog.db at once, as a running ferry serve and CLI commands would.
func TestSQLiteProcesses(t *testing.T) {
	if path := os.Getenv("FERRY_CATALOG_CHILD"); path != "" {
		childIngest(t, path)
		return
	}
	const procs = 3
	path := filepath.Join(t.TempDir(), "catalog.db")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	outs := make([]bytes.Buffer, procs)
	for i := range procs {
		cmd := exec.Command(exe, "-test.run=^TestSQLiteProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), "FERRY_CATALOG_CHILD="+path, "FERRY_CATALOG_CHILD_N="+strconv.Itoa(i))
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i].String())
		}
	}
	c, err := catalog.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bs, err := c.Backups(context.Background(), catalog.BackupFilter{Status: catalog.StatusSucceeded})
	if err != nil || len(bs) != procs {
		t.Fatalf("backups = %d, %v; want %d", len(bs), err, procs)
	}
	for _, b := range bs {
		ms, err := c.Find(context.Background(), catalog.Query{Glob: "*/f0042", BackupID: b.ID})
		if err != nil || len(ms) != 1 || b.Files != 5000 {
			t.Fatalf("backup %d: %d matches, %d files, %v", b.ID, len(ms), b.Files, err)
		}
	}
}

// childIngest is one process: open (racing the others to migrate a new
// catalog), create a backup, ingest 5,000 entries in small transactions.
func childIngest(t *testing.T, path string) {
	ctx := context.Background()
	c, err := catalog.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := &catalog.Backup{Agent: "p" + os.Getenv("FERRY_CATALOG_CHILD_N"), Path: "/x", Butype: "tar"}
	if _, err := c.CreateBackup(ctx, b); err != nil {
		t.Fatal(err)
	}
	in := c.Ingest(ctx, b.ID, catalog.IngestOptions{Batch: 50, Queue: 1, TxFiles: 100})
	for i := range 5000 {
		if err := in.Add(catalog.File{Path: fmt.Sprintf("/x/d%d/f%04d", i%10, i)}); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 0 {
			if err := c.Log(ctx, 0, "info", "progress"); err == nil {
				t.Fatal("log of a missing job accepted") // foreign keys are on
			}
		}
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.FinishBackup(ctx, b.ID, catalog.BackupResult{Status: catalog.StatusSucceeded, Files: in.Count()}); err != nil {
		t.Fatal(err)
	}
}
