package sbc

import (
	"bytes"
	"testing"

	"ferry/internal/disk"
	"ferry/internal/scsi"
	"ferry/internal/scsi/scsitest"
)

// TestSnapshotLU serves a disk snapshot as a logical unit: it reads the
// image as it was while the host keeps writing the disk, refuses every
// write with DATA PROTECT, WRITE PROTECTED (also after a reset), reports
// WP, and GET LBA STATUS reports the snapshot's allocation, not the
// live disk's.
func TestSnapshotLU(t *testing.T) {
	dk, _ := newDisk(t, disk.Options{})
	live := New(dk, Identity{})
	old := pattern(16, 1)
	scsitest.MustExec(t, live, cdb10(0x2A, 0, 0, 16), old) // blocks 0..15 mapped
	if _, err := dk.Snapshot(disk.SnapshotOptions{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	im, err := dk.OpenSnapshot("s")
	if err != nil {
		t.Fatal(err)
	}
	im.SetIdentity("SNAPSERIAL", []byte{0x3A, 1, 2, 3, 4, 5, 6, 7})
	snap := New(im, Identity{})

	// The host rewrites blocks 0..7, unmaps 8..15, and writes 64..71.
	scsitest.MustExec(t, live, cdb10(0x2A, 0, 0, 8), pattern(8, 2))
	scsitest.MustExec(t, live, cdb16(0x93, 0x08, 8, 8), make([]byte, 512)) // WRITE SAME(16) UNMAP
	scsitest.MustExec(t, live, cdb10(0x2A, 0, 64, 8), pattern(8, 3))

	if got := scsitest.MustExec(t, snap, cdb10(0x28, 0, 0, 16), nil); !bytes.Equal(got, old) {
		t.Fatal("the snapshot LU does not read the image as it was")
	}
	if got := scsitest.MustExec(t, snap, cdb10(0x28, 0, 64, 8), nil); !bytes.Equal(got, make([]byte, 8*512)) {
		t.Fatal("a block written after the snapshot reads its new data")
	}
	got := getLBAStatus(t, snap, 0)
	want := []lbaStatus{{0, 16, statusMapped}, {16, testBlocks - 16, statusDeallocated}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("GET LBA STATUS on the snapshot: %+v, want %+v", got, want)
	}

	snap.Reset()
	for _, c := range []struct {
		name string
		cdb  []byte
		data []byte
	}{
		{"WRITE(10)", cdb10(0x2A, 0, 0, 1), pattern(1, 4)},
		{"WRITE SAME(16)", cdb16(0x93, 0, 0, 1), pattern(1, 4)},
		{"UNMAP", cdb10(0x42, 0, 0, 24), unmapList([]unmapDesc{{0, 1}})},
		{"COMPARE AND WRITE", cdb16(0x89, 0, 0, 1)[:16], append(old[:512:512], pattern(1, 5)...)},
	} {
		if c.name == "COMPARE AND WRITE" {
			c.cdb[13] = 1
		}
		_, err := scsitest.Exec(snap, c.cdb, c.data)
		scsitest.WantSense(t, err, scsi.DataProtect, 0x27, 0)
	}
	if ms := scsitest.MustExec(t, snap, []byte{0x1A, 0x08, 0x0A, 0, 255, 0}, nil); ms[2]&0x80 == 0 {
		t.Fatalf("MODE SENSE does not report WP: % x", ms)
	}
	if got := scsitest.MustExec(t, snap, cdb10(0x28, 0, 0, 16), nil); !bytes.Equal(got, old) {
		t.Fatal("a refused write changed the snapshot")
	}
	// A released snapshot no longer reads.
	if err := dk.ReleaseSnapshot("s"); err != nil {
		t.Fatal(err)
	}
	if _, err := scsitest.Exec(snap, cdb10(0x28, 0, 0, 1), nil); err == nil {
		t.Fatal("a released snapshot still reads")
	}
}
