package sbc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"ferry/internal/disk"
	"ferry/internal/scsi"
	"ferry/internal/scsi/scsitest"
)

// testBlocks is the size of the test disks in 512-byte blocks (256 MiB,
// sparse): more than the maximum transfer length.
const testBlocks = 1 << 19

// newDisk creates and opens a disk in a temporary state directory and
// returns it with its directory.
func newDisk(t testing.TB, opts disk.Options) (*disk.Disk, string) {
	t.Helper()
	dir := t.TempDir()
	bs := opts.BlockSize
	if bs == 0 {
		bs = 512
	}
	if _, err := disk.Create(dir, "lun1", int64(testBlocks*bs), opts); err != nil {
		t.Fatal(err)
	}
	dk, err := disk.Open(dir, "lun1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dk.Close() })
	return dk, dir
}

// newDevice returns a device over a fresh thin disk.
func newDevice(t testing.TB) *Device {
	dk, _ := newDisk(t, disk.Options{})
	return New(dk, Identity{})
}

func TestConformance(t *testing.T) {
	dev := newDevice(t)
	scsitest.Run(t, dev, scsitest.Expect{
		Type:    scsi.DirectAccess,
		Vendor:  "FERRY",
		Product: "VIRTUAL DISK",
		Serial:  "lun1",
		Alloc: []scsitest.AllocCDB{
			{Name: "MODE SENSE(6)", CDB: []byte{0x1A, 0, 0x3F, 0, 0, 0}, Alloc: scsi.Alloc6},
			{Name: "MODE SENSE(10)", CDB: []byte{0x5A, 0, 0x3F, 0, 0, 0, 0, 0, 0, 0}, Alloc: scsi.Alloc10},
			{Name: "READ CAPACITY(16)", CDB: cdb16(0x9E, 0x10, 0, 0), Alloc: scsi.Alloc16},
			{Name: "GET LBA STATUS", CDB: cdb16(0x9E, 0x12, 0, 0), Alloc: scsi.Alloc16},
			{Name: "PR IN READ FULL STATUS", CDB: []byte{0x5E, 3, 0, 0, 0, 0, 0, 0, 0, 0}, Alloc: scsi.Alloc10},
			{Name: "INQUIRY block limits", CDB: []byte{0x12, 1, 0xB0, 0, 0, 0}, Alloc: scsi.AllocInquiry},
		},
	})
}

// cdb16 builds a 16-byte CDB: opcode, byte 1, an 8-byte LBA at 2 and a
// 4-byte length at 10.
func cdb16(op, b1 byte, lba uint64, n uint32) []byte {
	c := make([]byte, 16)
	c[0], c[1] = op, b1
	binary.BigEndian.PutUint64(c[2:], lba)
	binary.BigEndian.PutUint32(c[10:], n)
	return c
}

// cdb10 builds a 10-byte CDB with a 4-byte LBA at 2 and a 2-byte length
// at 7.
func cdb10(op, b1 byte, lba uint32, n uint16) []byte {
	c := make([]byte, 10)
	c[0], c[1] = op, b1
	binary.BigEndian.PutUint32(c[2:], lba)
	binary.BigEndian.PutUint16(c[7:], n)
	return c
}

// cdb12 builds a 12-byte CDB with a 4-byte LBA and a 4-byte length.
func cdb12(op, b1 byte, lba, n uint32) []byte {
	c := make([]byte, 12)
	c[0], c[1] = op, b1
	binary.BigEndian.PutUint32(c[2:], lba)
	binary.BigEndian.PutUint32(c[6:], n)
	return c
}

// pattern is n blocks of 512 bytes filled with a byte per block.
func pattern(n int, seed byte) []byte {
	p := make([]byte, n*512)
	for i := range p {
		p[i] = seed + byte(i/512)
	}
	return p
}

func TestReadWriteAllSizes(t *testing.T) {
	dev := newDevice(t)
	writes := [][]byte{
		{0x0A, 0, 0, 8, 2, 0},
		cdb10(0x2A, 0, 16, 2),
		cdb12(0xAA, 0, 24, 2),
		cdb16(0x8A, 0, 32, 2),
	}
	reads := [][]byte{
		{0x08, 0, 0, 8, 2, 0},
		cdb10(0x28, 0, 16, 2),
		cdb12(0xA8, 0, 24, 2),
		cdb16(0x88, 0, 32, 2),
	}
	for i := range writes {
		data := pattern(2, byte(10*i+1))
		scsitest.MustExec(t, dev, writes[i], data)
		if got := scsitest.MustExec(t, dev, reads[i], nil); !bytes.Equal(got, data) {
			t.Errorf("CDB % x read back differs", reads[i])
		}
	}
	// READ(6) with 0 blocks means 256.
	if got := scsitest.MustExec(t, dev, []byte{0x08, 0, 0, 0, 0, 0}, nil); len(got) != 256*512 {
		t.Errorf("READ(6) length 0: %d bytes, want 256 blocks", len(got))
	}
	// Less data than the CDB announces writes the whole blocks sent.
	scsitest.MustExec(t, dev, cdb10(0x2A, 0, 40, 3), pattern(3, 50)[:512+100])
	if got := scsitest.MustExec(t, dev, cdb10(0x28, 0, 40, 3), nil); !bytes.Equal(got[:512], pattern(1, 50)) || !bytes.Equal(got[512:], make([]byte, 1024)) {
		t.Error("short data-out: want the first whole block written, nothing else")
	}
	// FUA and DPO are accepted.
	scsitest.MustExec(t, dev, cdb10(0x2A, bitFUA|bitDPO, 0, 1), pattern(1, 1))
	scsitest.MustExec(t, dev, cdb10(0x28, bitFUA|bitDPO, 0, 1), nil)
}

func TestBlockCommandErrors(t *testing.T) {
	dev := newDevice(t)
	last := uint64(testBlocks - 1)
	cases := []struct {
		name     string
		cdb      []byte
		out      []byte
		key      scsi.SenseKey
		asc      uint8
		ascq     uint8
		fieldIdx int // -1: no field pointer check
	}{
		{"READ(10) past the end", cdb10(0x28, 0, testBlocks-1, 2), nil, scsi.IllegalRequest, 0x21, 0, -1},
		{"READ(16) LBA 2^63", cdb16(0x88, 0, 1<<63, 1), nil, scsi.IllegalRequest, 0x21, 0, -1},
		{"READ(16) wraps", cdb16(0x88, 0, ^uint64(0), 2), nil, scsi.IllegalRequest, 0x21, 0, -1},
		{"READ(10) 0 blocks beyond the end", cdb10(0x28, 0, testBlocks+1, 0), nil, scsi.IllegalRequest, 0x21, 0, -1},
		{"READ(6) past the end", []byte{0x08, 0x1F, 0xFF, 0xFF, 1, 0}, nil, scsi.IllegalRequest, 0x21, 0, -1},
		{"READ(10) RDPROTECT", cdb10(0x28, 0x20, 0, 1), nil, scsi.IllegalRequest, 0x24, 0, 1},
		{"WRITE(10) WRPROTECT", cdb10(0x2A, 0x40, 0, 1), pattern(1, 0), scsi.IllegalRequest, 0x24, 0, 1},
		{"WRITE(16) past the end", cdb16(0x8A, 0, last, 2), pattern(2, 0), scsi.IllegalRequest, 0x21, 0, -1},
		{"READ(12) over the maximum transfer length", cdb12(0xA8, 0, 0, maxTransferBytes/512+1), nil, scsi.IllegalRequest, 0x24, 0, 6},
		{"VERIFY(10) VRPROTECT", cdb10(0x2F, 0x20, 0, 1), nil, scsi.IllegalRequest, 0x24, 0, 1},
		{"VERIFY(10) BYTCHK 10b", cdb10(0x2F, 0x04, 0, 1), nil, scsi.IllegalRequest, 0x24, 0, 1},
		{"VERIFY(16) past the end", cdb16(0x8F, 0, last+1, 1), nil, scsi.IllegalRequest, 0x21, 0, -1},
		{"WRITE SAME(10) 0 blocks (WSNZ)", cdb10(0x41, 0, 0, 0), pattern(1, 0), scsi.IllegalRequest, 0x24, 0, 7},
		{"WRITE SAME(16) ANCHOR", cdb16(0x93, bitAnchor|bitUnmap, 0, 1), pattern(1, 0), scsi.IllegalRequest, 0x24, 0, 1},
		{"WRITE SAME(16) 0 blocks past the end", cdb16(0x93, 0, testBlocks+1, 0), pattern(1, 0), scsi.IllegalRequest, 0x21, 0, -1},
		{"WRITE SAME(10) half a block", cdb10(0x41, 0, 0, 1), make([]byte, 256), scsi.IllegalRequest, 0x0E, 0x03, -1},
		{"COMPARE AND WRITE past the end", cawCDB(last, 2), make([]byte, 4*512), scsi.IllegalRequest, 0x21, 0, -1},
		{"COMPARE AND WRITE short data-out", cawCDB(0, 2), make([]byte, 3*512), scsi.IllegalRequest, 0x0E, 0x03, -1},
		{"SYNCHRONIZE CACHE(10) past the end", cdb10(0x35, 0, testBlocks, 1), nil, scsi.IllegalRequest, 0x21, 0, -1},
		{"PRE-FETCH(16) past the end", cdb16(0x90, 0, testBlocks, 1), nil, scsi.IllegalRequest, 0x21, 0, -1},
		{"GET LBA STATUS at capacity", cdb16(0x9E, 0x12, testBlocks, 24), nil, scsi.IllegalRequest, 0x21, 0, -1},
		{"READ CAPACITY(10) LBA without PMI", []byte{0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0}, nil, scsi.IllegalRequest, 0x24, 0, 2},
		{"MODE SENSE(6) unknown page", []byte{0x1A, 0, 0x05, 0, 255, 0}, nil, scsi.IllegalRequest, 0x24, 0, 2},
		{"MODE SENSE(6) saved values", []byte{0x1A, 0, 0xC8, 0, 255, 0}, nil, scsi.IllegalRequest, 0x39, 0, -1},
		{"MODE SENSE(10) subpage", []byte{0x5A, 0, 0x0A, 0x01, 0, 0, 0, 0, 255, 0}, nil, scsi.IllegalRequest, 0x24, 0, 3},
		{"SERVICE ACTION IN unknown", cdb16(0x9E, 0x1F, 0, 32), nil, scsi.IllegalRequest, 0x24, 0, 1},
		{"PR IN service action 4", []byte{0x5E, 4, 0, 0, 0, 0, 0, 0, 255, 0}, nil, scsi.IllegalRequest, 0x24, 0, 1},
		{"PR OUT short parameter list", []byte{0x5F, 0, 0, 0, 0, 0, 0, 0, 16, 0}, make([]byte, 16), scsi.IllegalRequest, 0x1A, 0, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := scsitest.Exec(dev, c.cdb, c.out)
			s := scsitest.WantSense(t, err, c.key, c.asc, c.ascq)
			if c.fieldIdx >= 0 {
				scsitest.WantField(t, s, true, c.fieldIdx, -1)
			}
		})
	}
}

// cawCDB is a COMPARE AND WRITE CDB for n blocks at lba.
func cawCDB(lba uint64, n byte) []byte {
	c := cdb16(0x89, 0, lba, 0)
	c[13] = n
	return c
}

func TestVerify(t *testing.T) {
	dev := newDevice(t)
	data := pattern(4, 7)
	scsitest.MustExec(t, dev, cdb10(0x2A, 0, 100, 4), data)
	scsitest.MustExec(t, dev, cdb10(0x2F, 0, 100, 4), nil)           // BYTCHK 0: medium check
	scsitest.MustExec(t, dev, cdb10(0x2F, 0x02, 100, 4), data)       // BYTCHK 01b: equal
	scsitest.MustExec(t, dev, cdb16(0x8F, 0x06, 100, 1), data[:512]) // BYTCHK 11b, one block
	bad := bytes.Clone(data)
	bad[3*512+17] ^= 0xFF
	_, err := scsitest.Exec(dev, cdb12(0xAF, 0x02, 100, 4), bad)
	s := scsitest.WantSense(t, err, scsi.Miscompare, 0x1D, 0)
	if !s.InfoValid || s.Info != 3*512+17 {
		t.Errorf("miscompare information %d (valid %v), want offset %d", s.Info, s.InfoValid, 3*512+17)
	}
	_, err = scsitest.Exec(dev, cdb16(0x8F, 0x06, 100, 2), data[:512])
	scsitest.WantSense(t, err, scsi.Miscompare, 0x1D, 0) // the second block differs from the first
	scsitest.MustExec(t, dev, cdb10(0x2E, 0x12, 200, 2), data[:1024])
	if got := scsitest.MustExec(t, dev, cdb10(0x28, 0, 200, 2), nil); !bytes.Equal(got, data[:1024]) {
		t.Error("WRITE AND VERIFY did not write")
	}
}

func TestCompareAndWrite(t *testing.T) {
	dev := newDevice(t)
	old := bytes.Repeat([]byte{'A'}, 2*512)
	scsitest.MustExec(t, dev, cdb16(0x8A, 0, 10, 2), old)
	nw := bytes.Repeat([]byte{'B'}, 2*512)
	scsitest.MustExec(t, dev, cawCDB(10, 2), append(bytes.Clone(old), nw...))
	if got := scsitest.MustExec(t, dev, cdb16(0x88, 0, 10, 2), nil); !bytes.Equal(got, nw) {
		t.Fatal("COMPARE AND WRITE did not write")
	}
	wrong := bytes.Clone(old) // 'A's, but the blocks hold 'B's now
	_, err := scsitest.Exec(dev, cawCDB(10, 2), append(wrong, bytes.Repeat([]byte{'C'}, 1024)...))
	s := scsitest.WantSense(t, err, scsi.Miscompare, 0x1D, 0)
	if !s.InfoValid || s.Info != 0 {
		t.Errorf("miscompare at %d, want 0", s.Info)
	}
	if got := scsitest.MustExec(t, dev, cdb16(0x88, 0, 10, 2), nil); !bytes.Equal(got, nw) {
		t.Fatal("a miscompare wrote")
	}
	_, err = scsitest.Exec(dev, cawCDB(0, 0), nil)
	if err != nil {
		t.Errorf("COMPARE AND WRITE of 0 blocks: %v", err)
	}
}

// TestCompareAndWriteAtomic races COMPARE AND WRITE increments of one
// block: each succeeds only against the value it read, so the count of
// successes equals the final value.
func TestCompareAndWriteAtomic(t *testing.T) {
	dev := newDevice(t)
	block := func(v uint32) []byte {
		b := make([]byte, 512)
		binary.BigEndian.PutUint32(b, v)
		return b
	}
	scsitest.MustExec(t, dev, cdb10(0x2A, 0, 5, 1), block(0))
	results := make(chan int, 4)
	for range 4 {
		go func() {
			wins := 0
			for range 200 {
				cur := scsitest.MustExec(t, dev, cdb10(0x28, 0, 5, 1), nil)
				v := binary.BigEndian.Uint32(cur)
				if _, err := scsitest.Exec(dev, cawCDB(5, 1), append(bytes.Clone(cur), block(v+1)...)); err == nil {
					wins++
				}
			}
			results <- wins
		}()
	}
	total := 0
	for range 4 {
		total += <-results
	}
	got := binary.BigEndian.Uint32(scsitest.MustExec(t, dev, cdb10(0x28, 0, 5, 1), nil))
	if int(got) != total || total == 0 {
		t.Fatalf("block holds %d after %d successful COMPARE AND WRITEs", got, total)
	}
}

func TestReadCapacity(t *testing.T) {
	dev := newDevice(t)
	b := scsitest.MustExec(t, dev, []byte{0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil)
	if binary.BigEndian.Uint32(b) != testBlocks-1 || binary.BigEndian.Uint32(b[4:]) != 512 {
		t.Errorf("READ CAPACITY(10): % x", b)
	}
	b = scsitest.MustExec(t, dev, cdb16(0x9E, 0x10, 0, 32), nil)
	if len(b) != 32 || binary.BigEndian.Uint64(b) != testBlocks-1 || binary.BigEndian.Uint32(b[8:]) != 512 || b[14]&0xC0 != 0xC0 || b[12] != 0 || b[13] != 0 {
		t.Errorf("READ CAPACITY(16): % x", b)
	}
	thick, _ := newDisk(t, disk.Options{Thick: true, BlockSize: 4096})
	td := New(thick, Identity{})
	b = scsitest.MustExec(t, td, cdb16(0x9E, 0x10, 0, 32), nil)
	if binary.BigEndian.Uint32(b[8:]) != 4096 || b[14] != 0 {
		t.Errorf("thick READ CAPACITY(16): % x", b)
	}
	if _, err := scsitest.Exec(td, cdb10(0x42, 0, 0, 24), nil); err == nil {
		t.Error("a thick disk accepted UNMAP")
	}
	_, err := scsitest.Exec(td, cdb16(0x93, bitUnmap, 0, 1), make([]byte, 4096))
	scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x24, 0), true, 1, 3)
}

func TestVPDPages(t *testing.T) {
	dev := newDevice(t)
	bl := scsitest.MustExec(t, dev, []byte{0x12, 1, 0xB0, 0, 255, 0}, nil)
	if len(bl) != 64 || bl[3] != 0x3C {
		t.Fatalf("block limits page length %d (% x), want 0x3C", len(bl), bl[:4])
	}
	if bl[4]&1 == 0 || bl[5] != maxCAWBlocks || binary.BigEndian.Uint32(bl[8:]) != maxTransferBytes/512 ||
		binary.BigEndian.Uint32(bl[20:]) != maxUnmapBlocks || binary.BigEndian.Uint32(bl[24:]) != maxUnmapDescs ||
		binary.BigEndian.Uint64(bl[36:]) != maxWriteSame {
		t.Errorf("block limits: % x", bl)
	}
	lbp := scsitest.MustExec(t, dev, []byte{0x12, 1, 0xB2, 0, 255, 0}, nil)
	if len(lbp) != 8 || lbp[5] != 0xE4 || lbp[6]&7 != 2 {
		t.Errorf("logical block provisioning: % x", lbp)
	}
	bdc := scsitest.MustExec(t, dev, []byte{0x12, 1, 0xB1, 0, 255, 0}, nil)
	if len(bdc) != 64 || binary.BigEndian.Uint16(bdc[4:]) != 1 {
		t.Errorf("block device characteristics: % x", bdc)
	}
	sn := scsitest.MustExec(t, dev, []byte{0x12, 1, 0x80, 0, 255, 0}, nil)
	if string(sn[4:]) != "lun1" {
		t.Errorf("serial %q", sn[4:])
	}
}

// TestNAAStable checks VPD page 0x83 carries the disk's own NAA, the
// same after the disk is closed and opened again.
func TestNAAStable(t *testing.T) {
	dk, dir := newDisk(t, disk.Options{})
	first := naaOf(t, New(dk, Identity{}))
	dk2, err := disk.Open(dir, "lun1")
	if err != nil {
		t.Fatal(err)
	}
	defer dk2.Close()
	if second := naaOf(t, New(dk2, Identity{})); !bytes.Equal(first, second) || !bytes.Equal(first, dk.NAA()) {
		t.Fatalf("NAA % x, then % x; the disk's is % x", first, second, dk.NAA())
	}
}

// naaOf returns the first logical unit NAA designator of VPD page 0x83.
func naaOf(t *testing.T, dev scsi.Device) []byte {
	t.Helper()
	p := scsitest.MustExec(t, dev, []byte{0x12, 1, 0x83, 0xFF, 0xFF, 0}, nil)
	for d := p[4:]; len(d) >= 4; d = d[4+int(d[3]):] {
		if d[1]&0x0F == 3 && d[1]>>4&3 == 0 {
			return d[4 : 4+int(d[3])]
		}
	}
	t.Fatalf("no NAA designator in % x", p)
	return nil
}

// TestReadAllocatesNothing pins the READ path: with a transport buffer
// big enough, READ(10) and READ(16) allocate nothing.
func TestReadAllocatesNothing(t *testing.T) {
	dev := newDevice(t)
	scsitest.MustExec(t, dev, cdb10(0x2A, 0, 0, 256), pattern(256, 3))
	cmd := &scsi.Command{CDB: cdb10(0x28, 0, 0, 256), Buffer: make([]byte, 256*512)}
	cmd16 := &scsi.Command{CDB: cdb16(0x88, 0, 0, 64), Buffer: cmd.Buffer}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		if err := dev.Execute(ctx, cmd); err != nil {
			t.Fatal(err)
		}
		if err := dev.Execute(ctx, cmd16); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("READ allocates %.1f times per command pair", allocs)
	}
	if &cmd.DataIn[0] != &cmd.Buffer[0] || len(cmd.DataIn) != 256*512 {
		t.Fatal("READ did not use the transport's buffer")
	}
}

func TestSupportedOpcodesUsage(t *testing.T) {
	dev := newDevice(t)
	for _, op := range []byte{0x28, 0x2A, 0x88, 0x8A, 0xA8, 0xAA, 0x89} {
		b := scsitest.MustExec(t, dev, []byte{0xA3, 0x0C, 0x01, op, 0, 0, 0, 0, 1, 0, 0, 0}, nil)
		if len(b) < 6 || b[4] != op || b[5]&0x18 != 0x18 {
			t.Errorf("opcode %#02x: usage % x, want DPO and FUA", op, b)
		}
		if n := int(binary.BigEndian.Uint16(b[2:])); n != scsi.CDBLength(op) {
			t.Errorf("opcode %#02x: usage length %d", op, n)
		}
	}
	ms := scsitest.MustExec(t, dev, []byte{0x1A, 0, 0x3F, 0, 255, 0}, nil)
	if ms[2]&0x10 == 0 {
		t.Error("MODE SENSE does not report DPOFUA")
	}
}

// writeImage writes to the image file behind the device's back, as
// another process (or ferry while the target was down) would.
func writeImage(t *testing.T, dir string, off int64, p []byte) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "lun1.img"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(p, off); err != nil {
		t.Fatal(err)
	}
}

func TestDataOutLength(t *testing.T) {
	dev := newDevice(t)
	cases := []struct {
		cdb  []byte
		n    int
		want bool
	}{
		{cdb10(0x2A, 0, 0, 3), 3 * 512, true},
		{[]byte{0x0A, 0, 0, 0, 0, 0}, 256 * 512, true},
		{cdb16(0x8E, 0, 0, 2), 1024, true},
		{cdb10(0x2F, 0, 0, 4), 0, true},
		{cdb10(0x2F, 0x02, 0, 4), 4 * 512, true},
		{cdb16(0x8F, 0x06, 0, 4), 512, true},
		{cdb10(0x41, 0, 0, 9), 512, true},
		{cdb16(0x93, bitNDOB, 0, 9), 0, true},
		{cawCDB(0, 3), 3 * 1024, true},
		{cdb10(0x42, 0, 0, 40), 40, true},
		{[]byte{0x15, 0x10, 0, 0, 28, 0}, 28, true},
		{[]byte{0x5F, 0, 0, 0, 0, 0, 0, 0, 24, 0}, 24, true},
		{cdb10(0x28, 0, 0, 3), 0, false},
		{[]byte{0x2A, 0}, 0, false},
		{cdb12(0xAA, 0, 0, 1<<30), 0, false},
	}
	for _, c := range cases {
		n, ok := dev.DataOutLength(c.cdb)
		if n != c.n || ok != c.want {
			t.Errorf("DataOutLength(% x) = %d, %v; want %d, %v", c.cdb, n, ok, c.n, c.want)
		}
	}
}

func TestORWrite(t *testing.T) {
	dev := newDevice(t)
	scsitest.MustExec(t, dev, cdb16(0x8A, 0, 7, 2), bytes.Repeat([]byte{0xA0}, 1024))
	scsitest.MustExec(t, dev, cdb16(0x8B, bitFUA, 7, 2), bytes.Repeat([]byte{0x05}, 1024))
	if got := scsitest.MustExec(t, dev, cdb16(0x88, 0, 7, 2), nil); !bytes.Equal(got, bytes.Repeat([]byte{0xA5}, 1024)) {
		t.Fatalf("ORWRITE: % x...", got[:4])
	}
	scsitest.MustExec(t, dev, cdb16(0x8B, 0, testBlocks, 0), nil)
	_, err := scsitest.Exec(dev, cdb16(0x8B, 0, testBlocks+1, 0), nil)
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x21, 0)
	_, err = scsitest.Exec(dev, cdb16(0x8B, 0x20, 0, 1), make([]byte, 512))
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x24, 0)
}

func TestReadDefectData(t *testing.T) {
	dev := newDevice(t)
	if got := scsitest.MustExec(t, dev, []byte{0x37, 0, 0x18 | 0x05, 0, 0, 0, 0, 0, 32, 0}, nil); !bytes.Equal(got, []byte{0, 0x1D, 0, 0}) {
		t.Errorf("READ DEFECT DATA(10): % x", got)
	}
	if got := scsitest.MustExec(t, dev, []byte{0xB7, 0x08 | 0x03, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, nil); !bytes.Equal(got, []byte{0, 0x0B, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("READ DEFECT DATA(12): % x", got)
	}
}

// faulty fails every read, write and sync of its backend.
type faulty struct{ Backend }

var errFault = errors.New("injected fault")

func (faulty) ReadAt([]byte, int64) (int, error)  { return 0, errFault }
func (faulty) WriteAt([]byte, int64) (int, error) { return 0, errFault }
func (faulty) Sync() error                        { return errFault }

// TestMediumErrors checks that I/O errors of the image become MEDIUM
// ERROR with the LBA, not a hardware error or a panic.
func TestMediumErrors(t *testing.T) {
	dk, _ := newDisk(t, disk.Options{})
	dev := New(faulty{dk}, Identity{})
	_, err := scsitest.Exec(dev, cdb10(0x28, 0, 77, 1), nil)
	if s := scsitest.WantSense(t, err, scsi.MediumError, 0x11, 0); !s.InfoValid || s.Info != 77 {
		t.Errorf("read error information %d", s.Info)
	}
	_, err = scsitest.Exec(dev, cdb10(0x2A, 0, 78, 1), make([]byte, 512))
	scsitest.WantSense(t, err, scsi.MediumError, 0x0C, 0)
	_, err = scsitest.Exec(dev, cdb10(0x35, 0, 0, 0), nil)
	scsitest.WantSense(t, err, scsi.MediumError, 0x0C, 0)
	_, err = scsitest.Exec(dev, cawCDB(5, 1), make([]byte, 1024))
	scsitest.WantSense(t, err, scsi.MediumError, 0x11, 0)
}

// TestWriteAllocatesNothing pins the WRITE path as the READ one.
func TestWriteAllocatesNothing(t *testing.T) {
	dev := newDevice(t)
	cmd := &scsi.Command{CDB: cdb16(0x8A, 0, 64, 64), DataOut: pattern(64, 9)}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		if err := dev.Execute(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("WRITE allocates %.1f times per command", allocs)
	}
}
