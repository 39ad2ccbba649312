package target

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"

	"ferry/internal/disk"
	"ferry/internal/iscsi"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/library"
	"ferry/internal/scsi"
	"ferry/internal/scsi/sbc"
	"ferry/internal/scsi/ssc"
	"ferry/internal/scsi/xcopy"
	"ferry/internal/tape"
)

// The copy manager over iSCSI: ferry's initiator against a target on
// loopback whose disks (LUNs 5, 6) and tape drives (LUNs 1, 2) serve
// EXTENDED COPY, as `ferry serve --iscsi` wires them.
const (
	xcTape0, xcTape1 = 1, 2
	xcDiskA, xcDiskB = 5, 6
	xcBlocks         = 512 // per disk, of 512 bytes
	limitedIQN       = "iqn.2026-01.dev.ferry:limited"
)

type copyBed struct {
	*harness
	lib   *library.Library
	disks map[uint64]scsi.Device
	gate  *gatedDisk // wraps disk B when made with gated
}

// startCopier serves the bed; the initiator limitedIQN sees only disk A
// and tape 0. capacity is each cartridge's size.
func startCopier(t *testing.T, capacity int64, gated bool) *copyBed {
	return startCopierWith(t, capacity, gated, false)
}

// startCopierWith also write-protects tape 1's cartridge when protect.
func startCopierWith(t *testing.T, capacity int64, gated, protect bool) *copyBed {
	h := start(t, func(c *Config) {
		c.Sees = func(initiator string, lun uint64) bool {
			return initiator != limitedIQN || lun == xcDiskA || lun == xcTape0
		}
	})
	b := &copyBed{harness: h, disks: map[uint64]scsi.Device{}}
	lib, err := library.OpenWith(filepath.Join(t.TempDir(), "library"), library.Options{
		Drives: []string{"tape0", "tape1"}, Slots: 3, Capacity: capacity, Prefix: "T", Suffix: "L8",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	b.lib = lib
	if protect {
		path, err := lib.CartridgePath("T005L8") // tape1's cartridge
		if err != nil {
			t.Fatal(err)
		}
		if err := tape.SetWriteProtected(path, true); err != nil {
			t.Fatal(err)
		}
	}
	m := xcopy.New(xcopy.UnitsFunc(h.tgt.UnitsOf))
	for lun, name := range map[uint64]string{xcTape0: "tape0", xcTape1: "tape1"} {
		d := ssc.New(lib, name, ssc.Identity{})
		t.Cleanup(func() { d.Close() })
		m.Attach(d)
		h.units.Set(lun, d)
	}
	dir := t.TempDir()
	for _, lun := range []uint64{xcDiskA, xcDiskB} {
		name := "d" + itoa(int(lun))
		if _, err := disk.Create(dir, name, xcBlocks*512, disk.Options{}); err != nil {
			t.Fatal(err)
		}
		dk, err := disk.Open(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dk.Close() })
		d := sbc.New(dk, sbc.Identity{})
		m.Attach(d)
		var dev scsi.Device = d
		if gated && lun == xcDiskB {
			b.gate = &gatedDisk{Device: d, entered: make(chan struct{}, 64), release: make(chan struct{})}
			dev = b.gate
		}
		b.disks[lun] = dev
		h.units.Set(lun, dev)
	}
	return b
}

// gatedDisk holds the copy manager's WRITEs until released, so a copy
// stays in progress while the test looks at it. Its context still ends it.
type gatedDisk struct {
	scsi.Device
	entered chan struct{}
	release chan struct{}
}

func (g *gatedDisk) Execute(ctx context.Context, cmd *scsi.Command) error {
	if cmd.CDB[0] == 0x8A {
		g.entered <- struct{}{}
		select {
		case <-g.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.Device.Execute(ctx, cmd)
}

// xlist builds an EXTENDED COPY parameter list.
type xlist struct {
	id, usage byte
	cscds     [][]byte
	segs      [][]byte
	inline    []byte
}

// cscd adds an E4h descriptor with the NAA designator the LU reports.
func (l *xlist) cscd(t *testing.T, s *initiator.Session, lun uint64, pdt byte, pad, fixed bool, blockLen uint32) uint16 {
	t.Helper()
	r := mustDo(t, s, lun, []byte{0x12, 1, 0x83, 0x10, 0, 0}, nil, 4096)
	p := r.Data[4:]
	var naa []byte
	for len(p) >= 4 {
		if p[1]&0x3F == 0x03 {
			naa = p[4 : 4+int(p[3])]
			break
		}
		p = p[4+int(p[3]):]
	}
	if naa == nil {
		t.Fatalf("LUN %d reports no NAA designator", lun)
	}
	l.cscds = append(l.cscds, xcopy.E4(pdt, naa, pad, fixed, blockLen))
	return uint16(len(l.cscds) - 1)
}

func (l *xlist) bytes() []byte {
	return xcopy.EncodeList(l.id, l.usage, bytes.Join(l.cscds, nil), bytes.Join(l.segs, nil), l.inline)
}

// sd is a segment descriptor of typ with fields set at byte offsets.
func sd(typ byte, src, dst uint16, length int, fields ...any) []byte {
	d := make([]byte, 4+length)
	d[0] = typ
	binary.BigEndian.PutUint16(d[2:], uint16(length))
	binary.BigEndian.PutUint16(d[4:], src)
	binary.BigEndian.PutUint16(d[6:], dst)
	for i := 0; i < len(fields); i += 2 {
		at := fields[i].(int)
		switch v := fields[i+1].(type) {
		case u24:
			d[at], d[at+1], d[at+2] = byte(v>>16), byte(v>>8), byte(v)
		case uint16:
			binary.BigEndian.PutUint16(d[at:], v)
		case uint32:
			binary.BigEndian.PutUint32(d[at:], v)
		case uint64:
			binary.BigEndian.PutUint64(d[at:], v)
		case byte:
			d[at] = v
		case []byte:
			copy(d[at:], v)
		}
	}
	return d
}

type u24 uint32

func mustDo(t *testing.T, s *initiator.Session, lun uint64, cdb, out []byte, in int) *initiator.Result {
	t.Helper()
	r, err := s.Execute(testCtx(t), lun, cdb, out, in)
	if err != nil || r.Status != 0 {
		t.Fatalf("LUN %d CDB % x: %v %+v", lun, cdb, err, r)
	}
	return r
}

// xcopyTo sends EXTENDED COPY(LID1) to lun.
func xcopyTo(ctx context.Context, s *initiator.Session, lun uint64, l *xlist) (*initiator.Result, error) {
	p := l.bytes()
	cdb := make([]byte, 16)
	cdb[0] = 0x83
	binary.BigEndian.PutUint32(cdb[10:], uint32(len(p)))
	return s.Execute(ctx, lun, cdb, p, 0)
}

func rcrCDB(sa, id byte, alloc uint32) []byte {
	cdb := make([]byte, 16)
	cdb[0], cdb[1], cdb[2] = 0x84, sa, id
	binary.BigEndian.PutUint32(cdb[10:], alloc)
	return cdb
}

// senseOf parses a CHECK CONDITION's sense.
func senseOf(t *testing.T, r *initiator.Result, err error) *scsi.Sense {
	return senseOfResult(t, r, err)
}

func senseOfResult(t *testing.T, r *initiator.Result, err error) *scsi.Sense {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	s, perr := scsi.ParseSense(r.Sense)
	if r.Status != scsi.StatusCheckCondition || s == nil {
		t.Fatalf("status %#x sense % x (%v): want CHECK CONDITION", r.Status, r.Sense, perr)
	}
	return s
}

// forwardedOf returns the forwarded status and sense COPY ABORTED sense
// carries for the copy source (dst false) or destination.
func forwardedOf(t *testing.T, r *initiator.Result, s *scsi.Sense, dst bool) *scsi.Sense {
	t.Helper()
	off := int(s.CmdInfo >> 24 & 0xFF)
	if dst {
		off = int(s.CmdInfo >> 16 & 0xFF)
	}
	if off == 0 || off+1 >= len(r.Sense) || r.Sense[off] != scsi.StatusCheckCondition {
		t.Fatalf("no forwarded sense (CSI %#x, sense % x)", s.CmdInfo, r.Sense)
	}
	f, err := scsi.ParseSense(r.Sense[off+1:])
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// senseOf2 lets senseOf take a call's two results directly.
func senseOf2(t *testing.T) func(*initiator.Result, error) *scsi.Sense {
	return func(r *initiator.Result, err error) *scsi.Sense { t.Helper(); return senseOfResult(t, r, err) }
}

func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*13) + byte(i>>9)
	}
	return p
}

func writeDisk(t *testing.T, s *initiator.Session, lun uint64, lba uint64, p []byte) {
	cdb := make([]byte, 16)
	cdb[0] = 0x8A
	binary.BigEndian.PutUint64(cdb[2:], lba)
	binary.BigEndian.PutUint32(cdb[10:], uint32(len(p)/512))
	mustDo(t, s, lun, cdb, p, 0)
}

func readDiskOver(t *testing.T, s *initiator.Session, lun uint64, lba uint64, blocks int) []byte {
	cdb := make([]byte, 16)
	cdb[0] = 0x88
	binary.BigEndian.PutUint64(cdb[2:], lba)
	binary.BigEndian.PutUint32(cdb[10:], uint32(blocks))
	return mustDo(t, s, lun, cdb, nil, blocks*512).Data
}

// records reads a tape from BOT: record lengths, -1 for a filemark,
// until end of data; and the bytes of the records.
func records(t *testing.T, s *initiator.Session, lun uint64) ([]int, []byte) {
	mustDo(t, s, lun, []byte{0x01, 0, 0, 0, 0, 0}, nil, 0)
	var lens []int
	var data []byte
	for range 100 {
		r, err := s.Execute(testCtx(t), lun, []byte{0x08, 0x02, 0x01, 0, 0, 0}, nil, 1<<16)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == 0 {
			lens, data = append(lens, len(r.Data)), append(data, r.Data...)
			continue
		}
		sense, _ := scsi.ParseSense(r.Sense)
		if sense != nil && sense.Filemark {
			lens = append(lens, -1)
			continue
		}
		return lens, data
	}
	t.Fatal("tape without end of data")
	return nil, nil
}

func sameInts(a, b []int) bool {
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

// TestXcopySegmentsOverISCSI runs every segment type ferry implements,
// over iSCSI, against ferry's own disks and tape drives.
func TestXcopySegmentsOverISCSI(t *testing.T) {
	b := startCopier(t, 64<<20, false)
	s := b.dial(initiator.Config{})
	ctx := testCtx(t)
	src := pattern(64*512, 3)
	writeDisk(t, s, xcDiskA, 0, src)

	// 04h, 05h, 00h (fixed mode), 10h, 12h, 01h (variable), 11h, 07h.
	l := &xlist{id: 1, inline: []byte("HDR1")}
	a := l.cscd(t, s, xcDiskA, 0, false, false, 512)
	tf := l.cscd(t, s, xcTape0, 1, false, true, 1024) // fixed, 1024-byte blocks
	tv := l.cscd(t, s, xcTape0, 1, false, false, 0)   // the same drive, variable
	bb := l.cscd(t, s, xcDiskB, 0, false, false, 512)
	l.segs = [][]byte{
		sd(0x04, 0, tv, 0x10, 9, u24(4), 12, uint32(0), 16, uint32(4)),
		sd(0x05, 0, tv, 0x14, 9, u24(8), 12, uint16(8), 16, []byte("EMBEDDED")),
		sd(0x00, a, tf, 0x14, 9, u24(4), 14, uint16(32), 16, uint64(0)), // 16 KiB as 4 x 4 blocks of 1 KiB
		sd(0x10, 0, tv, 0x08, 9, u24(1)),
		sd(0x12, 0, tv, 0x08, 8, uint32(2)), // block 2: the first data record
		sd(0x01, tv, bb, 0x14, 9, u24(1024), 14, uint16(32), 16, uint64(100)),
		sd(0x11, 0, tv, 0x08, 8, byte(1), 9, u24(1)), // over the filemark
		sd(0x07, a, 0, 0x08, 8, byte(1)),
	}
	if r, err := xcopyTo(ctx, s, xcDiskA, l); err != nil || r.Status != 0 {
		t.Fatalf("disk to tape and back: %v %+v", err, r)
	}
	if got := readDiskOver(t, s, xcDiskB, 100, 32); !bytes.Equal(got, src[:32*512]) {
		t.Error("00h/01h round trip differs")
	}
	lens, data := records(t, s, xcTape0)
	want := append([]int{4, 8}, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024)
	want = append(append(want, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024), -1)
	if !sameInts(lens, want) || !bytes.Equal(data[:12], []byte("HDR1EMBEDDED")) || !bytes.Equal(data[12:], src[:16384]) {
		t.Errorf("tape holds %v", lens)
	}

	// 03h, 06h, 13h, 0Eh, 0Fh between the two drives.
	l = &xlist{id: 2}
	t0 := l.cscd(t, s, xcTape0, 1, false, false, 0)
	t1 := l.cscd(t, s, xcTape1, 1, false, false, 0)
	mustDo(t, s, xcTape0, []byte{0x01, 0, 0, 0, 0, 0}, nil, 0)
	l.segs = [][]byte{
		sd(0x06, t0, 0, 0x0C, 9, u24(4), 12, uint32(4)),                       // drop HDR1
		sd(0x0E, t0, t1, 0x10, 9, u24(8), 13, u24(8), 16, uint32(8)),          // EMBEDDED, held
		sd(0x03, t0, t1, 0x10, 9, u24(1024), 13, u24(2048), 16, uint32(2048)), // 2 records as 1
		sd(0x0F, t0, 0, 0x0C, 9, u24(1024), 12, uint32(1024)),                 // one more, held
		sd(0x13, t0, t1, 0x08, 8, uint32(1)),                                  // the rest and the filemark
	}
	if r, err := xcopyTo(ctx, s, xcDiskA, l); err != nil || r.Status != 0 {
		t.Fatalf("tape to tape: %v %+v", err, r)
	}
	lens, data = records(t, s, xcTape1)
	if !sameInts(lens, []int{8, 2048, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, -1}) ||
		!bytes.Equal(data[8:8+2048], src[:2048]) || !bytes.Equal(data[8+2048:], src[3072:16384]) {
		t.Errorf("tape 1 holds %v", lens)
	}
	r := mustDo(t, s, xcDiskA, rcrCDB(xcopy.SaReceiveData, 2, 1<<16), nil, 1<<16)
	if !bytes.Equal(r.Data[4:], append([]byte("EMBEDDED"), src[2048:3072]...)) {
		t.Errorf("held data % x...", r.Data[:min(16, len(r.Data))])
	}

	// 02h, 0Dh, 08h, 09h, 0Ah, 0Bh, 0Ch, 16h.
	l = &xlist{id: 3}
	a = l.cscd(t, s, xcDiskA, 0, false, false, 512)
	bb = l.cscd(t, s, xcDiskB, 0, false, false, 512)
	tv = l.cscd(t, s, xcTape1, 1, false, false, 0)
	mustDo(t, s, xcTape1, []byte{0x01, 0, 0, 0, 0, 0}, nil, 0)
	l.segs = [][]byte{
		sd(0x02, a, bb, 0x18, 10, uint16(4), 12, uint64(0), 20, uint64(200)),
		sd(0x0D, a, bb, 0x18, 10, uint16(1), 12, uint64(4), 20, uint64(204)),
		sd(0x08, a, tv, 0x18, 9, u24(100), 12, uint32(100), 16, uint64(1), 26, uint16(10)), // bytes 522..621
		sd(0x12, 0, tv, 0x08, 8, uint32(0)),
		sd(0x09, tv, bb, 0x18, 9, u24(100), 12, uint32(100), 16, uint64(300), 26, uint16(500)), // 300:500..301:87
		sd(0x0A, a, bb, 0x1C, 8, uint32(50), 12, uint64(2), 20, uint64(310), 28, uint16(1), 30, uint16(2)),
		sd(0x16, a, bb, 0x18, 8, uint64(40), 16, uint64(400), 24, uint32(8)),
	}
	before := readDiskOver(t, s, xcDiskB, 300, 11)
	if r, err := xcopyTo(ctx, s, xcDiskA, l); err != nil || r.Status != 0 {
		t.Fatalf("disk to disk: %v %+v", err, r)
	}
	if got := readDiskOver(t, s, xcDiskB, 200, 5); !bytes.Equal(got, src[:5*512]) {
		t.Error("02h/0Dh differ")
	}
	want300 := bytes.Clone(before)
	copy(want300[500:], src[522:622])
	copy(want300[10*512+2:], src[2*512+1:2*512+51])
	if got := readDiskOver(t, s, xcDiskB, 300, 11); !bytes.Equal(got, want300) {
		t.Error("08h/09h/0Ah: bytes differ or bytes around them changed")
	}
	if got := readDiskOver(t, s, xcDiskB, 400, 8); !bytes.Equal(got, src[40*512:48*512]) {
		t.Error("16h image differs")
	}
	r = mustDo(t, s, xcDiskA, rcrCDB(xcopy.SaReceiveData, 3, 4096), nil, 4096)
	if !bytes.Equal(r.Data[4:], src[4*512:5*512]) {
		t.Error("0Dh held data differs")
	}
	r = mustDo(t, s, xcDiskA, rcrCDB(xcopy.SaCopyStatus, 3, 12), nil, 12)
	if r.Data[4] != 0x01 || binary.BigEndian.Uint16(r.Data[5:]) != 7 {
		t.Errorf("COPY STATUS % x: want completed, 7 segments", r.Data)
	}
}

// TestXcopyErrorsOverISCSI: each refusal and failure with the sense SPC-4
// gives, the failing segment, the residual and the forwarded sense of the
// failing device; a refused list copies nothing.
func TestXcopyErrorsOverISCSI(t *testing.T) {
	b := startCopierWith(t, 128<<10, false, true) // 128 KiB cartridges; tape 1 write-protected
	s := b.dial(initiator.Config{})
	ctx := testCtx(t)
	src := pattern(xcBlocks*512, 9)
	writeDisk(t, s, xcDiskA, 0, src)
	blank := readDiskOver(t, s, xcDiskB, 0, xcBlocks)

	t.Run("bad descriptor", func(t *testing.T) {
		l := &xlist{id: 1}
		a := l.cscd(t, s, xcDiskA, 0, false, false, 512)
		l.segs = [][]byte{sd(0x02, a, a, 0x14)} // 02h is 0018h long
		sense := senseOf2(t)(xcopyTo(ctx, s, xcDiskA, l))
		if sense.Key != scsi.IllegalRequest || sense.ASC != 0x26 || sense.ASCQ != 0 || sense.Field == nil || sense.Field.Byte != 16+32+2 {
			t.Fatalf("%v: want INVALID FIELD IN PARAMETER LIST at the descriptor length (byte 50)", sense)
		}
	})
	t.Run("unknown CSCD", func(t *testing.T) {
		l := &xlist{id: 2}
		a := l.cscd(t, s, xcDiskA, 0, false, false, 512)
		l.cscd(t, s, xcDiskB, 0, false, false, 512)
		l.cscds[1][8] ^= 0xFF // a designator no LU has
		l.segs = [][]byte{sd(0x02, a, 1, 0x18, 10, uint16(1))}
		sense := senseOf2(t)(xcopyTo(ctx, s, xcDiskA, l))
		if sense.Key != scsi.CopyAborted || sense.ASC != 0x08 || sense.ASCQ != 0x04 || sense.Field == nil || sense.Field.Byte != 48 {
			t.Fatalf("%v: want UNREACHABLE COPY TARGET at the second CSCD", sense)
		}
	})
	t.Run("LBA out of range", func(t *testing.T) {
		l := &xlist{id: 3}
		a := l.cscd(t, s, xcDiskA, 0, false, false, 512)
		d := l.cscd(t, s, xcDiskB, 0, false, false, 512)
		l.segs = [][]byte{sd(0x02, a, d, 0x18, 10, uint16(8), 20, uint64(xcBlocks-4))}
		r, err := xcopyTo(ctx, s, xcDiskA, l)
		sense := senseOf(t, r, err)
		if sense.Key != scsi.CopyAborted || sense.CmdInfo&0xFFFF != 0 {
			t.Fatalf("%v: want COPY ABORTED in segment 0", sense)
		}
		if f := forwardedOf(t, r, sense, true); f.Key != scsi.IllegalRequest || f.ASC != 0x21 {
			t.Fatalf("forwarded %v: want LBA OUT OF RANGE", f)
		}
		if !bytes.Equal(readDiskOver(t, s, xcDiskB, 0, xcBlocks), blank) {
			t.Fatal("a refused segment wrote the disk")
		}
	})
	t.Run("filemark hit", func(t *testing.T) {
		mustDo(t, s, xcTape0, []byte{0x10, 0, 0, 0, 1, 0}, nil, 0)
		mustDo(t, s, xcTape0, []byte{0x01, 0, 0, 0, 0, 0}, nil, 0)
		l := &xlist{id: 4}
		tp := l.cscd(t, s, xcTape0, 1, false, false, 0)
		d := l.cscd(t, s, xcDiskB, 0, false, false, 512)
		l.segs = [][]byte{sd(0x07, d, 0, 0x08), sd(0x01, tp, d, 0x14, 9, u24(512), 14, uint16(1))}
		r, err := xcopyTo(ctx, s, xcDiskA, l)
		sense := senseOf(t, r, err)
		if sense.Key != scsi.CopyAborted || sense.ASC != 0x0D || sense.ASCQ != 0x01 || sense.CmdInfo&0xFFFF != 1 {
			t.Fatalf("%v: want THIRD PARTY DEVICE FAILURE in segment 1", sense)
		}
		if f := forwardedOf(t, r, sense, false); !f.Filemark {
			t.Fatalf("forwarded %v: want the filemark", f)
		}
		det := mustDo(t, s, xcDiskA, rcrCDB(xcopy.SaFailedSegment, 4, 1024), nil, 1024)
		if len(det.Data) < 60 || det.Data[56] != scsi.StatusCheckCondition || !bytes.Equal(det.Data[60:], r.Sense) {
			t.Fatal("FAILED SEGMENT DETAILS do not carry the command's sense")
		}
	})
	t.Run("tape at end of medium", func(t *testing.T) {
		mustDo(t, s, xcTape0, []byte{0x01, 0, 0, 0, 0, 0}, nil, 0)
		l := &xlist{id: 5}
		a := l.cscd(t, s, xcDiskA, 0, false, false, 512)
		tp := l.cscd(t, s, xcTape0, 1, false, false, 0)
		l.segs = [][]byte{sd(0x00, a, tp, 0x14, 9, u24(8192), 14, uint16(xcBlocks))} // 256 KiB to 128 KiB
		r, err := xcopyTo(ctx, s, xcDiskA, l)
		sense := senseOf(t, r, err)
		if sense.Key != scsi.CopyAborted || sense.ASC != 0x0D || sense.ASCQ != 0x01 {
			t.Fatalf("%v: want THIRD PARTY DEVICE FAILURE", sense)
		}
		if f := forwardedOf(t, r, sense, true); f.Key != scsi.VolumeOverflow || !f.EOM {
			t.Fatalf("forwarded %v: want VOLUME OVERFLOW at end of medium", f)
		}
		if !sense.InfoValid || sense.Info == 0 || sense.Info%8192 != 0 || sense.Info >= 128<<10 {
			t.Fatalf("residual %d (valid %v): want the bytes written, whole records", sense.Info, sense.InfoValid)
		}
	})
	t.Run("write-protected tape", func(t *testing.T) {
		l := &xlist{id: 6}
		a := l.cscd(t, s, xcDiskA, 0, false, false, 512)
		tp := l.cscd(t, s, xcTape1, 1, false, false, 0)
		l.segs = [][]byte{sd(0x00, a, tp, 0x14, 9, u24(512), 14, uint16(1))}
		r, err := xcopyTo(ctx, s, xcDiskA, l)
		sense := senseOf(t, r, err)
		if sense.Key != scsi.CopyAborted || sense.ASC != 0x0D || sense.ASCQ != 0x01 || sense.InfoValid {
			t.Fatalf("%v: want THIRD PARTY DEVICE FAILURE, nothing written", sense)
		}
		if f := forwardedOf(t, r, sense, true); f.Key != scsi.DataProtect {
			t.Fatalf("forwarded %v: want DATA PROTECT", f)
		}
	})
	t.Run("an initiator names a LUN it may not access", func(t *testing.T) {
		lim := b.dial(initiator.Config{InitiatorName: limitedIQN})
		l := &xlist{id: 7}
		a := l.cscd(t, s, xcDiskA, 0, false, false, 512)
		d := l.cscd(t, s, xcDiskB, 0, false, false, 512) // designator read by an initiator that sees it
		l.segs = [][]byte{sd(0x02, a, d, 0x18, 10, uint16(16))}
		sense := senseOf2(t)(xcopyTo(ctx, lim, xcDiskA, l))
		if sense.Key != scsi.CopyAborted || sense.ASC != 0x08 || sense.ASCQ != 0x04 || sense.Field == nil || sense.Field.Byte != 48 {
			t.Fatalf("%v: want UNREACHABLE COPY TARGET at disk B's descriptor", sense)
		}
		if !bytes.Equal(readDiskOver(t, s, xcDiskB, 0, xcBlocks), blank) {
			t.Fatal("a refused initiator's copy wrote disk B")
		}
		l.segs = [][]byte{sd(0x02, a, a, 0x18, 10, uint16(1), 20, uint64(9))}
		l.cscds = l.cscds[:1]
		if r, err := xcopyTo(ctx, lim, xcDiskA, l); err != nil || r.Status != 0 {
			t.Fatalf("a copy within its own LUs: %v %+v", err, r)
		}
	})
}

// TestXcopyAsyncOverISCSI: while a copy runs, other commands flow, COPY
// STATUS (from another command, and from another connection of the
// session) reports it in progress, another copy runs; ABORT TASK and a
// LUN reset end a copy, which is then completed with errors.
func TestXcopyAsyncOverISCSI(t *testing.T) {
	b := startCopier(t, 64<<20, true)
	s := b.dial(initiator.Config{})
	ctx := testCtx(t)
	writeDisk(t, s, xcDiskA, 0, pattern(64*512, 5))
	copyList := func(id byte) *xlist {
		l := &xlist{id: id}
		a := l.cscd(t, s, xcDiskA, 0, false, false, 512)
		d := l.cscd(t, s, xcDiskB, 0, false, false, 512)
		l.segs = [][]byte{sd(0x02, a, d, 0x18, 10, uint16(64))}
		return l
	}
	status := func(id byte) byte {
		return mustDo(t, s, xcDiskA, rcrCDB(xcopy.SaCopyStatus, id, 12), nil, 12).Data[4]
	}

	copyCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		r, err := xcopyTo(copyCtx, s, xcDiskA, copyList(9))
		if err == nil && r.Status != 0 {
			err = errors.New("copy ended with status")
		}
		done <- err
	}()
	<-b.gate.entered
	if st := status(9); st != 0x00 {
		t.Fatalf("COPY STATUS %#x while the copy runs: want 00h (in progress)", st)
	}
	readDiskOver(t, s, xcDiskA, 0, 8)
	mustDo(t, s, xcTape0, []byte{0, 0, 0, 0, 0, 0}, nil, 0)
	other := &xlist{id: 10}
	a := other.cscd(t, s, xcDiskA, 0, false, false, 512)
	other.segs = [][]byte{sd(0x02, a, a, 0x18, 10, uint16(4), 20, uint64(100))}
	if r, err := xcopyTo(ctx, s, xcDiskA, other); err != nil || r.Status != 0 {
		t.Fatalf("a second copy while the first runs: %v %+v", err, r)
	}
	cancel() // the initiator sends ABORT TASK
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("aborted copy: %v", err)
	}
	if st := status(9); st != 0x02 {
		t.Fatalf("COPY STATUS %#x after ABORT TASK: want 02h (completed with errors)", st)
	}

	go func() {
		_, err := xcopyTo(ctx, s, xcDiskA, copyList(11))
		done <- err
	}()
	<-b.gate.entered
	if resp, err := s.TaskMgmt(ctx, iscsi.TMFLUNReset, xcDiskA, 0xFFFFFFFF); err != nil || resp != iscsi.TMFComplete {
		t.Fatalf("LUN reset: %d %v", resp, err)
	}
	if err := <-done; !errors.Is(err, initiator.ErrAborted) {
		t.Fatalf("copy under LUN reset: %v", err)
	}
	r, err := s.Execute(ctx, xcDiskA, rcrCDB(xcopy.SaCopyStatus, 11, 12), nil, 12)
	if err == nil && r.Status == scsi.StatusCheckCondition { // the reset's unit attention comes first
		r, err = s.Execute(ctx, xcDiskA, rcrCDB(xcopy.SaCopyStatus, 11, 12), nil, 12)
	}
	if err != nil || r.Status != 0 || r.Data[4] != 0x02 {
		t.Fatalf("COPY STATUS after LUN reset: %v %+v", err, r)
	}
}
