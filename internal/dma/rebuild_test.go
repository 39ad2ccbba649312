package dma_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/format"
	"ferry/internal/testsupport/fstree"
)

// TestRebuild loses the catalog after a full backup, a cancelled one and an
// incremental, and rebuilds it from the cartridge: the same backups under
// the same ids and fields (the cancelled one failed), the same file
// history, a restorable chain, and a next incremental that follows on.
func TestRebuild(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.Everything())
	full := f.backup(t, src, false)

	big := f.dir(t, "big")
	fstree.Build(t, big, fstree.Spec{{Path: "huge", Type: format.Regular, Size: 256 << 20, Seed: 9}})
	ctx, cancel := context.WithCancel(context.Background())
	progress := make(chan dma.Progress, 16)
	done := make(chan error, 1)
	go func() {
		_, err := dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: big, Barcode: f.barcode(t), Progress: progress})
		done <- err
	}()
	<-progress
	cancel()
	if err := <-done; err == nil {
		t.Fatal("cancelled backup succeeded")
	}

	must(t, os.WriteFile(filepath.Join(src, "added.txt"), []byte("new"), 0o644))
	must(t, os.Remove(filepath.Join(src, "files/one")))
	incr := f.backup(t, src, true)

	bg := context.Background()
	before, err := f.cat.Backups(bg, catalog.BackupFilter{})
	must(t, err)
	filesBefore := map[int64][]catalog.Match{}
	for i, b := range before {
		filesBefore[b.ID], err = f.cat.Find(bg, catalog.Query{Glob: "*", BackupID: b.ID})
		must(t, err)
		before[i], err = f.cat.Backup(bg, b.ID) // with its locations
		must(t, err)
	}

	// The catalog is lost.
	f.cat.Close()
	f.cat, err = catalog.OpenSQLite(bg, filepath.Join(t.TempDir(), "new.db"))
	must(t, err)
	res, err := dma.Rebuild(bg, f.cat, dma.RebuildSpec{Agent: f.agent, Drive: "tape0"})
	must(t, err)
	if len(res.Added) != 3 || len(res.Present) != 0 {
		t.Fatalf("rebuild: %+v", res)
	}
	after, err := f.cat.Backups(bg, catalog.BackupFilter{})
	must(t, err)
	if len(after) != len(before) {
		t.Fatalf("%d backups after rebuild, %d before", len(after), len(before))
	}
	for i, a := range after {
		b := before[i]
		if a.ID != b.ID || a.Level != b.Level || a.BaseID != b.BaseID || a.BaseToken != b.BaseToken || a.Path != b.Path ||
			a.Agent != b.Agent || !a.Started.Equal(b.Started) || a.Butype != b.Butype {
			t.Errorf("backup %d rebuilt as %+v, was %+v", b.ID, a, b)
		}
		want := b.Status
		if want == catalog.StatusCancelled {
			want = catalog.StatusFailed // the tape cannot tell why it did not finish
		}
		if a.Status != want {
			t.Errorf("backup %d rebuilt %s, was %s", b.ID, a.Status, b.Status)
		}
		if b.Status != catalog.StatusSucceeded {
			continue
		}
		a, err = f.cat.Backup(bg, a.ID)
		must(t, err)
		if a.DumpDate != b.DumpDate || a.Bytes != b.Bytes || a.Files != b.Files || len(a.Locations) != 1 || a.Locations[0] != b.Locations[0] {
			t.Errorf("backup %d rebuilt as %+v, was %+v", b.ID, a, b)
		}
		got, err := f.cat.Find(bg, catalog.Query{Glob: "*", BackupID: a.ID})
		must(t, err)
		if len(got) != len(filesBefore[b.ID]) {
			t.Fatalf("backup %d: %d files rebuilt, %d before", b.ID, len(got), len(filesBefore[b.ID]))
		}
		for j, m := range got {
			w := filesBefore[b.ID][j]
			sizeDiffers := m.File.Type == catalog.TypeReg && m.File.Size != w.File.Size
			if m.Path != w.Path || m.File.Type != w.File.Type || m.File.FhInfo != w.File.FhInfo || m.File.Mode != w.File.Mode ||
				m.File.UID != w.File.UID || !m.File.Mtime.Equal(w.File.Mtime) || sizeDiffers {
				t.Errorf("backup %d: %s rebuilt as %+v, was %+v", b.ID, m.Path, m.File, w.File)
			}
		}
	}
	fstree.Compare(t, src, f.restore(t, incr.ID), cmpOpts)
	if b, err := os.ReadFile(filepath.Join(f.restore(t, incr.ID, "added.txt"), "added.txt")); err != nil || string(b) != "new" {
		t.Fatalf("single file restored after rebuild: %q %v", b, err)
	}

	// Rebuilding again adds nothing; the next incremental follows the chain.
	res, err = dma.Rebuild(bg, f.cat, dma.RebuildSpec{Agent: f.agent, Drive: "tape0", NoFiles: true})
	must(t, err)
	if len(res.Added) != 0 || len(res.Present) != 3 {
		t.Fatalf("second rebuild: %+v", res)
	}
	time.Sleep(10 * time.Millisecond)
	next := f.backup(t, src, true)
	if next.BaseID != incr.ID || next.ID <= incr.ID || next.Level != incr.Level+1 {
		t.Fatalf("incremental after rebuild: %+v (previous %d)", next, incr.ID)
	}
	_ = full
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
