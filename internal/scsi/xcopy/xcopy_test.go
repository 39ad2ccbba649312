package xcopy_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"ferry/internal/scsi"
	"ferry/internal/scsi/scsitest"
	"ferry/internal/scsi/xcopy"
)

func TestBlockToBlock(t *testing.T) {
	b := newBed(t)
	want := fill(t, b.disks[0], 10, 8, 1)
	l := &list{id: 1}
	s := l.cscd(t, b.disks[0], scsi.DirectAccess, false, false, 512)
	d := l.cscd(t, b.disks[1], scsi.DirectAccess, false, false, 0)
	l.segs = [][]byte{b2b(false, s, d, 4, 10, 100), b2b(true, s, d, 4, 14, 104)}
	if err := xcopyCmd(b.disks[0], "i", l); err != nil {
		t.Fatal(err)
	}
	if got := readDisk(t, b.disks[1], 100, 8); !bytes.Equal(got, want) {
		t.Fatal("destination blocks differ from the source")
	}
	st, err := rcr(b.disks[0], "i", xcopy.SaCopyStatus, 1)
	if err != nil {
		t.Fatal(err)
	}
	if st[4] != 0x01 || binary.BigEndian.Uint16(st[5:]) != 2 || st[7] != 0 || binary.BigEndian.Uint32(st[8:]) != 8*512 {
		t.Fatalf("COPY STATUS % x: want completed, 2 segments, 4096 bytes", st)
	}
}

// TestDiskTapeRoundTrip writes a header (inline data), disk blocks and a
// filemark to tape, then locates back and restores the blocks to the
// other disk: stream segments against ferry's own tape drive.
func TestDiskTapeRoundTrip(t *testing.T) {
	b := newBed(t)
	want := fill(t, b.disks[0], 0, 32, 9)
	tape := b.tapes[0]
	l := &list{id: 2, inline: []byte("FERRY-IMAGE-HDR\x00")}
	src := l.cscd(t, b.disks[0], scsi.DirectAccess, false, false, 512)
	tp := l.cscd(t, tape, scsi.SequentialAccess, false, false, 0)
	dst := l.cscd(t, b.disks[1], scsi.DirectAccess, false, false, 512)
	l.segs = [][]byte{
		inlineSeg(tp, 16, 0, 16),               // one 16-byte header record
		b2s(0x00, false, src, tp, 4096, 32, 0), // 4 records of 4 KiB
		tapeSeg(0x10, tp, 1, 0),                // a filemark
		tapeSeg(0x12, tp, 1, 0),                // locate to the first data record
		b2s(0x01, false, tp, dst, 4096, 24, 0),
		tapeSeg(0x11, tp, 1, 0x01), // space over the filemark
	}
	if err := xcopyCmd(b.disks[0], "i", l); err != nil {
		t.Fatal(err)
	}
	if got := readDisk(t, b.disks[1], 0, 24); !bytes.Equal(got, want[:24*512]) {
		t.Fatal("restored blocks differ")
	}
	rewind(t, tape)
	hdr, err := readRecord(tape)
	if err != nil || string(hdr) != "FERRY-IMAGE-HDR\x00" {
		t.Fatalf("header record %q, %v", hdr, err)
	}
	for i := range 4 {
		rec, err := readRecord(tape)
		if err != nil || !bytes.Equal(rec, want[i*4096:(i+1)*4096]) {
			t.Fatalf("record %d: %d bytes, %v", i, len(rec), err)
		}
	}
	if _, err := readRecord(tape); err == nil {
		t.Fatal("no filemark after the image")
	}
}

// TestStreamSegments covers 03h (tape to tape), 06h (discard) and fixed
// block mode.
func TestStreamSegments(t *testing.T) {
	b := newBed(t)
	t0, t1 := b.tapes[0], b.tapes[1]
	recs := [][]byte{bytes.Repeat([]byte{1}, 1000), bytes.Repeat([]byte{2}, 1000), bytes.Repeat([]byte{3}, 1000)}
	for _, r := range recs {
		writeRecord(t, t0, r)
	}
	rewind(t, t0)
	l := &list{id: 3}
	a := l.cscd(t, t0, scsi.SequentialAccess, false, false, 0)
	f := l.cscd(t, t1, scsi.SequentialAccess, false, true, 500) // fixed, 500-byte blocks
	l.segs = [][]byte{discard(a, 1000, 1000), s2s(a, f, 1000, 2, 2000)}
	if err := xcopyCmd(t0, "i", l); err != nil {
		t.Fatal(err)
	}
	rewind(t, t1)
	var got []byte
	for range 4 {
		rec, err := readRecord(t1)
		if err != nil || len(rec) != 500 {
			t.Fatalf("fixed block: %d bytes, %v", len(rec), err)
		}
		got = append(got, rec...)
	}
	if !bytes.Equal(got, append(bytes.Clone(recs[1]), recs[2]...)) {
		t.Fatal("stream copy differs")
	}
}

// TestResidue checks SPC-4 table 116: 3 disk blocks (1536 bytes) to
// 1024-byte records leave 512 bytes of residue.
func TestResidue(t *testing.T) {
	for _, c := range []struct {
		name           string
		cat, pad, spad bool
		records        []int // lengths on tape
		inexact        bool
	}{
		{"CAT carries the residue to the next segment", true, false, false, []int{1024, 1024, 1024}, false},
		{"destination PAD pads the residue", false, true, false, []int{1024, 1024, 1024, 1024}, false},
		{"source PAD only discards it", false, false, true, []int{1024, 1024}, false},
		{"no CAT and no PAD is an inexact segment", false, false, false, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBed(t)
			want := fill(t, b.disks[0], 0, 6, 3)
			l := &list{id: 4}
			src := l.cscd(t, b.disks[0], scsi.DirectAccess, c.spad, false, 512)
			tp := l.cscd(t, b.tapes[0], scsi.SequentialAccess, c.pad, false, 0)
			s1 := b2s(0x00, c.cat, src, tp, 1024, 3, 0)
			l.segs = [][]byte{s1, b2s(0x00, c.cat, src, tp, 1024, 3, 3)}
			err := xcopyCmd(b.disks[0], "i", l)
			if c.inexact {
				s := scsitest.WantSense(t, err, scsi.CopyAborted, 0x26, 0x0A)
				if s.CmdInfo&0xFFFF != 0 {
					t.Fatalf("segment %d, want 0", s.CmdInfo&0xFFFF)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rewind(t, b.tapes[0])
			var lens []int
			var got []byte
			for {
				rec, err := readRecord(b.tapes[0])
				if err != nil {
					break
				}
				lens = append(lens, len(rec))
				got = append(got, rec...)
			}
			if len(lens) != len(c.records) {
				t.Fatalf("records %v, want %v", lens, c.records)
			}
			switch {
			case c.cat && !bytes.Equal(got, want):
				t.Fatal("carried data differs")
			case c.pad && (!bytes.Equal(got[:1536], want[:1536]) || !bytes.Equal(got[1536:2048], make([]byte, 512))):
				t.Fatal("padded record differs")
			}
		})
	}
}

func TestErrors(t *testing.T) {
	b := newBed(t)
	fill(t, b.disks[0], 0, 8, 5)
	t.Run("index beyond the list is an unreachable copy target", func(t *testing.T) {
		l := &list{id: 5}
		s := l.cscd(t, b.disks[0], scsi.DirectAccess, false, false, 512)
		l.segs = [][]byte{b2b(false, s, 1, 1, 0, 0)}
		scsitest.WantSense(t, xcopyCmd(b.disks[0], "i", l), scsi.CopyAborted, 0x08, 0x04)
	})
	t.Run("range beyond the disk moves nothing", func(t *testing.T) {
		before := readDisk(t, b.disks[1], diskBlocks-2, 2)
		l := &list{id: 6}
		s := l.cscd(t, b.disks[0], scsi.DirectAccess, false, false, 512)
		d := l.cscd(t, b.disks[1], scsi.DirectAccess, false, false, 512)
		l.segs = [][]byte{b2b(false, s, d, 1, 0, 0), b2b(false, s, d, 4, 0, diskBlocks-2)}
		err := xcopyCmd(b.disks[0], "i", l)
		sense := scsitest.WantSense(t, err, scsi.CopyAborted, 0, 0)
		if sense.CmdInfo&0xFFFF != 1 || sense.CmdInfo>>16&0xFF != 18 {
			t.Fatalf("CSI %#x: want segment 1, destination sense at byte 18", sense.CmdInfo)
		}
		_, raw := scsi.StatusOf(err)
		fwd, _ := scsi.ParseSense(raw[19:])
		if raw[18] != scsi.StatusCheckCondition || fwd == nil || fwd.ASC != 0x21 {
			t.Fatalf("forwarded sense % x: want LBA OUT OF RANGE", raw[18:])
		}
		if !bytes.Equal(readDisk(t, b.disks[1], diskBlocks-2, 2), before) {
			t.Fatal("blocks written past a refused segment")
		}
		det, err := rcr(b.disks[0], "i", xcopy.SaFailedSegment, 6)
		if err != nil || len(det) < 60 || det[56] != scsi.StatusCheckCondition || det[60+2]&0x0F != byte(scsi.CopyAborted) {
			t.Fatalf("FAILED SEGMENT DETAILS % x, %v", det, err)
		}
	})
	t.Run("a tape error is forwarded with the segment number", func(t *testing.T) {
		rewind(t, b.tapes[0])
		mustExec(t, b.tapes[0], []byte{0x10, 0, 0, 0, 1, 0}, nil) // a filemark at BOT
		rewind(t, b.tapes[0])
		l := &list{id: 7}
		tp := l.cscd(t, b.tapes[0], scsi.SequentialAccess, false, false, 0)
		d := l.cscd(t, b.disks[1], scsi.DirectAccess, false, false, 512)
		l.segs = [][]byte{b2s(0x01, false, tp, d, 512, 1, 0)}
		err := xcopyCmd(b.disks[0], "i", l)
		sense := scsitest.WantSense(t, err, scsi.CopyAborted, 0x0D, 0x01)
		if sense.CmdInfo>>24&0xFF != 18 {
			t.Fatalf("CSI %#x: want source sense at byte 18", sense.CmdInfo)
		}
		_, raw := scsi.StatusOf(err)
		fwd, _ := scsi.ParseSense(raw[19:])
		if fwd == nil || !fwd.Filemark {
			t.Fatalf("forwarded sense %v: want the filemark", fwd)
		}
	})
	t.Run("a tape segment aimed at a disk", func(t *testing.T) {
		l := &list{id: 8}
		l.segs = [][]byte{tapeSeg(0x10, xcopy.IDSelf, 1, 0)}
		scsitest.WantSense(t, xcopyCmd(b.disks[0], "i", l), scsi.CopyAborted, 0x26, 0x0C)
	})
	t.Run("stream segment naming a disk is refused before processing", func(t *testing.T) {
		l := &list{id: 9}
		s := l.cscd(t, b.disks[0], scsi.DirectAccess, false, false, 512)
		l.segs = [][]byte{s2s(s, s, 512, 512, 512)}
		scsitest.WantSense(t, xcopyCmd(b.disks[0], "i", l), scsi.IllegalRequest, 0x26, 0x09)
	})
	t.Run("unknown list identifier", func(t *testing.T) {
		_, err := rcr(b.disks[0], "i", xcopy.SaCopyStatus, 200)
		scsitest.WantSense(t, err, scsi.IllegalRequest, 0x24, 0)
	})
}

// TestAuthorization: an initiator may name only the units its session
// addresses; a list naming another gets nothing copied.
func TestAuthorization(t *testing.T) {
	b := newBed(t)
	b.allow = map[string][]scsi.Device{
		"iqn.a": {b.disks[0]},
		"iqn.b": {b.disks[0], b.disks[1]},
	}
	fill(t, b.disks[0], 0, 4, 7)
	before := readDisk(t, b.disks[1], 0, 4)
	l := &list{id: 1}
	s := l.cscd(t, b.disks[0], scsi.DirectAccess, false, false, 512)
	d := l.cscd(t, b.disks[1], scsi.DirectAccess, false, false, 512)
	l.segs = [][]byte{b2b(false, s, d, 4, 0, 0)}
	sense := scsitest.WantSense(t, xcopyCmd(b.disks[0], "iqn.a", l), scsi.CopyAborted, 0x08, 0x04)
	if sense.Field == nil || sense.Field.Byte != 48 {
		t.Fatalf("field %+v: want the second CSCD (byte 48)", sense.Field)
	}
	if !bytes.Equal(readDisk(t, b.disks[1], 0, 4), before) {
		t.Fatal("a refused copy wrote the disk")
	}
	if err := xcopyCmd(b.disks[0], "iqn.b", l); err != nil {
		t.Fatalf("allowed initiator: %v", err)
	}
}

// gate is a disk whose WRITEs wait until released: a copy to it stays
// in progress while the test looks at it.
type gate struct {
	scsi.Device
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gate) Execute(ctx context.Context, cmd *scsi.Command) error {
	if len(cmd.CDB) > 0 && cmd.CDB[0] == 0x8A && cmd.Initiator == "copier" {
		g.once.Do(func() { close(g.entered) })
		<-g.release
	}
	return g.Device.Execute(ctx, cmd)
}

// TestCopyStatusWhileRunning: RECEIVE COPY RESULTS reports a copy in
// progress, its list identifier cannot be reused until it ends, and
// another copy runs meanwhile.
func TestCopyStatusWhileRunning(t *testing.T) {
	b := newBed(t)
	g := &gate{Device: b.disks[1], entered: make(chan struct{}), release: make(chan struct{})}
	b.allow = map[string][]scsi.Device{"copier": {b.disks[0], g}}
	fill(t, b.disks[0], 0, 8, 2)
	l := &list{id: 42}
	s := l.cscd(t, b.disks[0], scsi.DirectAccess, false, false, 512)
	d := l.cscd(t, b.disks[1], scsi.DirectAccess, false, false, 512)
	l.segs = [][]byte{b2b(false, s, d, 8, 0, 0)}
	done := make(chan error, 1)
	go func() { done <- xcopyCmd(b.disks[0], "copier", l) }()
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("copy did not start")
	}
	st, err := rcr(b.disks[0], "copier", xcopy.SaCopyStatus, 42)
	if err != nil || st[4] != 0x00 {
		t.Fatalf("COPY STATUS % x, %v: want in progress", st, err)
	}
	scsitest.WantSense(t, xcopyCmd(b.disks[0], "copier", l), scsi.IllegalRequest, 0x00, 0x16)
	other := &list{id: 43}
	s2 := other.cscd(t, b.disks[0], scsi.DirectAccess, false, false, 512)
	other.segs = [][]byte{b2b(false, s2, s2, 1, 0, 100)}
	if err := xcopyCmd(b.disks[0], "copier", other); err != nil {
		t.Fatalf("second copy while the first runs: %v", err)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, _ = rcr(b.disks[0], "copier", xcopy.SaCopyStatus, 42)
	if st[4] != 0x01 || binary.BigEndian.Uint32(st[8:]) != 8*512 {
		t.Fatalf("COPY STATUS % x after the copy", st)
	}
	if _, err := rcr(b.disks[0], "someone else", xcopy.SaCopyStatus, 42); err == nil {
		t.Fatal("another I_T nexus sees the list")
	}
}

// TestDiscovery: the 3PC bit, VPD page 0x8F and REPORT SUPPORTED
// OPERATION CODES on disk and tape units.
func TestDiscovery(t *testing.T) {
	b := newBed(t)
	for _, dev := range []scsi.Device{b.disks[0], b.tapes[0]} {
		std := mustExec(t, dev, []byte{0x12, 0, 0, 0, 96, 0}, nil)
		if std[5]&0x08 == 0 {
			t.Error("3PC bit not set")
		}
		pages := mustExec(t, dev, []byte{0x12, 1, 0, 0, 255, 0}, nil)
		if !bytes.Contains(pages[4:], []byte{0x8F}) {
			t.Errorf("VPD 0x00 % x lacks 0x8F", pages)
		}
		p := mustExec(t, dev, []byte{0x12, 1, 0x8F, 1, 0, 0}, nil)
		if binary.BigEndian.Uint16(p[4:]) != 0x0001 || !bytes.Contains(p, []byte{0x84, 4, 0, 1, 3, 4}) {
			t.Errorf("VPD 0x8F % x: want a supported commands descriptor with 84h", p)
		}
		for _, c := range [][2]byte{{0x83, 0}, {0x84, 0}, {0x84, 1}, {0x84, 3}, {0x84, 4}} {
			cdb := []byte{0xA3, 0x0C, 0x02, c[0], 0, c[1], 0, 0, 1, 0, 0, 0}
			if r := mustExec(t, dev, cdb, nil); r[1]&7 != 3 {
				t.Errorf("RSOC %02x/%02x: support %d, want 3", c[0], c[1], r[1]&7)
			}
		}
		op, err := rcr(dev, "", xcopy.SaOperatingParams, 0)
		if err != nil || binary.BigEndian.Uint16(op[8:]) != xcopy.MaxCSCDs || int(op[43]) != len(xcopy.Implemented) {
			t.Errorf("OPERATING PARAMETERS % x, %v", op, err)
		}
	}
}
