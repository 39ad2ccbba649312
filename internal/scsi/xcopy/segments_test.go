package xcopy_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"ferry/internal/disk"
	"ferry/internal/scsi"
	"ferry/internal/scsi/sbc"
	"ferry/internal/scsi/scsitest"
	"ferry/internal/scsi/xcopy"
)

// offSeg is an 08h (block<o> -> stream) or 09h (stream -> block<o>)
// descriptor.
func offSeg(typ byte, cat bool, src, dst uint16, xfer, n uint32, lba uint64, off uint16) []byte {
	d := seg(typ, cat, src, dst, 0x18)
	put24(d[9:], xfer)
	binary.BigEndian.PutUint32(d[12:], n)
	binary.BigEndian.PutUint64(d[16:], lba)
	binary.BigEndian.PutUint16(d[26:], off)
	return d
}

// b2bOff is a 0Ah (block<o> -> block<o>) descriptor.
func b2bOff(src, dst uint16, n uint32, from uint64, fromOff uint16, to uint64, toOff uint16) []byte {
	d := seg(0x0A, false, src, dst, 0x1C)
	binary.BigEndian.PutUint32(d[8:], n)
	binary.BigEndian.PutUint64(d[12:], from)
	binary.BigEndian.PutUint64(d[20:], to)
	binary.BigEndian.PutUint16(d[28:], fromOff)
	binary.BigEndian.PutUint16(d[30:], toOff)
	return d
}

// imageSeg is a 16h (block image) descriptor with an 8-byte count.
func imageSeg(src, dst uint16, from, to, n uint64) []byte {
	d := seg(0x16, false, src, dst, 0x1C)
	binary.BigEndian.PutUint64(d[8:], from)
	binary.BigEndian.PutUint64(d[16:], to)
	binary.BigEndian.PutUint64(d[24:], n)
	return d
}

// TestByteOffsetSegments: 08h takes bytes from inside a block, 09h and 0Ah
// write inside blocks and keep the bytes around the range.
func TestByteOffsetSegments(t *testing.T) {
	b := newBed(t)
	src := fill(t, b.disks[0], 0, 8, 11)
	old := fill(t, b.disks[1], 0, 8, 77)
	l := &list{id: 1}
	s := l.cscd(t, b.disks[0], scsi.DirectAccess, false, false, 512)
	d := l.cscd(t, b.disks[1], scsi.DirectAccess, false, false, 512)
	tp := l.cscd(t, b.tapes[0], scsi.SequentialAccess, false, false, 0)
	l.segs = [][]byte{
		offSeg(0x08, false, s, tp, 700, 1400, 1, 100), // bytes 612..2011 as two 700-byte records
		tapeSeg(0x12, tp, 0, 0),                       // back to BOT
		offSeg(0x09, false, tp, d, 700, 1400, 2, 300), // to bytes 1324..2723 of disk 1
		b2bOff(s, d, 1000, 0, 10, 6, 500),             // bytes 10..1009 to 3572..4571
	}
	if err := xcopyCmd(b.disks[0], "i", l); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(old)
	copy(want[1324:], src[612:2012])
	copy(want[3572:], src[10:1010])
	if got := readDisk(t, b.disks[1], 0, 8); !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("disk 1 differs first at byte %d", i)
			}
		}
	}
	rewind(t, b.tapes[0])
	for i := range 2 {
		rec, err := readRecord(b.tapes[0])
		if err != nil || !bytes.Equal(rec, src[612+i*700:612+(i+1)*700]) {
			t.Fatalf("record %d: %d bytes, %v", i, len(rec), err)
		}
	}
	st, _ := rcr(b.disks[0], "i", xcopy.SaCopyStatus, 1)
	if n := binary.BigEndian.Uint32(st[8:]); n != 1400+1400+1000 {
		t.Fatalf("transfer count %d, want the segments' bytes (3800)", n)
	}
}

// TestHeldData: 0Bh-0Fh hold what they process for RECEIVE DATA, oldest
// first; beyond HELD DATA LIMIT the oldest bytes go and COPY STATUS says
// so (HDD).
func TestHeldData(t *testing.T) {
	b := newBed(t)
	src := fill(t, b.disks[0], 0, 4, 21)
	writeRecord(t, b.tapes[1], bytes.Repeat([]byte{0xEE}, 300))
	rewind(t, b.tapes[1])
	l := &list{id: 7}
	s := l.cscd(t, b.disks[0], scsi.DirectAccess, false, false, 512)
	d := l.cscd(t, b.disks[1], scsi.DirectAccess, false, false, 512)
	tp := l.cscd(t, b.tapes[0], scsi.SequentialAccess, false, false, 0)
	t1 := l.cscd(t, b.tapes[1], scsi.SequentialAccess, false, false, 0)
	hold := func(d []byte, typ byte) []byte { d[0] = typ; return d }
	l.segs = [][]byte{
		hold(b2s(0x00, false, s, tp, 512, 1, 0), 0x0B),  // block 0
		tapeSeg(0x12, tp, 0, 0),                         //
		hold(b2s(0x01, false, tp, d, 512, 1, 9), 0x0C),  // block 0 again, from tape
		hold(b2b(false, s, d, 1, 1, 10), 0x0D),          // block 1
		hold(s2s(t1, tp, 300, 100, 300), 0x0E),          // one 300-byte record as three
		hold(discard(xcopy.IDNullStream, 64, 64), 0x0F), // 64 zeros
		b2b(false, s, d, 1, 2, 20),                      // not held
	}
	if _, err := rcr(b.disks[0], "i", xcopy.SaReceiveData, 7); err == nil {
		t.Fatal("RECEIVE DATA of an unknown list")
	}
	if err := xcopyCmd(b.disks[0], "i", l); err != nil {
		t.Fatal(err)
	}
	got, err := rcr(b.disks[0], "i", xcopy.SaReceiveData, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(append(bytes.Clone(src[:512]), src[:512]...), src[512:1024]...), bytes.Repeat([]byte{0xEE}, 300)...)
	want = append(want, make([]byte, 64)...)
	if n := binary.BigEndian.Uint32(got); int(n) != len(want) || !bytes.Equal(got[4:], want) {
		t.Fatalf("held data: %d bytes (available %d), want %d", len(got)-4, n, len(want))
	}

	big := &list{id: 8}
	big.segs = [][]byte{hold(b2b(false, xcopy.IDNullBlock, xcopy.IDNullBlock, 4096, 0, 0), 0x0D)}
	if err := xcopyCmd(b.disks[0], "i", big); err != nil {
		t.Fatal(err)
	}
	st, _ := rcr(b.disks[0], "i", xcopy.SaCopyStatus, 8)
	if st[4] != 0x81 {
		t.Fatalf("COPY STATUS byte 4 %#x: want HDD and completed", st[4])
	}
	cdb := make([]byte, 16)
	cdb[0], cdb[1], cdb[2] = 0x84, xcopy.SaReceiveData, 8
	binary.BigEndian.PutUint32(cdb[10:], 8)
	cmd, err := exec(b.disks[0], "i", cdb, nil)
	if err != nil || len(cmd.DataIn) != 8 || binary.BigEndian.Uint32(cmd.DataIn) != xcopy.HeldDataLimit {
		t.Fatalf("RECEIVE DATA % x, %v: want AVAILABLE DATA = the limit, cut to the allocation length", cmd.DataIn, err)
	}
}

// TestTapeImage: 13h copies records (each with its length) and filemarks
// until COUNT consecutive filemarks, or to end of data with COUNT 0.
func TestTapeImage(t *testing.T) {
	for _, c := range []struct {
		name  string
		count uint32
		want  []int // record lengths on the copy, -1 a filemark
	}{
		{"two consecutive filemarks end it", 2, []int{10, 2000, -1, 7, -1, -1}},
		{"count 0 copies to end of data", 0, []int{10, 2000, -1, 7, -1, -1, 33}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBed(t)
			t0, t1 := b.tapes[0], b.tapes[1]
			for _, n := range []int{10, 2000, -1, 7, -1, -1, 33} {
				if n < 0 {
					mustExec(t, t0, []byte{0x10, 0, 0, 0, 1, 0}, nil)
				} else {
					writeRecord(t, t0, bytes.Repeat([]byte{byte(n)}, n))
				}
			}
			rewind(t, t0)
			l := &list{id: 1}
			a := l.cscd(t, t0, scsi.SequentialAccess, false, false, 0)
			z := l.cscd(t, t1, scsi.SequentialAccess, false, true, 512) // the mode of the CSCD does not matter
			d := seg(0x13, false, a, z, 8)
			binary.BigEndian.PutUint32(d[8:], c.count)
			l.segs = [][]byte{d}
			if err := xcopyCmd(t0, "i", l); err != nil {
				t.Fatal(err)
			}
			rewind(t, t1)
			var got []int
			for {
				rec, err := readRecord(t1)
				s, _ := scsi.SenseOf(err)
				if s != nil && s.Filemark {
					got = append(got, -1)
					continue
				}
				if err != nil {
					break
				}
				if !bytes.Equal(rec, bytes.Repeat([]byte{byte(len(rec))}, len(rec))) {
					t.Fatalf("record of %d bytes differs", len(rec))
				}
				got = append(got, len(rec))
			}
			if !equalInts(got, c.want) {
				t.Fatalf("copy holds %v, want %v", got, c.want)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestBlockImage: 16h copies blocks as they are, all of them (count 0)
// until the smaller disk ends, and refuses disks of unequal block lengths.
func TestBlockImage(t *testing.T) {
	b := newBed(t)
	src := fill(t, b.disks[0], 0, diskBlocks, 31)
	l := &list{id: 1}
	s := l.cscd(t, b.disks[0], scsi.DirectAccess, false, false, 512)
	d := l.cscd(t, b.disks[1], scsi.DirectAccess, false, false, 512)
	l.segs = [][]byte{imageSeg(s, d, 10, 0, 0)} // source ends first
	if err := xcopyCmd(b.disks[0], "i", l); err != nil {
		t.Fatal(err)
	}
	if got := readDisk(t, b.disks[1], 0, diskBlocks-10); !bytes.Equal(got, src[10*512:]) {
		t.Fatal("image differs")
	}
	short := &list{id: 2}
	s = short.cscd(t, b.disks[0], scsi.DirectAccess, false, false, 512)
	d = short.cscd(t, b.disks[1], scsi.DirectAccess, false, false, 512)
	d16 := seg(0x16, false, s, d, 0x18) // SPC-4 r37's length: 4-byte count
	binary.BigEndian.PutUint64(d16[8:], 0)
	binary.BigEndian.PutUint64(d16[16:], 200)
	binary.BigEndian.PutUint32(d16[24:], 3)
	short.segs = [][]byte{d16}
	if err := xcopyCmd(b.disks[0], "i", short); err != nil {
		t.Fatal(err)
	}
	if got := readDisk(t, b.disks[1], 200, 4); !bytes.Equal(got[:3*512], src[:3*512]) || bytes.Equal(got[3*512:], src[3*512:4*512]) {
		t.Fatal("short-form count: want exactly 3 blocks")
	}

	dir := t.TempDir()
	if _, err := disk.Create(dir, "big", 64*4096, disk.Options{BlockSize: 4096}); err != nil {
		t.Fatal(err)
	}
	dk, err := disk.Open(dir, "big")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dk.Close() })
	big := sbc.New(dk, sbc.Identity{})
	b.m.Attach(big)
	b.allow = map[string][]scsi.Device{"i": {b.disks[0], big}}
	odd := &list{id: 3}
	s = odd.cscd(t, b.disks[0], scsi.DirectAccess, false, false, 512)
	d = odd.cscd(t, big, scsi.DirectAccess, false, false, 4096)
	odd.segs = [][]byte{imageSeg(s, d, 0, 0, 8)}
	scsitest.WantSense(t, xcopyCmd(b.disks[0], "i", odd), scsi.CopyAborted, 0x0D, 0x03)
}
