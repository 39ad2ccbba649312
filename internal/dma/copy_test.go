package dma_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/dma"
	"ferry/internal/testsupport/fstree"
)

// TestCopy migrates a tree from one agent to another with no tape: a full
// copy, then incrementals after adds, changes, renames and deletes (one
// with the source listening), each leaving the destination equal to the
// source; the levels and tokens chain through the catalog.
func TestCopy(t *testing.T) {
	a, b := newFixture(t), newFixture(t)
	src := a.dir(t, "src")
	fstree.Build(t, src, fstree.Everything())
	dst := filepath.Join(b.export, "dst")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(s dma.CopySpec) dma.CopyResult {
		t.Helper()
		s.Src, s.Dst, s.SrcPath, s.DstPath = a.agent, b.agent, src, dst
		res, err := dma.Copy(ctx, a.cat, s)
		if err != nil {
			t.Fatalf("copy %+v: %v", s, err)
		}
		fstree.Compare(t, src, dst, cmpOpts)
		return res
	}
	full := run(dma.CopySpec{})
	if full.Level != 0 || full.DumpDate == "" || full.Bytes == 0 {
		t.Fatalf("full copy: %+v", full)
	}
	p := func(n string) string { return filepath.Join(src, n) }
	must(t, os.WriteFile(p("added"), []byte("new file"), 0o644))
	must(t, os.WriteFile(p("files/one"), []byte("changed"), 0o644))
	must(t, os.Rename(p("files/block"), p("files/block-renamed")))
	must(t, os.Remove(p("files/old")))
	first := run(dma.CopySpec{Incremental: true})
	if first.Level != 1 || first.BaseJob != full.JobID || first.BaseToken != full.DumpDate {
		t.Fatalf("first incremental: %+v after %+v", first, full)
	}
	must(t, os.RemoveAll(p("empty-dir")))
	must(t, os.MkdirAll(p("new/deep"), 0o755))
	must(t, os.WriteFile(p("new/deep/f"), []byte("deep"), 0o644))
	second := run(dma.CopySpec{Incremental: true, ListenSrc: true})
	if second.Level != 2 || second.BaseJob != first.JobID {
		t.Fatalf("second incremental: %+v after %+v", second, first)
	}
	// --level 1 goes back to the full copy as its base.
	must(t, os.WriteFile(p("added"), []byte("changed again"), 0o644))
	lvl := run(dma.CopySpec{Level: 1})
	if lvl.Level != 1 || lvl.BaseJob != full.JobID {
		t.Fatalf("level 1 copy: %+v", lvl)
	}
	job, err := a.cat.Job(ctx, lvl.JobID)
	if err != nil || job.Kind != "copy" || job.State != "succeeded" {
		t.Fatalf("copy job: %+v %v", job, err)
	}
}
