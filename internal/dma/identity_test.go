package dma_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/format"
	"ferry/internal/testsupport/fstree"
)

// TestRebuildSameNumbers: a catalog is lost after a full and an
// incremental of one tree, and ferry goes on with a fresh catalog, which
// numbers its next full and incremental (of another tree) 1 and 2 again on
// the same cartridge. Rebuilding into that catalog, then into an empty
// one, keeps all four backups apart by identity, renumbering the ones
// whose number is taken, and every incremental restores on top of its own
// full, never on the other tree's backup of the same number.
func TestRebuildSameNumbers(t *testing.T) {
	f := newFixture(t)
	bg := context.Background()
	a, b := f.dir(t, "a"), f.dir(t, "b")
	fstree.Build(t, a, fstree.Spec{{Path: "a-only", Type: format.Regular, Size: 3000, Seed: 1}})
	fstree.Build(t, b, fstree.Spec{{Path: "b-only", Type: format.Regular, Size: 5000, Seed: 2}})
	fullA := f.backup(t, a, false)
	must(t, os.WriteFile(filepath.Join(a, "a-added"), []byte("added to a"), 0o644))
	incrA := f.backup(t, a, true)

	// The catalog is lost; the next backups start again at 1.
	f.cat.Close()
	var err error
	f.cat, err = catalog.OpenSQLite(bg, filepath.Join(t.TempDir(), "fresh.db"))
	must(t, err)
	fullB := f.backup(t, b, false)
	must(t, os.WriteFile(filepath.Join(b, "b-added"), []byte("added to b"), 0o644))
	incrB := f.backup(t, b, true)
	if fullB.ID != fullA.ID || incrB.ID != incrA.ID || fullB.UUID == fullA.UUID || incrB.BaseUUID != fullB.UUID {
		t.Fatalf("backups of the fresh catalog: full %d %s, incremental %d based on %s; before: %d %s, %d",
			fullB.ID, fullB.UUID, incrB.ID, incrB.BaseUUID, fullA.ID, fullA.UUID, incrA.ID)
	}

	// Rebuilt into the catalog that has B's: A's are renumbered.
	res, err := dma.Rebuild(bg, f.cat, dma.RebuildSpec{Agent: f.agent, Drive: "tape0"})
	must(t, err)
	if len(res.Added) != 2 || !slices.Equal(res.Present, []int64{fullB.ID, incrB.ID}) || len(res.Renumbered) != 2 {
		t.Fatalf("rebuild into the fresh catalog: %+v", res)
	}
	checkChains(t, f, a, fullA.UUID, incrA.UUID)
	checkChains(t, f, b, fullB.UUID, incrB.UUID)

	// Rebuilt into an empty catalog: B's are renumbered.
	f.cat.Close()
	f.cat, err = catalog.OpenSQLite(bg, filepath.Join(t.TempDir(), "empty.db"))
	must(t, err)
	res, err = dma.Rebuild(bg, f.cat, dma.RebuildSpec{Agent: f.agent, Drive: "tape0"})
	must(t, err)
	if len(res.Added) != 4 || len(res.Renumbered) != 2 || res.Renumbered[0].HeaderID != fullB.ID || res.Renumbered[0].UUID != fullB.UUID {
		t.Fatalf("rebuild into an empty catalog: %+v", res)
	}
	checkChains(t, f, a, fullA.UUID, incrA.UUID)
	checkChains(t, f, b, fullB.UUID, incrB.UUID)

	// A third rebuild finds them all present.
	res, err = dma.Rebuild(bg, f.cat, dma.RebuildSpec{Agent: f.agent, Drive: "tape0", NoFiles: true})
	must(t, err)
	if len(res.Added) != 0 || len(res.Present) != 4 || len(res.Renumbered) != 0 {
		t.Fatalf("third rebuild: %+v", res)
	}
}

// checkChains checks that the incremental of identity incr is chained to
// the full of identity full and restores to the tree src.
func checkChains(t *testing.T, f *fixture, src, full, incr string) {
	t.Helper()
	bg := context.Background()
	i, err := f.cat.BackupByUUID(bg, incr)
	must(t, err)
	chain, err := f.cat.Chain(bg, i.ID)
	must(t, err)
	if len(chain) != 2 || chain[0].UUID != full || chain[1].UUID != incr || chain[0].Path != src {
		t.Fatalf("chain of %s (%d): %+v", incr, i.ID, chain)
	}
	fstree.Compare(t, src, f.restore(t, i.ID), cmpOpts)
}
