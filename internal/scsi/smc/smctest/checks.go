package smctest

import (
	"bytes"
	"encoding/binary"
	"testing"

	"ferry/internal/scsi"
)

func inquiry(t testing.TB, dev scsi.Device) {
	b := mustExec(t, dev, []byte{0x12, 0, 0, 0, 96, 0})
	if len(b) < 36 || b[0] != 0x08 {
		t.Fatalf("INQUIRY: % x, want type 0x08", b)
	}
}

func elementAddressPage(t testing.TB, dev scsi.Device) {
	a := addresses(t, dev)
	if a.count[typeTransport] == 0 || a.count[typeStorage] == 0 {
		t.Fatalf("assignment %+v: want a transport and storage", a)
	}
}

func resAll(t testing.TB, dev scsi.Device) {
	a := addresses(t, dev)
	for _, voltag := range []bool{false, true} {
		els := res(t, dev, 0, voltag, 0, 0xFFFF)
		want := 0
		for typ := 1; typ <= 4; typ++ {
			want += int(a.count[typ])
			got := find(els, byte(typ), func(element) bool { return true })
			if len(got) != int(a.count[typ]) {
				t.Fatalf("VOLTAG=%v: %d elements of type %d, the assignment page says %d", voltag, len(got), typ, a.count[typ])
			}
			for _, e := range got {
				if e.addr < a.first[typ] || e.addr >= a.first[typ]+a.count[typ] {
					t.Fatalf("type %d element at %#x outside %#x+%d", typ, e.addr, a.first[typ], a.count[typ])
				}
			}
		}
		if len(els) != want {
			t.Fatalf("VOLTAG=%v: %d elements, want %d", voltag, len(els), want)
		}
	}
}

func resPerType(t testing.TB, dev scsi.Device) {
	all := res(t, dev, 0, true, 0, 0xFFFF)
	for typ := byte(1); typ <= 4; typ++ {
		one := res(t, dev, typ, true, 0, 0xFFFF)
		want := find(all, typ, func(element) bool { return true })
		if len(one) != len(want) {
			t.Fatalf("type %d alone: %d elements, %d among all", typ, len(one), len(want))
		}
		for i := range one {
			if !bytes.Equal(one[i].raw, want[i].raw) {
				t.Fatalf("type %d element %#x: % x alone, % x among all", typ, one[i].addr, one[i].raw, want[i].raw)
			}
		}
	}
}

func resTruncated(t testing.TB, dev scsi.Device) {
	full := mustExec(t, dev, []byte{0xB8, 0x10, 0, 0, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 0, 0})
	for _, n := range []int{8, 9, 16, 17, 60, len(full) - 1} {
		b := mustExec(t, dev, []byte{0xB8, 0x10, 0, 0, 0xFF, 0xFF, 0, byte(n >> 16), byte(n >> 8), byte(n), 0, 0})
		if len(b) > n || !bytes.HasPrefix(full, b) {
			t.Fatalf("allocation length %d: %d bytes, want a prefix of the full report", n, len(b))
		}
		if len(b) >= 8 && !bytes.Equal(b[5:8], full[5:8]) {
			t.Fatalf("allocation length %d: byte count % x, want the full report's % x", n, b[5:8], full[5:8])
		}
	}
}

func resStart(t testing.TB, dev scsi.Device) {
	slots := res(t, dev, typeStorage, false, 0, 0xFFFF)
	need(t, len(slots) >= 3, "three storage slots")
	got := res(t, dev, typeStorage, false, slots[1].addr, 2)
	if len(got) != 2 || got[0].addr != slots[1].addr || got[1].addr != slots[2].addr {
		t.Fatalf("from %#x, 2 elements: got %d starting %#x", slots[1].addr, len(got), got[0].addr)
	}
}

func volumeTags(t testing.TB, dev scsi.Device) {
	for _, e := range res(t, dev, 0, true, 0, 0xFFFF) {
		if e.full && e.tag == "" {
			t.Fatalf("full element %#x has no primary volume tag", e.addr)
		}
		if !e.full && e.tag != "" {
			t.Fatalf("empty element %#x has volume tag %q", e.addr, e.tag)
		}
	}
}

func moveMedium(t testing.TB, dev scsi.Device) {
	els := state(t, dev)
	src, dst := find(els, typeStorage, full), find(els, typeStorage, empty)
	need(t, len(src) > 0 && len(dst) > 0, "a full and an empty storage slot")
	s, d := src[0], dst[0]
	mustMove(t, dev, s.addr, d.addr)
	after := state(t, dev)
	got := at(t, after, d.addr)
	if !got.full || got.tag != s.tag || at(t, after, s.addr).full {
		t.Fatalf("after MOVE %#x to %#x: destination %+v", s.addr, d.addr, got)
	}
	if !got.svalid || got.source != s.addr {
		t.Fatalf("moved cartridge: SVALID %v source %#x, want %#x", got.svalid, got.source, s.addr)
	}
	mustMove(t, dev, d.addr, s.addr)
}

func moveSourceEmpty(t testing.TB, dev scsi.Device) {
	els := state(t, dev)
	e := find(els, typeStorage, empty)
	need(t, len(e) >= 2, "two empty storage slots")
	wantSense(t, move(dev, e[0].addr, e[1].addr), scsi.IllegalRequest, 0x3B, 0x0E)
}

func moveDestinationFull(t testing.TB, dev scsi.Device) {
	f := find(state(t, dev), typeStorage, full)
	need(t, len(f) >= 2, "two full storage slots")
	wantSense(t, move(dev, f[0].addr, f[1].addr), scsi.IllegalRequest, 0x3B, 0x0D)
}

func moveInvalidAddress(t testing.TB, dev scsi.Device) {
	f := find(state(t, dev), typeStorage, full)
	need(t, len(f) > 0, "a full storage slot")
	wantSense(t, move(dev, f[0].addr, 0xFFFE), scsi.IllegalRequest, 0x21, 0x01)
}

func moveDrive(t testing.TB, dev scsi.Device) {
	els := state(t, dev)
	drives, slots := find(els, typeDrive, func(element) bool { return true }), find(els, typeStorage, empty)
	need(t, len(drives) > 0 && len(slots) > 0, "a drive and an empty storage slot")
	d, e := drives[0], slots[0]
	if !d.full {
		f := find(els, typeStorage, full)
		need(t, len(f) > 0, "a cartridge")
		mustMove(t, dev, f[0].addr, d.addr)
		if got := at(t, state(t, dev), d.addr); !got.full || got.tag != f[0].tag {
			t.Fatalf("drive after load: %+v", got)
		}
		mustMove(t, dev, d.addr, f[0].addr)
		return
	}
	mustMove(t, dev, d.addr, e.addr)
	if got := at(t, state(t, dev), e.addr); !got.full || got.tag != d.tag {
		t.Fatalf("slot after unloading the drive: %+v", got)
	}
	mustMove(t, dev, e.addr, d.addr)
}

func exchangeMedium(t testing.TB, dev scsi.Device) {
	els := state(t, dev)
	f, e := find(els, typeStorage, full), find(els, typeStorage, empty)
	need(t, len(f) >= 2 && len(e) >= 1, "two full slots and an empty one")
	a, b, c := f[0], f[1], e[0]
	cdb := []byte{0xA6, 0, 0, 0, byte(a.addr >> 8), byte(a.addr), byte(b.addr >> 8), byte(b.addr), byte(c.addr >> 8), byte(c.addr), 0, 0}
	mustExec(t, dev, cdb)
	after := state(t, dev)
	if at(t, after, b.addr).tag != a.tag || at(t, after, c.addr).tag != b.tag || at(t, after, a.addr).full {
		t.Fatalf("after EXCHANGE %#x, %#x, %#x: % v", a.addr, b.addr, c.addr, after)
	}
	mustMove(t, dev, b.addr, a.addr)
	mustMove(t, dev, c.addr, b.addr)
}

func positionToElement(t testing.TB, dev scsi.Device) {
	s := find(state(t, dev), typeStorage, func(element) bool { return true })
	mustExec(t, dev, []byte{0x2B, 0, 0, 0, byte(s[0].addr >> 8), byte(s[0].addr), 0, 0, 0, 0})
	_, err := exec(dev, []byte{0x2B, 0, 0, 0, 0xFF, 0xFE, 0, 0, 0, 0}, nil)
	wantSense(t, err, scsi.IllegalRequest, 0x21, 0x01)
}

func initElementStatus(t testing.TB, dev scsi.Device) {
	before := state(t, dev)
	mustExec(t, dev, []byte{0x07, 0, 0, 0, 0, 0})
	s := find(before, typeStorage, func(element) bool { return true })
	mustExec(t, dev, []byte{0x37, 0x01, byte(s[0].addr >> 8), byte(s[0].addr), 0, 0, 0, 1, 0, 0})
	after := state(t, dev)
	for i := range before {
		if !bytes.Equal(before[i].raw, after[i].raw) {
			t.Fatalf("element %#x changed across INITIALIZE ELEMENT STATUS", before[i].addr)
		}
	}
}

func preventAllow(t testing.TB, dev scsi.Device) {
	els := state(t, dev)
	ie, f := find(els, typeIE, empty), find(els, typeStorage, full)
	need(t, len(ie) > 0 && len(f) > 0, "an empty import/export slot")
	mustExec(t, dev, []byte{0x1E, 0, 0, 0, 1, 0})
	err := move(dev, f[0].addr, ie[0].addr)
	mustExec(t, dev, []byte{0x1E, 0, 0, 0, 0, 0})
	wantSense(t, err, scsi.IllegalRequest, 0x53, 0x02)
	mustMove(t, dev, f[0].addr, ie[0].addr)
	mustMove(t, dev, ie[0].addr, f[0].addr)
}

func importExport(t testing.TB, dev scsi.Device) {
	els := state(t, dev)
	ie, f := find(els, typeIE, empty), find(els, typeStorage, full)
	need(t, len(ie) > 0 && len(f) > 0, "an empty import/export slot")
	for _, e := range find(els, typeIE, func(element) bool { return true }) {
		if e.flags&0x08 == 0 {
			t.Fatalf("import/export element %#x: flags %#02x, want ACCESS", e.addr, e.flags)
		}
	}
	mustMove(t, dev, f[0].addr, ie[0].addr)
	got := at(t, state(t, dev), ie[0].addr)
	mustMove(t, dev, ie[0].addr, f[0].addr)
	if !got.full || got.flags&0x02 != 0 || got.tag != f[0].tag {
		t.Fatalf("mail slot after a move in: flags %#02x tag %q, want FULL without IMPEXP", got.flags, got.tag)
	}
}

func requestVolumeAddress(t testing.TB, dev scsi.Device) {
	f := find(state(t, dev), typeStorage, full)
	need(t, len(f) > 0, "a full storage slot")
	tmpl := make([]byte, 40)
	copy(tmpl, f[0].tag)
	for i := len(f[0].tag); i < 32; i++ {
		tmpl[i] = ' '
	}
	send := []byte{0xB6, 0, 0, 0, 0, 0x05, 0, 0, 0, 40, 0, 0}
	if _, err := exec(dev, send, tmpl); err != nil {
		t.Fatalf("SEND VOLUME TAG: %v", err)
	}
	b := mustExec(t, dev, []byte{0xB5, 0x10, 0, 0, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 0, 0})
	if len(b) < 8 || b[4]&0x1F != 0x05 {
		t.Fatalf("REQUEST VOLUME ELEMENT ADDRESS header: % x", b[:min(len(b), 8)])
	}
	els, err := parseStatus(b, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(els) != 1 || els[0].addr != f[0].addr || binary.BigEndian.Uint16(b) != f[0].addr {
		t.Fatalf("volume %q: %d elements reported, want the one at %#x", f[0].tag, len(els), f[0].addr)
	}
}
