package sbc

import (
	"bytes"
	"encoding/binary"
	"testing"

	"ferry/internal/disk"
	"ferry/internal/scsi"
	"ferry/internal/scsi/scsitest"
)

// lbaStatus is one GET LBA STATUS descriptor.
type lbaStatus struct {
	lba    uint64
	n      uint32
	status byte
}

// getLBAStatus runs GET LBA STATUS at lba and decodes the descriptors.
func getLBAStatus(t *testing.T, dev scsi.Device, lba uint64) []lbaStatus {
	t.Helper()
	b := scsitest.MustExec(t, dev, cdb16(0x9E, 0x12, lba, 8+16*8), nil)
	if int(binary.BigEndian.Uint32(b))+4 != len(b) || (len(b)-8)%16 != 0 {
		t.Fatalf("GET LBA STATUS data malformed: % x", b)
	}
	var out []lbaStatus
	for d := b[8:]; len(d) >= 16; d = d[16:] {
		out = append(out, lbaStatus{binary.BigEndian.Uint64(d), binary.BigEndian.Uint32(d[8:]), d[12] & 0x0F})
	}
	return out
}

// TestGetLBAStatusOtherWriter writes into the image file directly, as
// another process would while the target is down (or up), and checks
// GET LBA STATUS sees it without being told.
func TestGetLBAStatusOtherWriter(t *testing.T) {
	dk, dir := newDisk(t, disk.Options{})
	dev := New(dk, Identity{})
	got := getLBAStatus(t, dev, 0)
	if len(got) != 1 || got[0] != (lbaStatus{0, testBlocks, statusDeallocated}) {
		t.Fatalf("fresh disk: %+v", got)
	}
	writeImage(t, dir, 1<<20, bytes.Repeat([]byte{9}, 64<<10)) // blocks 2048..2175
	got = getLBAStatus(t, dev, 0)
	want := []lbaStatus{{0, 2048, statusDeallocated}, {2048, 128, statusMapped}, {2176, testBlocks - 2176, statusDeallocated}}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("after another writer: %+v, want %+v", got, want)
	}
	if got := getLBAStatus(t, dev, 2100); got[0] != (lbaStatus{2100, 76, statusMapped}) {
		t.Fatalf("from inside the extent: %+v", got)
	}
	// One descriptor when the allocation length holds only one.
	b := scsitest.MustExec(t, dev, cdb16(0x9E, 0x12, 0, 24), nil)
	if len(b) != 24 || binary.BigEndian.Uint32(b) != 20+16*2 && binary.BigEndian.Uint32(b) != 20 {
		t.Logf("24-byte allocation: % x", b)
	}
	if len(b) != 24 {
		t.Fatalf("allocation length 24 returned %d bytes", len(b))
	}
}

func TestUnmap(t *testing.T) {
	dev := newDevice(t)
	scsitest.MustExec(t, dev, cdb16(0x8A, 0, 0, 256), pattern(256, 1))
	param := unmapList([]unmapDesc{{0, 128}, {200, 8}})
	scsitest.MustExec(t, dev, cdb10(0x42, 0, 0, uint16(len(param))), param)
	got := scsitest.MustExec(t, dev, cdb16(0x88, 0, 0, 256), nil)
	want := pattern(256, 1)
	clear(want[:128*512])
	clear(want[200*512 : 208*512])
	if !bytes.Equal(got, want) {
		t.Fatal("unmapped blocks do not read as zeros (LBPRZ)")
	}
	st := getLBAStatus(t, dev, 0)
	if st[0] != (lbaStatus{0, 128, statusDeallocated}) || st[1].status != statusMapped {
		t.Fatalf("after UNMAP: %+v", st)
	}
	cases := []struct {
		name  string
		param []byte
		asc   uint8
	}{
		{"past the end", unmapList([]unmapDesc{{testBlocks - 1, 2}}), 0x21},
		{"too many blocks", unmapList([]unmapDesc{{0, maxUnmapBlocks + 1}}), 0x26},
		{"too many descriptors", unmapList(make([]unmapDesc, maxUnmapDescs+1)), 0x26},
		{"short header", []byte{0, 6, 0, 16, 0, 0}, 0x1A},
	}
	for _, c := range cases {
		_, err := scsitest.Exec(dev, cdb10(0x42, 0, 0, uint16(len(c.param))), c.param)
		scsitest.WantSense(t, err, scsi.IllegalRequest, c.asc, 0)
	}
	// A list that fails leaves everything mapped: block 255 is still data.
	bad := unmapList([]unmapDesc{{250, 6}, {testBlocks, 1}})
	scsitest.Exec(dev, cdb10(0x42, 0, 0, uint16(len(bad))), bad)
	if got := scsitest.MustExec(t, dev, cdb10(0x28, 0, 250, 1), nil); got[0] != 1+250 {
		t.Fatal("a refused UNMAP deallocated blocks")
	}
	scsitest.MustExec(t, dev, cdb10(0x42, 0, 0, 0), nil)                            // no parameter list
	scsitest.MustExec(t, dev, cdb10(0x42, 0, 0, 8), []byte{0, 6, 0, 0, 0, 0, 0, 0}) // no descriptors
	_, err := scsitest.Exec(dev, cdb10(0x42, 1, 0, 0), nil)
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x24, 0) // ANCHOR
}

// unmapList builds an UNMAP parameter list.
func unmapList(ds []unmapDesc) []byte {
	b := make([]byte, 8, 8+16*len(ds))
	for _, d := range ds {
		e := make([]byte, 16)
		binary.BigEndian.PutUint64(e, d.lba)
		binary.BigEndian.PutUint32(e[8:], uint32(d.n))
		b = append(b, e...)
	}
	binary.BigEndian.PutUint16(b, uint16(len(b)-2))
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)-8))
	return b
}

func TestWriteSame(t *testing.T) {
	dev := newDevice(t)
	block := bytes.Repeat([]byte{0xA6}, 512)
	scsitest.MustExec(t, dev, cdb10(0x41, 0, 10, 300), block)
	got := scsitest.MustExec(t, dev, cdb10(0x28, 0, 10, 300), nil)
	if !bytes.Equal(got, bytes.Repeat(block, 300)) {
		t.Fatal("WRITE SAME(10) pattern not written")
	}
	// UNMAP with a zero block deallocates.
	scsitest.MustExec(t, dev, cdb16(0x93, bitUnmap, 0, 2048), make([]byte, 512))
	if st := getLBAStatus(t, dev, 0); st[0].status != statusDeallocated || st[0].n < 2048 {
		t.Fatalf("WRITE SAME UNMAP: %+v", st)
	}
	// UNMAP with non-zero data writes it.
	scsitest.MustExec(t, dev, cdb16(0x93, bitUnmap, 4096, 8), block)
	if got := scsitest.MustExec(t, dev, cdb10(0x28, 0, 4096, 8), nil); !bytes.Equal(got, bytes.Repeat(block, 8)) {
		t.Fatal("WRITE SAME UNMAP with data did not write it")
	}
	// NDOB writes zeros without a data-out buffer.
	scsitest.MustExec(t, dev, cdb16(0x93, bitNDOB, 4096, 8), nil)
	if got := scsitest.MustExec(t, dev, cdb10(0x28, 0, 4096, 8), nil); !bytes.Equal(got, make([]byte, 8*512)) {
		t.Fatal("WRITE SAME NDOB did not zero")
	}
	// Up to the last block.
	scsitest.MustExec(t, dev, cdb16(0x93, 0, testBlocks-5, 5), block)
}

func TestModeSelectSWP(t *testing.T) {
	dev := newDevice(t)
	chg := scsitest.MustExec(t, dev, []byte{0x1A, 0x08, 0x40 | 0x0A, 0, 255, 0}, nil)
	if len(chg) != 4+12 || chg[4+4]&0x08 == 0 {
		t.Fatalf("changeable control page: % x", chg)
	}
	cur := scsitest.MustExec(t, dev, []byte{0x1A, 0x08, 0x0A, 0, 255, 0}, nil)
	page := bytes.Clone(cur[4:])
	page[4] |= 0x08
	param := append([]byte{0, 0, 0, 0}, page...)
	scsitest.MustExec(t, dev, []byte{0x15, 0x10, 0, 0, byte(len(param)), 0}, param)
	ms := scsitest.MustExec(t, dev, []byte{0x1A, 0x08, 0x0A, 0, 255, 0}, nil)
	if ms[2]&0x80 == 0 || ms[4+4]&0x08 == 0 {
		t.Fatalf("after setting SWP: % x", ms)
	}
	_, err := scsitest.Exec(dev, cdb10(0x2A, 0, 0, 1), pattern(1, 0))
	scsitest.WantSense(t, err, scsi.DataProtect, 0x27, 0)
	scsitest.MustExec(t, dev, cdb10(0x28, 0, 0, 1), nil)
	// A change to a bit that is not changeable is refused.
	bad := bytes.Clone(param)
	bad[4+2] |= 0x04 // D_SENSE
	_, err = scsitest.Exec(dev, []byte{0x15, 0x10, 0, 0, byte(len(bad)), 0}, bad)
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x26, 0)
	// MODE SELECT(10) clears SWP.
	page[4] &^= 0x08
	param10 := append(make([]byte, 8), page...)
	scsitest.MustExec(t, dev, []byte{0x55, 0x10, 0, 0, 0, 0, 0, 0, byte(len(param10)), 0}, param10)
	scsitest.MustExec(t, dev, cdb10(0x2A, 0, 0, 1), pattern(1, 0))
	// A block descriptor must keep the block size.
	bd := []byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x10, 0}
	_, err = scsitest.Exec(dev, []byte{0x15, 0x10, 0, 0, byte(len(bd)), 0}, bd)
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x26, 0)
	_, err = scsitest.Exec(dev, []byte{0x15, 0x11, 0, 0, 0, 0}, nil)
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x24, 0) // SP
}

func TestModeSense(t *testing.T) {
	dev := newDevice(t)
	all := scsitest.MustExec(t, dev, []byte{0x1A, 0, 0x3F, 0, 255, 0}, nil)
	if int(all[0])+1 != len(all) || all[3] != 8 || binary.BigEndian.Uint32(all[8:])&0xFFFFFF != 512 {
		t.Fatalf("MODE SENSE(6) all pages: % x", all)
	}
	var codes []byte
	for p := all[12:]; len(p) >= 2; p = p[2+int(p[1]):] {
		codes = append(codes, p[0]&0x3F)
	}
	if !bytes.Equal(codes, []byte{0x01, 0x08, 0x0A, 0x1C}) {
		t.Fatalf("pages % x", codes)
	}
	ms10 := scsitest.MustExec(t, dev, []byte{0x5A, 0x10, 0x08, 0, 0, 0, 0, 0, 255, 0}, nil)
	if binary.BigEndian.Uint16(ms10)+2 != uint16(len(ms10)) || ms10[4]&1 != 1 || binary.BigEndian.Uint16(ms10[6:]) != 16 ||
		binary.BigEndian.Uint64(ms10[8:]) != testBlocks || ms10[24] != 0x08 {
		t.Fatalf("MODE SENSE(10) LLBAA caching page: % x", ms10)
	}
	dbd := scsitest.MustExec(t, dev, []byte{0x1A, 0x08, 0x08, 0, 255, 0}, nil)
	if dbd[3] != 0 || dbd[4] != 0x08 || dbd[6]&0x04 == 0 {
		t.Fatalf("MODE SENSE(6) DBD caching page: % x", dbd)
	}
}

func TestSanitizeBlockErase(t *testing.T) {
	dev := newDevice(t)
	scsitest.MustExec(t, dev, cdb16(0x8A, 0, 0, 256), pattern(256, 1))
	scsitest.MustExec(t, dev, cdb16(0x8A, 0, testBlocks-256, 256), pattern(256, 1))
	for i, bad := range [][]byte{
		{0x48, 0x40 | saBlockErase, 0, 0, 0, 0, 0, 0, 0, 0},
		{0x48, saBlockErase, 0, 0, 1, 0, 0, 0, 0, 0},
		{0x48, saBlockErase, 0, 0, 0, 0, 0, 0, 8, 0},
		{0x48, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}, // OVERWRITE: not offered
	} {
		if _, err := scsitest.Exec(dev, bad, make([]byte, 8)); err == nil {
			t.Errorf("case %d: % x accepted", i, bad)
		}
	}
	scsitest.MustExec(t, dev, []byte{0x48, 0x80 | saBlockErase, 0, 0, 0, 0, 0, 0, 0, 0}, nil)
	if st := getLBAStatus(t, dev, 0); len(st) != 1 || st[0] != (lbaStatus{0, testBlocks, statusDeallocated}) {
		t.Fatalf("after BLOCK ERASE: %+v", st)
	}
	if got := scsitest.MustExec(t, dev, cdb16(0x88, 0, testBlocks-256, 256), nil); !bytes.Equal(got, make([]byte, 256*512)) {
		t.Fatal("erased blocks do not read as zeros")
	}
}
