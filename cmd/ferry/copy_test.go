package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testsupport/fstree"
)

// TestCopyCommand migrates a directory with ferry copy: from a served
// agent to this machine (the in-process agent), full then incremental
// after changes, and between two local directories with the source
// listening; each copy leaves the destination equal to the source.
func TestCopyCommand(t *testing.T) {
	bin := ferryBinary(t)
	exported := t.TempDir()
	src := filepath.Join(exported, "src")
	must(t, os.Mkdir(src, 0o755))
	sourceTree(t, src)
	agentState := t.TempDir()
	srv := startServe(t, bin, agentState, exported)
	pw := filepath.Join(agentState, "ndmp-password")
	c := cli{t: t, bin: bin, state: t.TempDir()}
	c.run("agent", "add", "nas", "ndmp://ndmp@"+srv.addr, "--password-file", pw)

	dst := filepath.Join(t.TempDir(), "dst")
	var full, incr struct {
		JobID    int64  `json:"job_id"`
		Level    int    `json:"level"`
		BaseJob  int64  `json:"base_job"`
		DumpDate string `json:"dump_date"`
	}
	c.runJSON(&full, "copy", "ndmp://nas"+src, dst)
	fstree.Compare(t, src, dst, treeOpts)
	must(t, os.WriteFile(filepath.Join(src, "added"), []byte("after the full copy"), 0o644))
	must(t, os.RemoveAll(filepath.Join(src, "d0000")))
	c.runJSON(&incr, "copy", "ndmp://nas"+src, dst, "--incremental")
	fstree.Compare(t, src, dst, treeOpts)
	if full.Level != 0 || full.DumpDate == "" || incr.Level != 1 || incr.BaseJob != full.JobID {
		t.Fatalf("copies: full %+v, incremental %+v", full, incr)
	}
	if jobs := c.run("jobs"); strings.Count(jobs, "copy") != 2 {
		t.Fatalf("jobs:\n%s", jobs)
	}

	again := filepath.Join(t.TempDir(), "again")
	if out := c.run("copy", dst, again, "--listen", "src"); !strings.Contains(out, "level 0") {
		t.Fatalf("local copy: %s", out)
	}
	fstree.Compare(t, src, again, treeOpts)
	if out, err := c.exec("copy", dst, again, "--level", "3", "--incremental"); err == nil {
		t.Fatalf("--level with --incremental accepted: %s", out)
	}
}
