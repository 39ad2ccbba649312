package ssc_test

import (
	"context"
	"testing"

	"ferry/internal/scsi"
	"ferry/internal/scsi/ssc"
)

// FuzzExecute runs arbitrary CDBs and data-out against a tape LU on a
// small cartridge: it must never panic, must answer GOOD or CHECK
// CONDITION with decodable sense, and must never return more data than
// the CDB's allocation length.
func FuzzExecute(f *testing.F) {
	lib := newLibrary(f, 1<<20)
	dev := ssc.New(lib, "tape0", ssc.Identity{})
	f.Fuzz(func(t *testing.T, cdb, dataOut []byte) {
		cmd := &scsi.Command{CDB: cdb, DataOut: dataOut}
		err := dev.Execute(context.Background(), cmd)
		status, sense := scsi.StatusOf(err)
		switch status {
		case scsi.StatusGood:
		case scsi.StatusCheckCondition:
			s, perr := scsi.ParseSense(sense)
			if perr != nil {
				t.Fatalf("sense % x: %v", sense, perr)
			}
			if s.Key == scsi.HardwareError {
				t.Fatalf("CDB % x: %v", cdb, err)
			}
		default:
			t.Fatalf("status %#x for CDB % x", status, cdb)
		}
		if n, ok := allocation(cdb); ok && uint64(len(cmd.DataIn)) > uint64(n) {
			t.Fatalf("CDB % x: %d bytes for allocation length %d", cdb, len(cmd.DataIn), n)
		}
	})
}

// allocation returns the allocation length of the CDBs that have one.
func allocation(cdb []byte) (uint32, bool) {
	if len(cdb) == 0 {
		return 0, false
	}
	var f scsi.Field
	switch cdb[0] {
	case 0x12:
		f = scsi.AllocInquiry
	case 0x03, 0x1A:
		f = scsi.Alloc6
	case 0x5A, 0x4D, 0x44:
		f = scsi.Alloc10
	case 0x8C:
		f = scsi.Field{Offset: 10, Size: 4}
	case 0x34:
		if len(cdb) > 1 && cdb[1]&0x1F == 8 {
			f = scsi.Alloc10
		}
	}
	if f.Size == 0 || len(cdb) < f.Offset+f.Size {
		return 0, false
	}
	return f.Get(cdb), true
}
