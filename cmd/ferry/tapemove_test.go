package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTapeImportExportMove: an operator imports a new write-once cartridge
// through a mail slot, makes room in a drive (its cartridge to the other
// mail slot), moves the new one into the drive by barcode, a backup to that
// drive succeeds, a second backup appends, and the cartridge is exported
// through a mail slot; moving to a full element is refused.
func TestTapeImportExportMove(t *testing.T) {
	c := cli{t: t, bin: ferryBinary(t), state: t.TempDir()}
	c.run("tape", "ls") // makes the library
	out := c.run("tape", "import", "WRM001L8", "--worm", "--capacity", "1 GiB")
	if !strings.Contains(out, "WRM001L8 in mail slot") {
		t.Fatalf("import: %s", out)
	}
	if out, err := c.exec("tape", "move", "WRM001L8", "tape1"); err == nil {
		t.Fatalf("move into a full drive succeeded: %s", out)
	}
	var els []struct {
		Address uint16 `json:"address"`
		Type    string `json:"type"`
		Full    bool   `json:"full"`
	}
	c.runJSON(&els, "tape", "ls")
	slot := ""
	for _, e := range els {
		if e.Type == "import/export" && !e.Full && slot == "" {
			slot = itoa(int64(e.Address))
		}
	}
	if slot == "" {
		t.Fatalf("no empty mail slot in %+v", els)
	}
	c.run("tape", "move", "tape1", slot)
	c.run("tape", "move", "WRM001L8", "tape1")
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "f"), []byte("once"), 0o644))
	b1 := c.backup(src, "--tape", "ndmp://local/tape1")
	b2 := c.backup(src, "--tape", "ndmp://local/tape1")
	if b1.Locations[0].Barcode != "WRM001L8" || b2.Locations[0].Barcode != "WRM001L8" || b2.Locations[0].File <= b1.Locations[0].File {
		t.Fatalf("backups on the WORM cartridge: %+v then %+v", b1.Locations, b2.Locations)
	}
	out = c.run("tape", "export", "WRM001L8")
	if !strings.Contains(out, "WRM001L8 exported") {
		t.Fatalf("export: %s", out)
	}
	if raw := c.run("tape", "ls", "--json"); strings.Contains(raw, "WRM001L8") {
		t.Fatalf("the exported cartridge is still in the library: %s", raw)
	}
}
