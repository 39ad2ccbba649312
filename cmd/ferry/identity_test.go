package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/format"
	"ferry/internal/testsupport/fstree"
)

// twoTrees makes two directories with different files, a and b.
func twoTrees(t *testing.T) (string, string) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	must(t, os.Mkdir(a, 0o755))
	must(t, os.Mkdir(b, 0o755))
	fstree.Build(t, a, fstree.Spec{{Path: "a-only/file", Type: format.Regular, Size: 3000, Seed: 1}})
	fstree.Build(t, b, fstree.Spec{{Path: "b-only/file", Type: format.Regular, Size: 5000, Seed: 2}})
	return a, b
}

// loseCatalog removes the state directory's SQLite catalog.
func loseCatalog(t *testing.T, state string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(filepath.Join(state, "catalog.db"+suffix)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

type listed struct {
	ID     int64  `json:"id"`
	Path   string `json:"path"`
	Level  int    `json:"level"`
	BaseID int64  `json:"base_id"`
}

// TestCatalogLostRefused: after a full and an incremental, the catalog is
// lost (deleted, or left empty). The next backup is refused, pointing at
// `ferry catalog rebuild`, instead of numbering another "backup 1" on the
// cartridge; after the rebuild, backups append, and a second loss and
// rebuild still chains the incremental to its own full, which restores
// the tree it was taken from.
func TestCatalogLostRefused(t *testing.T) {
	c := cli{t: t, bin: ferryBinary(t), state: t.TempDir()}
	a, b := twoTrees(t)
	if out, err := c.exec("backups"); err != nil {
		t.Fatalf("a fresh state directory: %v\n%s", err, out)
	}
	full := c.backup(a)
	must(t, os.WriteFile(filepath.Join(a, "a-added"), []byte("added to a"), 0o644))
	incr := c.backup(a, "--incremental")

	loseCatalog(t, c.state)
	for _, what := range []string{"missing", "empty"} {
		if what == "empty" {
			must(t, os.WriteFile(filepath.Join(c.state, "catalog.db"), nil, 0o600))
		}
		for _, args := range [][]string{{"backup", b}, {"backups"}} {
			out, err := c.exec(args...)
			if err == nil || !strings.Contains(out, "catalog.db is "+what) || !strings.Contains(out, "1 written cartridge;") ||
				!strings.Contains(out, "run `ferry catalog rebuild`") {
				t.Fatalf("ferry %s with the catalog %s: %v\n%s", args[0], what, err, out)
			}
		}
	}
	if fi, err := os.Stat(filepath.Join(c.state, "catalog.db")); err != nil || fi.Size() != 0 {
		t.Fatalf("the refused commands touched the empty catalog: %v, %v", fi, err)
	}

	var res struct {
		Added      []int64 `json:"added"`
		Renumbered []any   `json:"renumbered"`
	}
	c.runJSON(&res, "catalog", "rebuild")
	if len(res.Added) != 2 || len(res.Renumbered) != 0 {
		t.Fatalf("rebuild: %+v", res)
	}
	other := c.backup(b)
	if other.ID != incr.ID+1 || other.Locations[0].File <= 3 {
		t.Fatalf("backup after the rebuild: %+v", other)
	}

	loseCatalog(t, c.state)
	c.runJSON(&res, "catalog", "rebuild")
	if len(res.Added) != 3 || len(res.Renumbered) != 0 {
		t.Fatalf("second rebuild: %+v", res)
	}
	var list []listed
	c.runJSON(&list, "backups")
	if len(list) != 3 || list[1].ID != incr.ID || list[1].BaseID != full.ID || list[2].Path != b {
		t.Fatalf("backups after the second rebuild: %+v", list)
	}
	fstree.Compare(t, a, c.restore(incr.ID), treeOpts)
	fstree.Compare(t, b, c.restore(other.ID), treeOpts)
}

// TestRebuildSameIDs: an old copy of the catalog is put back after an
// incremental was taken, so the next backups (of another tree) are
// numbered like ones already on the cartridge: the tape holds two backups
// 2, a full and an incremental, with different identities. A rebuild
// keeps all four, numbering the later ones anew and saying so, and each
// incremental restores on top of its own full.
func TestRebuildSameIDs(t *testing.T) {
	c := cli{t: t, bin: ferryBinary(t), state: t.TempDir()}
	a, b := twoTrees(t)
	c.backup(a)
	old, err := os.ReadFile(filepath.Join(c.state, "catalog.db"))
	must(t, err)
	if _, err := os.Stat(filepath.Join(c.state, "catalog.db-wal")); err == nil {
		t.Fatal("the catalog's write-ahead log outlived the command: the copy would be stale")
	}
	must(t, os.WriteFile(filepath.Join(a, "a-added"), []byte("added to a"), 0o644))
	incrA := c.backup(a, "--incremental")

	loseCatalog(t, c.state)
	must(t, os.WriteFile(filepath.Join(c.state, "catalog.db"), old, 0o600))
	fullB := c.backup(b)
	if fullB.ID != incrA.ID {
		t.Fatalf("the old catalog numbered the next backup %d, want %d (the same as the incremental on tape)", fullB.ID, incrA.ID)
	}
	must(t, os.WriteFile(filepath.Join(b, "b-added"), []byte("added to b"), 0o644))
	c.backup(b, "--incremental")

	loseCatalog(t, c.state)
	out := c.run("catalog", "rebuild")
	if strings.Count(out, "is recorded as backup") != 2 || !strings.Contains(out, "4 backups added") {
		t.Fatalf("rebuild:\n%s", out)
	}
	var list []listed
	c.runJSON(&list, "backups")
	if len(list) != 4 {
		t.Fatalf("backups: %+v", list)
	}
	byPath := map[string][]listed{}
	for _, l := range list {
		byPath[l.Path] = append(byPath[l.Path], l)
	}
	for _, src := range []string{a, b} {
		bs := byPath[src]
		if len(bs) != 2 || bs[0].Level != 0 || bs[1].Level != 1 || bs[1].BaseID != bs[0].ID {
			t.Fatalf("backups of %s: %+v", src, bs)
		}
		fstree.Compare(t, src, c.restore(bs[1].ID), treeOpts)
	}
}
