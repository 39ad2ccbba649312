package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ferry/internal/changer"
	"ferry/internal/library"
	"ferry/internal/testsupport/fstree"
)

// TestCatalogRebuild loses the catalog after backups on two cartridges (a
// full and an incremental of one directory on the first, a full of another
// directory on the second, which is then back in its slot) and rebuilds it
// with `ferry catalog rebuild`: every backup is listed again as before,
// ls and find answer, and the backups restore to the trees they were taken
// from. On SQLite and on PostgreSQL.
func TestCatalogRebuild(t *testing.T) { testCatalogRebuild(t, false) }

func TestCatalogRebuildPostgres(t *testing.T) { testCatalogRebuild(t, true) }

func testCatalogRebuild(t *testing.T, pg bool) {
	c := cli{t: t, bin: ferryBinary(t), state: t.TempDir()}
	if pg {
		c.catalog = postgres.Database(t)
	}
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	must(t, os.Mkdir(a, 0o755))
	must(t, os.Mkdir(b, 0o755))
	sourceTree(t, a)
	sourceTree(t, b)
	c.backup(a)
	must(t, os.WriteFile(filepath.Join(a, "plain-added"), []byte("added after the full backup"), 0o644))
	must(t, os.RemoveAll(filepath.Join(a, "small")))
	incr := c.backup(a, "--incremental")
	swapCartridge(t, c.state)
	other := c.backup(b)
	swapCartridge(t, c.state) // the second cartridge goes back to a slot

	var before []map[string]any
	c.runJSON(&before, "backups")
	lsBefore := c.run("ls", itoa(incr.ID))

	// The catalog is lost.
	if pg {
		c.catalog = postgres.Database(t)
	} else {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(filepath.Join(c.state, "catalog.db"+suffix))
		}
	}
	var res struct {
		Added   []int64 `json:"added"`
		Present []int64 `json:"present"`
		Files   int64   `json:"files"`
	}
	c.runJSON(&res, "catalog", "rebuild")
	if len(res.Added) != 3 || res.Files == 0 {
		t.Fatalf("rebuild: %+v", res)
	}
	var after []map[string]any
	c.runJSON(&after, "backups")
	if len(after) != len(before) {
		t.Fatalf("%d backups after the rebuild, %d before", len(after), len(before))
	}
	for i := range before {
		for _, k := range []string{"id", "agent", "path", "level", "base_id", "status", "files", "bytes", "started", "locations"} {
			if !reflect.DeepEqual(before[i][k], after[i][k]) {
				t.Errorf("backup %v: %s is %v after the rebuild, %v before", before[i]["id"], k, after[i][k], before[i][k])
			}
		}
	}
	if ls := c.run("ls", itoa(incr.ID)); ls != lsBefore {
		t.Errorf("ls after the rebuild:\n%s\nbefore:\n%s", ls, lsBefore)
	}
	if found := c.run("find", "*/plain-added"); !strings.Contains(found, "/plain-added") {
		t.Errorf("find after the rebuild: %q", found)
	}
	fstree.Compare(t, a, c.restore(incr.ID), treeOpts)
	swapCartridge(t, c.state) // restores do not load cartridges yet
	fstree.Compare(t, b, c.restore(other.ID), treeOpts)

	// Again: nothing to add.
	c.runJSON(&res, "catalog", "rebuild", "--no-files")
	if len(res.Added) != 0 || len(res.Present) != 3 {
		t.Fatalf("second rebuild: %+v", res)
	}
}

// swapCartridge exchanges the cartridge in tape0 with the one in the first
// slot (SMC EXCHANGE MEDIUM).
func swapCartridge(t *testing.T, state string) {
	t.Helper()
	lib, err := library.Open(filepath.Join(state, "library"))
	must(t, err)
	defer lib.Close()
	els, err := lib.Elements()
	must(t, err)
	var drive, slot *changer.Element
	for i, e := range els {
		switch {
		case e.Type == changer.DataTransfer && e.Drive == "tape0":
			drive = &els[i]
		case e.Type == changer.Storage && e.Full && slot == nil:
			slot = &els[i]
		}
	}
	if drive == nil || slot == nil || !drive.Full {
		t.Fatalf("library: drive %+v slot %+v", drive, slot)
	}
	must(t, lib.Exchange(drive.Address, slot.Address, drive.Address))
}
