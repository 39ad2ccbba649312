package xcopy_test

import (
	"bytes"
	"runtime"
	"testing"

	"ferry/internal/scsi"
)

// TestBlockToStreamLarge: a 00h segment of 12 MiB (a serverless
// backup's data) reaches the tape as its 1 MiB records, in order, while
// the disk is read one piece ahead of the tape's writes; and the copy
// manager lends the disk its own buffers and writes whole records
// straight from them, so the copy allocates a small part of the bytes it
// moves (it once allocated every piece read, then copied it).
func TestBlockToStreamLarge(t *testing.T) {
	const mib, blocks = 1 << 20, 12 << 11
	b := newBedBlocks(t, blocks+8)
	d0, t0 := b.disks[0], b.tapes[0]
	want := fill(t, d0, 8, blocks, 3)
	l := &list{id: 1}
	src := l.cscd(t, d0, scsi.DirectAccess, false, false, 512)
	dst := l.cscd(t, t0, scsi.SequentialAccess, false, false, 0)
	l.segs = [][]byte{b2s(0x00, false, src, dst, mib, blocks, 8)}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := xcopyCmd(d0, "i", l); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > uint64(len(want))/3 {
		t.Errorf("copying %d bytes allocated %d", len(want), n)
	}
	rewind(t, t0)
	for i := 0; i < len(want)/mib; i++ {
		rec, err := readRecord(t0)
		if err != nil || !bytes.Equal(rec, want[i*mib:(i+1)*mib]) {
			t.Fatalf("record %d: %d bytes, %v; differs from the disk", i, len(rec), err)
		}
	}
	if _, err := readRecord(t0); err == nil {
		t.Fatal("a record after the segment's")
	}
}
