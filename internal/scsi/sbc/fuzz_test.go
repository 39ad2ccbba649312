package sbc

import (
	"context"
	"errors"
	"testing"

	"ferry/internal/disk"
	"ferry/internal/scsi"
)

// FuzzExecute feeds arbitrary CDBs and data-out to a disk: the device
// must not panic, must answer with GOOD, sense or a status (never an
// unexpected error, which would become HARDWARE ERROR), and must keep
// data-in within the CDB's allocation length where it has one.
func FuzzExecute(f *testing.F) {
	f.Add([]byte{0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0}, []byte{}, false)
	f.Add([]byte{0x2A, 0x08, 0, 0, 0, 1, 0, 0, 2, 0}, make([]byte, 1024), true)
	f.Add([]byte{0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}, make([]byte, 1024), false)
	f.Add([]byte{0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0}, []byte{0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0}, false)
	f.Add([]byte{0x5F, 0x06, 0, 0, 0, 0, 0, 0, 24, 0}, make([]byte, 24), true)
	f.Add([]byte{0x15, 0x10, 0, 0, 16, 0}, []byte{0, 0, 0, 0, 0x0A, 0x0A, 0, 0x10, 0x08, 0, 0xFF, 0xFF, 0, 0, 0, 0}, false)
	f.Add([]byte{0x9E, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0}, []byte{}, false)
	dk := fuzzDisk(f)
	dev := New(dk, Identity{})
	f.Fuzz(func(t *testing.T, cdb, out []byte, other bool) {
		nexus := "a"
		if other {
			nexus = "b"
		}
		cmd := &scsi.Command{CDB: cdb, DataOut: out, Initiator: nexus}
		err := dev.Execute(context.Background(), cmd)
		var s *scsi.Sense
		var st scsi.StatusError
		if err != nil && !errors.As(err, &s) && !errors.As(err, &st) {
			t.Fatalf("CDB % x: unexpected error %v", cdb, err)
		}
		if op, ok := dev.table.Lookup(cdb); ok && op.Alloc.Size > 0 && uint64(len(cmd.DataIn)) > uint64(op.Alloc.Get(cdb)) {
			t.Fatalf("CDB % x: %d bytes of data-in beyond the allocation length", cdb, len(cmd.DataIn))
		}
	})
}

// fuzzDisk is a small thin disk for the fuzzer.
func fuzzDisk(f *testing.F) *disk.Disk {
	dir := f.TempDir()
	if _, err := disk.Create(dir, "fz", 1<<20, disk.Options{}); err != nil {
		f.Fatal(err)
	}
	dk, err := disk.Open(dir, "fz")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { dk.Close() })
	return dk
}
