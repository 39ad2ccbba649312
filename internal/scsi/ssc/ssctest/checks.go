package ssctest

import (
	"bytes"
	"encoding/binary"
	"testing"

	"ferry/internal/scsi"
)

func inquiry(t testing.TB, dev scsi.Device) {
	b := mustExec(t, dev, []byte{0x12, 0, 0, 0, 96, 0})
	if len(b) < 36 || b[0] != 0x01 || b[1]&0x80 == 0 {
		t.Fatalf("INQUIRY: % x, want type 0x01 (sequential access), RMB set", b)
	}
}

func testUnitReady(t testing.TB, dev scsi.Device) {
	mustExec(t, dev, make([]byte, 6))
}

func rewind(t testing.TB, dev scsi.Device) {
	mustWrite(t, dev, cdbWrite6(false, 10), pattern(0, 10))
	wantPos(t, dev, 1)
	mustExec(t, dev, cdbRewind())
	wantBOP(t, dev)
	readRecord(t, dev, 10, pattern(0, 10))
}

// wantBOP fails unless READ POSITION reports beginning of partition.
func wantBOP(t testing.TB, dev scsi.Device) {
	t.Helper()
	if l, ok := dev.(*lu); ok && l.noReadPosition {
		return
	}
	if block, bop := readPos(t, dev); block != 0 || !bop {
		t.Fatalf("block %d BOP %v, want 0 and BOP", block, bop)
	}
}

// wantFilemarkNext fails unless the next object is a filemark.
func wantFilemarkNext(t testing.TB, dev scsi.Device) {
	t.Helper()
	_, err := exec(dev, cdbRead6(false, false, 512), nil)
	wantSense(t, err, want{key: scsi.NoSense, ascq: 0x01, filemark: true, info: 512, infoValid: true})
}

// wantEODNext fails unless the position is end of data.
func wantEODNext(t testing.TB, dev scsi.Device) {
	t.Helper()
	_, err := exec(dev, cdbRead6(false, false, 512), nil)
	wantSense(t, err, want{key: scsi.BlankCheck, ascq: 0x05, info: 512, infoValid: true})
}

func writeReadVariable(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	readRecord(t, dev, 512, pattern(1, 512))
	readRecord(t, dev, 1000, pattern(2, 1000))
	wantPos(t, dev, 2)
}

func readFilemark(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	mustExec(t, dev, cdbSpace6(0, 2))
	_, err := exec(dev, cdbRead6(false, false, 4096), nil)
	wantSense(t, err, want{key: scsi.NoSense, ascq: 0x01, filemark: true, info: 4096, infoValid: true})
	wantPos(t, dev, 3) // past the mark, on its end-of-tape side
	readRecord(t, dev, 4096, pattern(3, 4096))
}

func readEndOfData(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	mustExec(t, dev, cdbSpace6(1, 3))
	readRecord(t, dev, 3, pattern(4, 3))
	_, err := exec(dev, cdbRead6(false, false, 100), nil)
	wantSense(t, err, want{key: scsi.BlankCheck, ascq: 0x05, info: 100, infoValid: true})
	wantPos(t, dev, 7)
	wantEODNext(t, dev)
}

func readILIShort(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	cmd, err := exec(dev, cdbRead6(false, false, 100), nil)
	wantSense(t, err, want{key: scsi.NoSense, ili: true, info: 100 - 512, infoValid: true})
	if !bytes.Equal(cmd.DataIn, pattern(1, 512)[:100]) {
		t.Fatalf("overlength read returned %d bytes, want the record's first 100", len(cmd.DataIn))
	}
	wantPos(t, dev, 1) // past the record
	readRecord(t, dev, 1000, pattern(2, 1000))
}

func readILILong(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	cmd, err := exec(dev, cdbRead6(false, false, 2048), nil)
	wantSense(t, err, want{key: scsi.NoSense, ili: true, info: 2048 - 512, infoValid: true})
	if !bytes.Equal(cmd.DataIn[:min(len(cmd.DataIn), 512)], pattern(1, 512)) || len(cmd.DataIn) < 512 {
		t.Fatalf("underlength read returned %d bytes, want the 512 of the record first", len(cmd.DataIn))
	}
	wantPos(t, dev, 1)
	readRecord(t, dev, 1000, pattern(2, 1000))
}

func readSILI(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	got := mustExec(t, dev, cdbRead6(false, true, 2048))
	if !bytes.Equal(got[:min(len(got), 512)], pattern(1, 512)) {
		t.Fatalf("SILI read: data differs")
	}
	wantPos(t, dev, 1)
	readRecord(t, dev, 1000, pattern(2, 1000))
}

func readFixedSILI(t testing.TB, dev scsi.Device) {
	setBlockSize(t, dev, 512)
	_, err := exec(dev, cdbRead6(true, true, 1), nil)
	wantInvalidField(t, err, 0x24, 1)
}

func fixedBlock(t testing.TB, dev scsi.Device) {
	setBlockSize(t, dev, 512)
	data := pattern(5, 4*512)
	mustWrite(t, dev, cdbWrite6(true, 4), data)
	wantPos(t, dev, 4) // one logical object per block
	mustExec(t, dev, cdbRewind())
	got := mustExec(t, dev, cdbRead6(true, false, 4))
	if !bytes.Equal(got, data) {
		t.Fatalf("fixed READ of 4 blocks: %d bytes differ", len(got))
	}
	setVariable(t, dev)
	mustExec(t, dev, cdbRewind())
	readRecord(t, dev, 512, data[:512]) // each block is one record
}

func fixedFilemark(t testing.TB, dev scsi.Device) {
	setBlockSize(t, dev, 512)
	mustWrite(t, dev, cdbWrite6(true, 2), pattern(6, 1024))
	mustExec(t, dev, cdbWFM6(1))
	mustWrite(t, dev, cdbWrite6(true, 1), pattern(7, 512))
	mustExec(t, dev, cdbRewind())
	cmd, err := exec(dev, cdbRead6(true, false, 5), nil)
	wantSense(t, err, want{key: scsi.NoSense, ascq: 0x01, filemark: true, info: 3, infoValid: true})
	if !bytes.Equal(cmd.DataIn, pattern(6, 1024)) {
		t.Fatalf("fixed READ up to a filemark returned %d bytes, want the 1024 before it", len(cmd.DataIn))
	}
	wantPos(t, dev, 3)
	if got := mustExec(t, dev, cdbRead6(true, false, 1)); !bytes.Equal(got, pattern(7, 512)) {
		t.Fatalf("block after the filemark: %d bytes differ", len(got))
	}
}

func fixedNoBlockSize(t testing.TB, dev scsi.Device) {
	_, err := exec(dev, cdbRead6(true, false, 1), nil)
	wantInvalidField(t, err, 0x24, 1)
}

func spaceBlocks(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	mustExec(t, dev, cdbSpace6(0, 1))
	wantPos(t, dev, 1)
	readRecord(t, dev, 1000, pattern(2, 1000))
	mustExec(t, dev, cdbSpace6(0, -1))
	wantPos(t, dev, 1)
	readRecord(t, dev, 1000, pattern(2, 1000))
}

func spaceBlocksFilemark(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	_, err := exec(dev, cdbSpace6(0, 5), nil)
	wantSense(t, err, want{key: scsi.NoSense, ascq: 0x01, filemark: true, info: 3, infoValid: true})
	wantPos(t, dev, 3)
	_, err = exec(dev, cdbSpace6(0, -4), nil) // back over nothing: the mark is next
	wantSense(t, err, want{key: scsi.NoSense, ascq: 0x01, filemark: true, info: 4, infoValid: true})
	wantPos(t, dev, 2) // on the mark's beginning-of-tape side
	wantFilemarkNext(t, dev)
	readRecord(t, dev, 4096, pattern(3, 4096))
}

func spaceBackBOP(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	mustExec(t, dev, cdbSpace6(0, 2))
	_, err := exec(dev, cdbSpace6(0, -5), nil)
	wantSense(t, err, want{key: scsi.NoSense, ascq: 0x04, eom: true, info: 3, infoValid: true})
	wantBOP(t, dev)
	readRecord(t, dev, 512, pattern(1, 512))
}

func spaceFilemarks(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	mustExec(t, dev, cdbSpace6(1, 2))
	wantPos(t, dev, 5)
	mustExec(t, dev, cdbSpace6(1, 1))
	wantPos(t, dev, 6)
	readRecord(t, dev, 3, pattern(4, 3))
	mustExec(t, dev, cdbSpace6(1, -2))
	wantPos(t, dev, 4) // before the second-to-last mark crossed
	wantFilemarkNext(t, dev)
	wantFilemarkNext(t, dev)
	readRecord(t, dev, 3, pattern(4, 3))
}

func spaceFilemarksEOD(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	_, err := exec(dev, cdbSpace6(1, 5), nil)
	wantSense(t, err, want{key: scsi.BlankCheck, ascq: 0x05, info: 2, infoValid: true})
	wantPos(t, dev, 7)
	wantEODNext(t, dev)
}

func spaceEOD(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	mustExec(t, dev, cdbSpace6(3, 0))
	wantPos(t, dev, 7)
	_, err := exec(dev, cdbRead6(false, false, 10), nil)
	wantSense(t, err, want{key: scsi.BlankCheck, ascq: 0x05, info: 10, infoValid: true})
}

func space16(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	c := make([]byte, 16)
	c[0], c[1] = 0x91, 1
	binary.BigEndian.PutUint64(c[4:], 3)
	mustExec(t, dev, c)
	wantPos(t, dev, 6)
	readRecord(t, dev, 3, pattern(4, 3))
	binary.BigEndian.PutUint64(c[4:], ^uint64(0)) // -1
	mustExec(t, dev, c)
	wantPos(t, dev, 5)
	wantFilemarkNext(t, dev)
}

func locate10(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	mustExec(t, dev, cdbLocate10(3))
	wantPos(t, dev, 3)
	readRecord(t, dev, 4096, pattern(3, 4096))
	mustExec(t, dev, cdbLocate10(1))
	readRecord(t, dev, 1000, pattern(2, 1000))
}

func locate16(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	c := make([]byte, 16)
	c[0] = 0x92
	binary.BigEndian.PutUint64(c[4:], 6)
	mustExec(t, dev, c)
	wantPos(t, dev, 6)
	c[1] = 1 << 3 // DEST_TYPE 001b: logical file 1 starts after the first mark
	binary.BigEndian.PutUint64(c[4:], 1)
	mustExec(t, dev, c)
	wantPos(t, dev, 3)
	c[1] = 3 << 3 // end of data
	mustExec(t, dev, c)
	wantPos(t, dev, 7)
}

func locateEOD(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	_, err := exec(dev, cdbLocate10(100), nil)
	wantSense(t, err, want{key: scsi.BlankCheck, ascq: 0x05})
}

func readPositionLong(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	mustExec(t, dev, cdbLocate10(6))
	b := mustExec(t, dev, []byte{0x34, 0x06, 0, 0, 0, 0, 0, 0, 0, 0})
	if len(b) != 32 || b[0]&0x80 != 0 || b[0]&0x04 != 0 {
		t.Fatalf("long form: % x", b)
	}
	if obj, file := binary.BigEndian.Uint64(b[8:]), binary.BigEndian.Uint64(b[16:]); obj != 6 || file != 3 {
		t.Fatalf("long form: object %d file %d, want 6 and 3", obj, file)
	}
}

func readPositionExtended(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	mustExec(t, dev, cdbLocate10(4))
	b := mustExec(t, dev, []byte{0x34, 0x08, 0, 0, 0, 0, 0, 0, 32, 0})
	if len(b) != 32 || binary.BigEndian.Uint16(b[2:]) != 0x1C {
		t.Fatalf("extended form: % x", b)
	}
	if first := binary.BigEndian.Uint64(b[8:]); first != 4 {
		t.Fatalf("extended form: first object %d, want 4", first)
	}
}

func writeTruncates(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	mustExec(t, dev, cdbSpace6(0, 1))
	mustWrite(t, dev, cdbWrite6(false, 7), pattern(9, 7))
	mustExec(t, dev, cdbRewind())
	readRecord(t, dev, 512, pattern(1, 512))
	readRecord(t, dev, 7, pattern(9, 7))
	_, err := exec(dev, cdbRead6(false, false, 7), nil)
	wantSense(t, err, want{key: scsi.BlankCheck, ascq: 0x05, info: 7, infoValid: true})
}

func writeFilemarks16(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	c := make([]byte, 16)
	c[0], c[14] = 0x80, 1
	binary.BigEndian.PutUint64(c[4:], 1) // write a mark at object 1
	mustExec(t, dev, c)
	wantPos(t, dev, 2)
	mustExec(t, dev, cdbRewind())
	readRecord(t, dev, 512, pattern(1, 512))
	_, err := exec(dev, cdbRead6(false, false, 512), nil)
	wantSense(t, err, want{key: scsi.NoSense, ascq: 0x01, filemark: true, info: 512, infoValid: true})
}

func readWrite16(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	w := make([]byte, 16)
	w[0], w[14] = 0x8A, 100
	binary.BigEndian.PutUint64(w[4:], 3)
	mustWrite(t, dev, w, pattern(8, 100))
	wantPos(t, dev, 4)
	r := make([]byte, 16)
	r[0], r[14] = 0x88, 100
	binary.BigEndian.PutUint64(r[4:], 3)
	if got := mustExec(t, dev, r); !bytes.Equal(got, pattern(8, 100)) {
		t.Fatalf("READ(16): %d bytes differ", len(got))
	}
}

func erase(t testing.TB, dev scsi.Device) {
	writeTape(t, dev)
	mustExec(t, dev, cdbSpace6(0, 1))
	mustExec(t, dev, []byte{0x19, 0x01, 0, 0, 0, 0})
	mustExec(t, dev, cdbRewind())
	readRecord(t, dev, 512, pattern(1, 512))
	_, err := exec(dev, cdbRead6(false, false, 10), nil)
	wantSense(t, err, want{key: scsi.BlankCheck, ascq: 0x05, info: 10, infoValid: true})
}

func readBlockLimits(t testing.TB, dev scsi.Device) {
	b := mustExec(t, dev, []byte{0x05, 0, 0, 0, 0, 0})
	if len(b) != 6 {
		t.Fatalf("READ BLOCK LIMITS: % x", b)
	}
	maxLen, minLen := binary.BigEndian.Uint32(b)&0xFFFFFF, binary.BigEndian.Uint16(b[4:])
	if minLen == 0 || uint32(minLen) > maxLen || maxLen < 256<<10 {
		t.Fatalf("READ BLOCK LIMITS: min %d max %d, want 0 < min <= max and max >= 256 KiB", minLen, maxLen)
	}
}

func modeSense(t testing.TB, dev scsi.Device) {
	b := mustExec(t, dev, []byte{0x1A, 0, 0x3F, 0, 255, 0})
	if len(b) < 12 || int(b[0])+1 != len(b) || b[3] != 8 {
		t.Fatalf("MODE SENSE(6) all pages: % x, want header and an 8-byte block descriptor", b)
	}
	for _, code := range []byte{0x0F, 0x10} {
		p := mustExec(t, dev, []byte{0x1A, 0x08, code, 0, 255, 0})
		if len(p) < 6 || p[3] != 0 || p[4]&0x3F != code || int(p[5])+6 != len(p) {
			t.Fatalf("MODE SENSE(6) page %#02x with DBD: % x", code, p)
		}
	}
	p := mustExec(t, dev, []byte{0x5A, 0, 0x10, 0, 0, 0, 0, 0, 255, 0})
	if len(p) < 8 || int(binary.BigEndian.Uint16(p))+2 != len(p) || binary.BigEndian.Uint16(p[6:]) != 8 {
		t.Fatalf("MODE SENSE(10): % x", p)
	}
	_, err := exec(dev, []byte{0x1A, 0, 0xC0 | 0x10, 0, 255, 0}, nil) // saved values
	wantSense(t, err, want{key: scsi.IllegalRequest, asc: 0x39})
}

func modeSelect(t testing.TB, dev scsi.Device) {
	setBlockSize(t, dev, 1024)
	b := mustExec(t, dev, []byte{0x1A, 0, 0x10, 0, 255, 0})
	if n := int(b[9])<<16 | int(b[10])<<8 | int(b[11]); n != 1024 {
		t.Fatalf("block length after MODE SELECT: %d, want 1024", n)
	}
	setVariable(t, dev)
	data := []byte{0, 0, 0x10, 0}
	page := mustExec(t, dev, []byte{0x1A, 0x08, 0x10, 0, 255, 0})[4:]
	bad := append([]byte(nil), page...)
	bad[3] ^= 0xFF // active partition: partitions are not supported
	_, err := exec(dev, []byte{0x15, 0x10, 0, 0, byte(len(data) + len(bad)), 0}, append(data, bad...))
	wantSense(t, err, want{key: scsi.IllegalRequest, asc: 0x26})
}

func logSense(t testing.TB, dev scsi.Device) {
	b := mustExec(t, dev, []byte{0x4D, 0, 0x00, 0, 0, 0, 0, 0x01, 0, 0})
	if len(b) < 4 || int(binary.BigEndian.Uint16(b[2:]))+4 != len(b) {
		t.Fatalf("supported log pages: % x", b)
	}
	pages := b[4:]
	for _, need := range []byte{0x0C, 0x2E} {
		if !bytes.Contains(pages, []byte{need}) {
			t.Fatalf("supported log pages % x lack %#02x", pages, need)
		}
	}
	for _, code := range pages {
		p := mustExec(t, dev, []byte{0x4D, 0, 0x40 | code, 0, 0, 0, 0, 0xFF, 0xFF, 0})
		if len(p) < 4 || p[0]&0x3F != code || int(binary.BigEndian.Uint16(p[2:]))+4 != len(p) {
			t.Fatalf("log page %#02x: % x", code, p)
		}
		if code != 0 {
			checkLogParams(t, code, p[4:])
		}
	}
}

// checkLogParams fails unless the parameters tile the page in ascending
// code order; the TapeAlert page has flags 1 to 64, one byte each.
func checkLogParams(t testing.TB, code byte, d []byte) {
	last, n := -1, 0
	for len(d) > 0 {
		if len(d) < 4 || len(d) < 4+int(d[3]) {
			t.Fatalf("log page %#02x: parameter overruns the page", code)
		}
		pc := int(binary.BigEndian.Uint16(d))
		if pc <= last {
			t.Fatalf("log page %#02x: parameter %#04x after %#04x", code, pc, last)
		}
		if code == 0x2E && (pc < 1 || pc > 64 || d[3] != 1) {
			t.Fatalf("TapeAlert parameter %#04x length %d", pc, d[3])
		}
		last, n, d = pc, n+1, d[4+int(d[3]):]
	}
	if code == 0x2E && n != 64 {
		t.Fatalf("TapeAlert page has %d flags, want 64", n)
	}
}

func reportDensity(t testing.TB, dev scsi.Device) {
	for _, media := range []byte{0, 1} {
		b := mustExec(t, dev, []byte{0x44, media, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0})
		if len(b) < 4+52 || int(binary.BigEndian.Uint16(b))+2 != len(b) || (len(b)-4)%52 != 0 {
			t.Fatalf("REPORT DENSITY SUPPORT MEDIA=%d: %d bytes % x", media, len(b), b[:min(len(b), 8)])
		}
		if d := b[4:]; d[2]&0x01 != 0 && binary.BigEndian.Uint16(d[3:]) != 52 {
			t.Fatalf("density descriptor length %d with DLV, want 52", binary.BigEndian.Uint16(d[3:]))
		}
	}
}

func readAttribute(t testing.TB, dev scsi.Device) {
	b := mustExec(t, dev, []byte{0x8C, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0})
	if len(b) < 4 || int(binary.BigEndian.Uint32(b))+4 != len(b) {
		t.Fatalf("READ ATTRIBUTE: % x", b[:min(len(b), 16)])
	}
	attrs := map[uint16][]byte{}
	for d := b[4:]; len(d) > 0; {
		if len(d) < 5 || len(d) < 5+int(binary.BigEndian.Uint16(d[3:])) {
			t.Fatalf("attribute overruns the data")
		}
		n := int(binary.BigEndian.Uint16(d[3:]))
		attrs[binary.BigEndian.Uint16(d)] = d[5 : 5+n]
		d = d[5+n:]
	}
	remaining, maxCap := attrs[0x0000], attrs[0x0001]
	if len(remaining) != 8 || len(maxCap) != 8 || binary.BigEndian.Uint64(remaining) > binary.BigEndian.Uint64(maxCap) {
		t.Fatalf("capacity attributes: remaining % x maximum % x", remaining, maxCap)
	}
}

func loadUnload(t testing.TB, dev scsi.Device) {
	mustExec(t, dev, []byte{0x1B, 0, 0, 0, 0x00, 0}) // UNLOAD
	_, err := exec(dev, make([]byte, 6), nil)
	if s, ok := scsi.SenseOf(err); !ok || s.Key != scsi.NotReady {
		t.Fatalf("TEST UNIT READY after UNLOAD: %v, want NOT READY", err)
	}
	_, err = exec(dev, cdbRead6(false, false, 10), nil)
	if s, ok := scsi.SenseOf(err); !ok || s.Key != scsi.NotReady {
		t.Fatalf("READ after UNLOAD: %v, want NOT READY", err)
	}
	mustExec(t, dev, []byte{0x1B, 0, 0, 0, 0x01, 0}) // LOAD
	readyAfterChange(t, dev)
	wantBOP(t, dev)
}

func preventAllow(t testing.TB, dev scsi.Device) {
	mustExec(t, dev, []byte{0x1E, 0, 0, 0, 1, 0})
	_, err := exec(dev, []byte{0x1B, 0, 0, 0, 0x00, 0}, nil)
	wantSense(t, err, want{key: scsi.IllegalRequest, asc: 0x53, ascq: 0x02})
	mustExec(t, dev, []byte{0x1E, 0, 0, 0, 0, 0})
	mustExec(t, dev, []byte{0x1B, 0, 0, 0, 0x00, 0})
	mustExec(t, dev, []byte{0x1B, 0, 0, 0, 0x01, 0})
}

// readyAfterChange runs TEST UNIT READY after a medium change: it may end
// once in UNIT ATTENTION, NOT READY TO READY CHANGE (0x28/0x00; SAM-5
// 5.14, SSC-3 4.2.1), then must be GOOD.
func readyAfterChange(t testing.TB, dev scsi.Device) {
	t.Helper()
	_, err := exec(dev, make([]byte, 6), nil)
	if err == nil {
		return
	}
	wantSense(t, err, want{key: scsi.UnitAttention, asc: 0x28})
	mustExec(t, dev, make([]byte, 6))
}

func fixedILI(t testing.TB, dev scsi.Device) {
	writeTape(t, dev) // record A is 512 bytes, record B 1000
	setBlockSize(t, dev, 512)
	cmd, err := exec(dev, cdbRead6(true, false, 3), nil)
	// A is read; B has another length: ILI, INFORMATION = 3 - 1 blocks
	// (the wrong one counts as not read), position past B.
	wantSense(t, err, want{key: scsi.NoSense, ili: true, info: 2, infoValid: true})
	if len(cmd.DataIn) < 512 || !bytes.Equal(cmd.DataIn[:512], pattern(1, 512)) {
		t.Fatalf("fixed READ with ILI: %d bytes, want block A first", len(cmd.DataIn))
	}
	wantPos(t, dev, 2)
	setVariable(t, dev)
	wantFilemarkNext(t, dev)
}

func unbuffered(t testing.TB, dev scsi.Device) {
	data := []byte{0, 0, 0x00, 0} // device-specific parameter: buffered mode 0
	mustWrite(t, dev, []byte{0x15, 0x10, 0, 0, byte(len(data)), 0}, data)
	b := mustExec(t, dev, []byte{0x1A, 0x08, 0x10, 0, 255, 0})
	mustWrite(t, dev, []byte{0x15, 0x10, 0, 0, 4, 0}, []byte{0, 0, 0x10, 0}) // back to buffered
	if b[2]&0x70 != 0 {
		t.Fatalf("buffered mode after selecting 0: %#02x", b[2]>>4&7)
	}
	writeTape(t, dev)
	readRecord(t, dev, 512, pattern(1, 512))
}
