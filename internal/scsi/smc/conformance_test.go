package smc

import (
	"path/filepath"
	"testing"

	"ferry/internal/changer"
	"ferry/internal/library"
	"ferry/internal/scsi/smc/smctest"
)

// TestSMCConformance runs the changer conformance suite on the changer of
// a file-backed library with two storage slots emptied (their cartridges
// exported).
func TestSMCConformance(t *testing.T) {
	lib, err := library.OpenWith(filepath.Join(t.TempDir(), "library"), library.Options{
		Drives: []string{"tape0", "tape1"}, Slots: 6, ImportExport: 2, Capacity: 1 << 20, Prefix: "C", Suffix: "L8",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	for _, slot := range []uint16{changer.SlotBase + 4, changer.SlotBase + 5} {
		if err := lib.Move(slot, changer.ImportExportBase); err != nil {
			t.Fatal(err)
		}
		if _, err := lib.Export(changer.ImportExportBase); err != nil {
			t.Fatal(err)
		}
	}
	smctest.Run(t, New(lib, Identity{}), smctest.Config{})
}
