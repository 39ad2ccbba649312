package xcopy_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"

	"ferry/internal/disk"
	"ferry/internal/library"
	"ferry/internal/scsi"
	"ferry/internal/scsi/sbc"
	"ferry/internal/scsi/ssc"
	"ferry/internal/scsi/xcopy"
)

// bed is one target's worth of units: two disks and two tape drives with
// a loaded cartridge each, all serving EXTENDED COPY from one manager.
type bed struct {
	disks [2]*sbc.Device
	tapes [2]*ssc.Device
	m     *xcopy.Manager
	// allow, when set, is the units an initiator may address; else all.
	allow map[string][]scsi.Device
}

const diskBlocks = 256

func newBed(t *testing.T) *bed {
	t.Helper()
	return newBedBlocks(t, diskBlocks)
}

// newBedBlocks is newBed with disks of blocks 512-byte blocks.
func newBedBlocks(t *testing.T, blocks int64) *bed {
	t.Helper()
	dir := t.TempDir()
	b := &bed{}
	for i := range b.disks {
		name := []string{"d0", "d1"}[i]
		if _, err := disk.Create(dir, name, blocks*512, disk.Options{}); err != nil {
			t.Fatal(err)
		}
		dk, err := disk.Open(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dk.Close() })
		b.disks[i] = sbc.New(dk, sbc.Identity{})
	}
	lib, err := library.OpenWith(filepath.Join(dir, "library"), library.Options{
		Drives: []string{"tape0", "tape1"}, Slots: 2, Prefix: "T", Suffix: "L8",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	for i := range b.tapes {
		b.tapes[i] = ssc.New(lib, []string{"tape0", "tape1"}[i], ssc.Identity{})
		t.Cleanup(func() { b.tapes[i].Close() })
	}
	b.m = xcopy.New(xcopy.UnitsFunc(b.unitsOf))
	for _, d := range b.disks {
		b.m.Attach(d)
	}
	for _, d := range b.tapes {
		b.m.Attach(d)
	}
	return b
}

func (b *bed) unitsOf(initiator string) []scsi.Device {
	if b.allow != nil {
		return b.allow[initiator]
	}
	return []scsi.Device{b.disks[0], b.disks[1], b.tapes[0], b.tapes[1]}
}

// exec runs a CDB as initiator.
func exec(dev scsi.Device, initiator string, cdb, out []byte) (*scsi.Command, error) {
	cmd := &scsi.Command{CDB: cdb, DataOut: out, Initiator: initiator}
	return cmd, dev.Execute(context.Background(), cmd)
}

func mustExec(t *testing.T, dev scsi.Device, cdb, out []byte) []byte {
	t.Helper()
	cmd, err := exec(dev, "", cdb, out)
	if err != nil {
		t.Fatalf("CDB % x: %v", cdb, err)
	}
	return cmd.DataIn
}

// naa returns the LU's NAA designator from its VPD page 0x83.
func naa(t *testing.T, dev scsi.Device) []byte {
	t.Helper()
	p := mustExec(t, dev, []byte{0x12, 1, 0x83, 0xFF, 0xFF, 0}, nil)[4:]
	for len(p) >= 4 {
		n := int(p[3])
		if p[1]&0x3F == 0x03 {
			return p[4 : 4+n]
		}
		p = p[4+n:]
	}
	t.Fatal("no NAA designator")
	return nil
}

// list builds an EXTENDED COPY parameter list.
type list struct {
	id     byte
	usage  byte
	cscds  [][]byte
	segs   [][]byte
	inline []byte
}

// cscd adds an E4h descriptor of dev (PDT, PAD, FIXED, block length) and
// returns its index.
func (l *list) cscd(t *testing.T, dev scsi.Device, pdt scsi.DeviceType, pad, fixed bool, blockLen uint32) uint16 {
	l.cscds = append(l.cscds, xcopy.E4(byte(pdt), naa(t, dev), pad, fixed, blockLen))
	return uint16(len(l.cscds) - 1)
}

func (l *list) bytes() []byte {
	return xcopy.EncodeList(l.id, l.usage, bytes.Join(l.cscds, nil), bytes.Join(l.segs, nil), l.inline)
}

func seg(typ byte, cat bool, src, dst uint16, body int) []byte {
	d := make([]byte, 4+body)
	d[0] = typ
	if cat {
		d[1] = 1
	}
	binary.BigEndian.PutUint16(d[2:], uint16(body))
	binary.BigEndian.PutUint16(d[4:], src)
	binary.BigEndian.PutUint16(d[6:], dst)
	return d
}

func put24(b []byte, v uint32) { b[0], b[1], b[2] = byte(v>>16), byte(v>>8), byte(v) }

// b2s is a 00h (block->stream) or 01h (stream->block) descriptor.
func b2s(typ byte, cat bool, src, dst uint16, xfer uint32, blocks uint16, lba uint64) []byte {
	d := seg(typ, cat, src, dst, 0x14)
	put24(d[9:], xfer)
	binary.BigEndian.PutUint16(d[14:], blocks)
	binary.BigEndian.PutUint64(d[16:], lba)
	return d
}

func b2b(dc bool, src, dst uint16, blocks uint16, from, to uint64) []byte {
	d := seg(0x02, false, src, dst, 0x18)
	if dc {
		d[1] |= 2
	}
	binary.BigEndian.PutUint16(d[10:], blocks)
	binary.BigEndian.PutUint64(d[12:], from)
	binary.BigEndian.PutUint64(d[20:], to)
	return d
}

func s2s(src, dst uint16, sx, dx, n uint32) []byte {
	d := seg(0x03, false, src, dst, 0x10)
	put24(d[9:], sx)
	put24(d[13:], dx)
	binary.BigEndian.PutUint32(d[16:], n)
	return d
}

func inlineSeg(dst uint16, xfer, off, n uint32) []byte {
	d := seg(0x04, false, 0, dst, 0x10)
	put24(d[9:], xfer)
	binary.BigEndian.PutUint32(d[12:], off)
	binary.BigEndian.PutUint32(d[16:], n)
	return d
}

func discard(src uint16, xfer, n uint32) []byte {
	d := seg(0x06, false, src, 0, 0x0C)
	put24(d[9:], xfer)
	binary.BigEndian.PutUint32(d[12:], n)
	return d
}

func tapeSeg(typ byte, dst uint16, arg uint32, code byte) []byte {
	d := seg(typ, false, 0, dst, 0x08)
	switch typ {
	case 0x12:
		binary.BigEndian.PutUint32(d[8:], arg)
	default:
		d[8] = code
		put24(d[9:], arg)
	}
	return d
}

// xcopy sends EXTENDED COPY(LID1) to dev.
func xcopyCmd(dev scsi.Device, initiator string, l *list) error {
	p := l.bytes()
	cdb := make([]byte, 16)
	cdb[0] = 0x83
	binary.BigEndian.PutUint32(cdb[10:], uint32(len(p)))
	_, err := exec(dev, initiator, cdb, p)
	return err
}

// rcr sends RECEIVE COPY RESULTS.
func rcr(dev scsi.Device, initiator string, sa, id byte) ([]byte, error) {
	cdb := make([]byte, 16)
	cdb[0], cdb[1], cdb[2] = 0x84, sa, id
	binary.BigEndian.PutUint32(cdb[10:], 64<<10)
	cmd, err := exec(dev, initiator, cdb, nil)
	return cmd.DataIn, err
}

// fill writes blocks of a pattern to a disk and returns them.
func fill(t *testing.T, dev scsi.Device, lba uint64, blocks int, seed byte) []byte {
	t.Helper()
	data := make([]byte, blocks*512)
	for i := range data {
		data[i] = seed + byte(i*7) + byte(i>>9)
	}
	cdb := make([]byte, 16)
	cdb[0] = 0x8A
	binary.BigEndian.PutUint64(cdb[2:], lba)
	binary.BigEndian.PutUint32(cdb[10:], uint32(blocks))
	mustExec(t, dev, cdb, data)
	return data
}

func readDisk(t *testing.T, dev scsi.Device, lba uint64, blocks int) []byte {
	t.Helper()
	cdb := make([]byte, 16)
	cdb[0] = 0x88
	binary.BigEndian.PutUint64(cdb[2:], lba)
	binary.BigEndian.PutUint32(cdb[10:], uint32(blocks))
	return bytes.Clone(mustExec(t, dev, cdb, nil))
}

func rewind(t *testing.T, dev scsi.Device) { mustExec(t, dev, []byte{0x01, 0, 0, 0, 0, 0}, nil) }

// readRecord reads the next variable-length record (up to 1 MiB).
func readRecord(dev scsi.Device) ([]byte, error) {
	cmd, err := exec(dev, "", []byte{0x08, 0x02, 0x10, 0, 0, 0}, nil) // SILI: any length
	return bytes.Clone(cmd.DataIn), err
}

func writeRecord(t *testing.T, dev scsi.Device, p []byte) {
	t.Helper()
	n := len(p)
	mustExec(t, dev, []byte{0x0A, 0, byte(n >> 16), byte(n >> 8), byte(n), 0}, p)
}
