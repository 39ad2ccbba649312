package smc

import (
	"context"
	"testing"

	"ferry/internal/scsi"
)

// FuzzExecute runs arbitrary CDBs and data-out against a changer device:
// it must never panic, must answer GOOD or CHECK CONDITION with decodable
// sense, and must never return more data than the allocation length.
func FuzzExecute(f *testing.F) {
	dev, _ := newDevice(f)
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
	})
}
