package smc

import (
	"bytes"
	"encoding/binary"
	"testing"

	"ferry/internal/scsi"
	"ferry/internal/scsi/scsitest"
)

// tag returns a 36-byte primary volume tag for a barcode.
func tag(barcode string) []byte {
	b := make([]byte, 36)
	if barcode != "" {
		copy(b, barcode+string(bytes.Repeat([]byte{' '}, 32-len(barcode))))
	}
	return b
}

// desc builds a descriptor: address, flags, byte 9, source, then tail.
func desc(addr uint16, flags, b9 byte, src uint16, tail ...[]byte) []byte {
	d := make([]byte, 12)
	binary.BigEndian.PutUint16(d, addr)
	d[2], d[9] = flags, b9
	binary.BigEndian.PutUint16(d[10:], src)
	for _, t := range tail {
		d = append(d, t...)
	}
	return d
}

func TestReadElementStatusStorage(t *testing.T) {
	dev, _ := newDevice(t)
	got := scsitest.MustExec(t, dev, res(true, 2, 0x1000, 3, 0xFFFF), nil)
	ident := make([]byte, 4)
	want := []byte{0x10, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 8 + 3*52}
	want = append(want, 0x02, 0x80, 0x00, 52, 0x00, 0x00, 0x00, 3*52)
	want = append(want, desc(0x1000, 0x09, 0x01, 0, tag("A00001"), ident)...)
	want = append(want, desc(0x1001, 0x09, 0x01, 0, tag("A00002"), ident)...)
	want = append(want, desc(0x1002, 0x09, 0x01, 0, tag(""), ident)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("READ ELEMENT STATUS storage\n got % x\nwant % x", got, want)
	}
}

func TestReadElementStatusAfterMove(t *testing.T) {
	dev, _ := newDevice(t)
	scsitest.MustExec(t, dev, move(0, 0x1001, 0x0101), nil)
	got := scsitest.MustExec(t, dev, res(false, 4, 0, 10, 0xFFFF), nil)
	want := []byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 8 + 2*16}
	want = append(want, 0x04, 0x00, 0x00, 16, 0x00, 0x00, 0x00, 2*16)
	want = append(want, desc(0x0100, 0x08, 0x00, 0, make([]byte, 4))...)
	want = append(want, desc(0x0101, 0x09, 0x81, 0x1001, make([]byte, 4))...)
	if !bytes.Equal(got, want) {
		t.Fatalf("drives after a move\n got % x\nwant % x", got, want)
	}
}

func TestReadElementStatusMailSlotAndTransport(t *testing.T) {
	dev, cc := newDevice(t)
	if err := cc.Place(0x0010, "NEW001"); err != nil {
		t.Fatal(err)
	}
	got := scsitest.MustExec(t, dev, res(true, 3, 0, 1, 0xFFFF), nil)
	// FULL, IMPEXP (put there by the operator), ACCESS, EXENAB, INENAB.
	if want := desc(0x0010, 0x3B, 0x01, 0, tag("NEW001"), make([]byte, 4)); !bytes.Equal(got[16:], want) {
		t.Fatalf("mail slot\n got % x\nwant % x", got[16:], want)
	}
	scsitest.MustExec(t, dev, move(0, 0x0010, 0x1003), nil)
	scsitest.MustExec(t, dev, move(0, 0x1003, 0x0010), nil)
	got = scsitest.MustExec(t, dev, res(true, 3, 0, 1, 0xFFFF), nil)
	if got[16+2] != 0x39 || got[16+9] != 0x81 {
		t.Fatalf("mail slot filled by the robot: flags %#x byte 9 %#x", got[18], got[25])
	}
	got = scsitest.MustExec(t, dev, res(true, 1, 0, 1, 0xFFFF), nil)
	if want := desc(0x0001, 0x00, 0x00, 0, tag(""), make([]byte, 4)); !bytes.Equal(got[16:], want) {
		t.Fatalf("transport\n got % x\nwant % x", got[16:], want)
	}
}

func TestReadElementStatusDVCID(t *testing.T) {
	dev, _ := newDevice(t)
	cdb := res(true, 4, 0x0101, 1, 0xFFFF)
	cdb[6] = 0x01
	got := scsitest.MustExec(t, dev, cdb, nil)
	name := append([]byte("tape1"), bytes.Repeat([]byte{' '}, 27)...)
	want := []byte{0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 8 + 84}
	want = append(want, 0x04, 0x80, 0x00, 84, 0x00, 0x00, 0x00, 84)
	want = append(want, desc(0x0101, 0x08, 0x00, 0, tag(""), []byte{0x02, 0x00, 0x00, 32}, name)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("DVCID\n got % x\nwant % x", got, want)
	}
}

func TestReadElementStatusSelection(t *testing.T) {
	dev, _ := newDevice(t)
	t.Run("all types in address order", func(t *testing.T) {
		got := scsitest.MustExec(t, dev, res(true, 0, 0, 0xFFFF, 0xFFFF), nil)
		pages := parseStatus(t, got)
		var types []byte
		var n []int
		for _, p := range pages {
			types = append(types, p.typ)
			n = append(n, len(p.elems))
		}
		if !bytes.Equal(types, []byte{1, 3, 4, 2}) || n[0] != 1 || n[1] != 1 || n[2] != 2 || n[3] != 4 {
			t.Fatalf("pages %v with %v elements", types, n)
		}
		if binary.BigEndian.Uint16(got) != 0x0001 || binary.BigEndian.Uint16(got[2:]) != 8 {
			t.Fatalf("header % x", got[:8])
		}
	})
	t.Run("start and count cross types", func(t *testing.T) {
		got := scsitest.MustExec(t, dev, res(false, 0, 0x0101, 2, 0xFFFF), nil)
		pages := parseStatus(t, got)
		if len(pages) != 2 || pages[0].elems[0] != 0x0101 || pages[1].elems[0] != 0x1000 || len(pages[1].elems) != 1 {
			t.Fatalf("pages %+v", pages)
		}
	})
	t.Run("count zero", func(t *testing.T) {
		got := scsitest.MustExec(t, dev, res(true, 0, 0, 0, 0xFFFF), nil)
		if !bytes.Equal(got, make([]byte, 8)) {
			t.Fatalf("got % x", got)
		}
	})
	t.Run("type with no elements", func(t *testing.T) {
		c := New(NewMemory(newChangerNoMailSlot()), Identity{})
		got := scsitest.MustExec(t, c, res(true, 3, 0, 10, 0xFFFF), nil)
		if !bytes.Equal(got, make([]byte, 8)) {
			t.Fatalf("got % x", got)
		}
	})
	t.Run("start past the type", func(t *testing.T) {
		_, err := scsitest.Exec(dev, res(true, 4, 0x0102, 10, 0xFFFF), nil)
		scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x21, 0x01), true, 2, -1)
	})
	t.Run("bad type", func(t *testing.T) {
		_, err := scsitest.Exec(dev, res(true, 5, 0, 10, 0xFFFF), nil)
		scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x24, 0), true, 1, 3)
	})
}

func TestReadElementStatusTruncation(t *testing.T) {
	dev, _ := newDevice(t)
	full := scsitest.MustExec(t, dev, res(true, 2, 0, 10, 0xFFFF), nil) // 8 + 8 + 4*52
	tests := []struct{ alloc, want int }{
		{0, 0}, {5, 5}, {8, 8}, {15, 8}, {16, 16}, {16 + 51, 16}, {16 + 52, 68}, {16 + 52*3 + 10, 16 + 52*3}, {len(full), len(full)},
	}
	for _, tt := range tests {
		got := scsitest.MustExec(t, dev, res(true, 2, 0, 10, uint32(tt.alloc)), nil)
		if len(got) != tt.want || !bytes.HasPrefix(full, got) {
			t.Errorf("allocation %d: %d bytes, want %d", tt.alloc, len(got), tt.want)
		}
		if len(got) >= 8 && !bytes.Equal(got[:8], full[:8]) {
			t.Errorf("allocation %d: header % x does not report the full size % x", tt.alloc, got[:8], full[:8])
		}
	}
}

// page is a parsed element status page.
type page struct {
	typ   byte
	elems []uint16
}

// parseStatus walks element status data the way ndmjob's
// smc_parse_element_status_data does, checking the byte counts agree.
func parseStatus(t *testing.T, b []byte) []page {
	t.Helper()
	if len(b) < 8 || int(b[5])<<16|int(b[6])<<8|int(b[7]) != len(b)-8 {
		t.Fatalf("header byte count does not match % x", b)
	}
	var pages []page
	n := 0
	for p := b[8:]; len(p) > 0; {
		if len(p) < 8 {
			t.Fatalf("short page header % x", p)
		}
		dl := int(binary.BigEndian.Uint16(p[2:]))
		count := int(p[5])<<16 | int(p[6])<<8 | int(p[7])
		if dl == 0 || count%dl != 0 || len(p) < 8+count {
			t.Fatalf("page header % x inconsistent", p[:8])
		}
		pg := page{typ: p[0]}
		for d := p[8 : 8+count]; len(d) > 0; d = d[dl:] {
			pg.elems = append(pg.elems, binary.BigEndian.Uint16(d))
			n++
		}
		pages = append(pages, pg)
		p = p[8+count:]
	}
	if n != int(binary.BigEndian.Uint16(b[2:])) {
		t.Fatalf("header says %d elements, pages hold %d", binary.BigEndian.Uint16(b[2:]), n)
	}
	return pages
}
