package dma_test

import (
	"context"
	"path/filepath"
	"testing"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/testsupport/fstree"
)

// TestRebuildNextFile loses the catalog after several backups and
// rebuilds it: the cartridge's next file is where the next backup's
// header lands (its image one file after), as a backup would have left it.
func TestRebuildNextFile(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.Everything())
	f.backup(t, src, false)
	bg := context.Background()
	// A backup the agent refuses leaves its header and an empty image.
	if _, err := dma.Backup(bg, f.cat, dma.BackupSpec{Agent: f.agent, Path: t.TempDir(), Barcode: f.barcode(t)}); err == nil {
		t.Fatal("backup of a path outside the exports succeeded")
	}
	m, err := f.cat.Medium(bg, f.barcode(t))
	must(t, err)

	f.cat.Close()
	f.cat, err = catalog.OpenSQLite(bg, filepath.Join(t.TempDir(), "new.db"))
	must(t, err)
	_, err = dma.Rebuild(bg, f.cat, dma.RebuildSpec{Agent: f.agent, Drive: "tape0"})
	must(t, err)
	r, err := f.cat.Medium(bg, f.barcode(t))
	must(t, err)
	if r.NextFile != m.NextFile {
		t.Errorf("rebuilt next file %d, the backups left %d", r.NextFile, m.NextFile)
	}
	next := f.backup(t, src, false)
	if l := next.Locations[0]; l.FileNum != r.NextFile+1 {
		t.Errorf("next backup's image at tape file %d, its header at %d; the rebuilt catalog said %d", l.FileNum, l.FileNum-1, r.NextFile)
	}
}
