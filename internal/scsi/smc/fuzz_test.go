package smc

import (
	"context"
	"slices"
	"testing"

	"ferry/internal/scsi"
)

// FuzzExecute runs arbitrary CDBs and data-out against a changer device:
// it must never panic, must answer GOOD or CHECK CONDITION with decodable
// sense, must never return more data than the allocation length, and no
// command may create, lose or duplicate a cartridge.
func FuzzExecute(f *testing.F) {
	dev, cc := newDevice(f)
	f.Fuzz(func(t *testing.T, cdb, dataOut []byte) {
		cmd := &scsi.Command{CDB: cdb, DataOut: dataOut}
		err := dev.Execute(context.Background(), cmd)
		status, sense := scsi.StatusOf(err)
		switch status {
		case scsi.StatusGood:
		case scsi.StatusCheckCondition:
			if _, perr := scsi.ParseSense(sense); perr != nil {
				t.Fatalf("sense % x: %v", sense, perr)
			}
		default:
			t.Fatalf("status %#x for CDB % x", status, cdb)
		}
		if op, ok := dev.table.Lookup(cdb); ok && op.Alloc.Size > 0 && len(cdb) >= op.Alloc.Offset+op.Alloc.Size {
			if n := op.Alloc.Get(cdb); uint64(len(cmd.DataIn)) > uint64(n) {
				t.Fatalf("CDB % x: %d bytes for allocation length %d", cdb, len(cmd.DataIn), n)
			}
		}
		checkCartridges(t, cc, cdb)
	})
}

// checkCartridges fails unless the library holds exactly the three
// cartridges newDevice placed.
func checkCartridges(t *testing.T, c Changer, cdb []byte) {
	els, err := c.Elements()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range els {
		if e.Full {
			got = append(got, e.Barcode)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"", "A00001", "A00002"}) {
		t.Fatalf("after CDB % x the library holds %q", cdb, got)
	}
}
