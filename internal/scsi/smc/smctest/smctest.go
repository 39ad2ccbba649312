// Package smctest is ferry's media changer conformance suite: checks of
// the SMC-3 behaviour of a medium changer logical unit over any
// scsi.Device (the device itself, a LUN reached over iSCSI, another
// implementation's changer). Each check names the clause it holds the
// device to.
//
// The changer needs a transport, at least two storage slots with a
// cartridge and one empty storage slot; drives and import/export slots
// are used when present. Checks put every cartridge back where it was.
package smctest

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"ferry/internal/scsi"
)

// Config adapts the suite to an implementation.
type Config struct {
	// Skip names checks to skip, with the reason.
	Skip map[string]string
}

// Check is one conformance check.
type Check struct {
	Name   string
	Clause string
	Run    func(t testing.TB, dev scsi.Device)
}

// Checks are the checks Run runs, in order.
func Checks() []Check {
	return []Check{
		{"Inquiry", "SPC-4 6.4.2: peripheral device type 0x08", inquiry},
		{"ElementAddressPage", "SMC-3 7.3.3 element address assignment page", elementAddressPage},
		{"ReadElementStatusAll", "SMC-3 6.11: all element types at once, headers consistent", resAll},
		{"ReadElementStatusPerType", "SMC-3 6.11: one type at a time agrees with all types", resPerType},
		{"ReadElementStatusTruncated", "SMC-3 6.11.2: whole descriptors, byte count of the full report", resTruncated},
		{"ReadElementStatusStart", "SMC-3 6.11: starting address and number of elements", resStart},
		{"VolumeTags", "SMC-3 6.11.5, 7.? primary volume tag of every full element", volumeTags},
		{"MoveMedium", "SMC-3 6.9 MOVE MEDIUM, source address in the destination (SVALID)", moveMedium},
		{"MoveSourceEmpty", "SMC-3 6.9: MEDIUM SOURCE ELEMENT EMPTY 0x3B/0x0E", moveSourceEmpty},
		{"MoveDestinationFull", "SMC-3 6.9: MEDIUM DESTINATION ELEMENT FULL 0x3B/0x0D", moveDestinationFull},
		{"MoveInvalidAddress", "SMC-3 6.9: INVALID ELEMENT ADDRESS 0x21/0x01", moveInvalidAddress},
		{"MoveDrive", "SMC-3 6.9: slot to drive and back", moveDrive},
		{"ExchangeMedium", "SMC-3 6.4 EXCHANGE MEDIUM", exchangeMedium},
		{"PositionToElement", "SMC-3 6.10 POSITION TO ELEMENT", positionToElement},
		{"InitializeElementStatus", "SMC-3 6.5, 6.6 INITIALIZE ELEMENT STATUS (WITH RANGE)", initElementStatus},
		{"PreventAllow", "SMC-3 6.8 PREVENT ALLOW MEDIUM REMOVAL: no moves through the mail slot", preventAllow},
		{"ImportExport", "SMC-3 6.11.4: import/export element flags", importExport},
		{"RequestVolumeElementAddress", "SMC-3 6.12, 6.13 SEND VOLUME TAG translate, REQUEST VOLUME ELEMENT ADDRESS", requestVolumeAddress},
	}
}

// Run runs every check on dev, each as a subtest.
func Run(t *testing.T, dev scsi.Device, c Config) {
	for _, ch := range Checks() {
		t.Run(ch.Name, func(t *testing.T) {
			if why, ok := c.Skip[ch.Name]; ok {
				t.Skip(why)
			}
			ch.Run(t, dev)
		})
	}
}

// exec runs one command.
func exec(dev scsi.Device, cdb, out []byte) (*scsi.Command, error) {
	cmd := &scsi.Command{CDB: cdb, DataOut: out}
	return cmd, dev.Execute(context.Background(), cmd)
}

// mustExec runs a command that must end GOOD and returns its data-in.
func mustExec(t testing.TB, dev scsi.Device, cdb []byte) []byte {
	t.Helper()
	cmd, err := exec(dev, cdb, nil)
	if err != nil {
		t.Fatalf("CDB % x: %v", cdb, err)
	}
	return cmd.DataIn
}

// wantSense fails unless err is CHECK CONDITION with key, ASC and ASCQ.
func wantSense(t testing.TB, err error, key scsi.SenseKey, asc, ascq uint8) {
	t.Helper()
	status, b := scsi.StatusOf(err)
	if status != scsi.StatusCheckCondition {
		t.Fatalf("status %#02x (%v), want CHECK CONDITION %v %#02x/%#02x", status, err, key, asc, ascq)
	}
	s, perr := scsi.ParseSense(b)
	if perr != nil {
		t.Fatalf("sense % x: %v", b, perr)
	}
	if s.Key != key || s.ASC != asc || s.ASCQ != ascq {
		t.Fatalf("sense %v %#02x/%#02x, want %v %#02x/%#02x", s.Key, s.ASC, s.ASCQ, key, asc, ascq)
	}
}

// Element types (SMC-3 table 14).
const (
	typeTransport = 1
	typeStorage   = 2
	typeIE        = 3
	typeDrive     = 4
)

// element is one descriptor of a READ ELEMENT STATUS report.
type element struct {
	typ    byte
	addr   uint16
	flags  byte
	full   bool
	svalid bool
	source uint16
	tag    string // primary volume tag, trimmed
	raw    []byte
}

// assignment is the element address assignment page: first address and
// count per type.
type assignment struct {
	first, count [5]uint16
}

// addresses reads the element address assignment page.
func addresses(t testing.TB, dev scsi.Device) assignment {
	t.Helper()
	b := mustExec(t, dev, []byte{0x1A, 0x08, 0x1D, 0, 255, 0})
	if len(b) < 4+20 || b[4]&0x3F != 0x1D || b[5] != 18 {
		t.Fatalf("element address assignment page: % x", b)
	}
	p := b[4:]
	var a assignment
	for i, typ := range []int{typeTransport, typeStorage, typeIE, typeDrive} {
		a.first[typ] = binary.BigEndian.Uint16(p[2+4*i:])
		a.count[typ] = binary.BigEndian.Uint16(p[4+4*i:])
	}
	return a
}

// res runs READ ELEMENT STATUS and parses it, checking its structure.
func res(t testing.TB, dev scsi.Device, typ byte, voltag bool, start, count uint16) []element {
	t.Helper()
	cdb := []byte{0xB8, typ, byte(start >> 8), byte(start), byte(count >> 8), byte(count), 0, 0, 0xFF, 0xFF, 0, 0}
	if voltag {
		cdb[1] |= 0x10
	}
	els, err := parseStatus(mustExec(t, dev, cdb), voltag)
	if err != nil {
		t.Fatalf("READ ELEMENT STATUS type %d: %v", typ, err)
	}
	return els
}

// CheckElementStatus checks the structure of READ ELEMENT STATUS data
// (or REQUEST VOLUME ELEMENT ADDRESS data) returned whole: the header's
// counts, each page's descriptor length and byte count, the descriptors.
func CheckElementStatus(b []byte, voltag bool) error {
	_, err := parseStatus(b, voltag)
	return err
}

// parseStatus parses element status data (SMC-3 6.11.2-6.11.4) and
// checks that the header, the page headers and the descriptors agree.
func parseStatus(b []byte, voltag bool) ([]element, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%d bytes, shorter than the header", len(b))
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if count := int(b[5])<<16 | int(b[6])<<8 | int(b[7]); count != len(b)-8 {
		return nil, fmt.Errorf("byte count of report available %d, data after the header %d", count, len(b)-8)
	}
	var els []element
	for p := b[8:]; len(p) > 0; {
		if len(p) < 8 {
			return nil, fmt.Errorf("page header cut: % x", p)
		}
		typ, pvol := p[0], p[1]&0x80 != 0
		dl := int(binary.BigEndian.Uint16(p[2:]))
		bc := int(p[5])<<16 | int(p[6])<<8 | int(p[7])
		switch {
		case typ < 1 || typ > 4:
			return nil, fmt.Errorf("page of element type %d", typ)
		case pvol != voltag:
			return nil, fmt.Errorf("PVOLTAG %v, asked %v", pvol, voltag)
		case dl < 12 || voltag && dl < 48 || bc%dl != 0 || 8+bc > len(p):
			return nil, fmt.Errorf("type %d page: descriptor length %d, byte count %d, %d bytes left", typ, dl, bc, len(p)-8)
		}
		for d := p[8 : 8+bc]; len(d) > 0; d = d[dl:] {
			els = append(els, descriptor(typ, d[:dl], voltag))
		}
		p = p[8+bc:]
	}
	if len(els) != n {
		return nil, fmt.Errorf("header reports %d elements, pages hold %d", n, len(els))
	}
	if n > 0 && els[0].addr != binary.BigEndian.Uint16(b) {
		return nil, fmt.Errorf("first element address %#x, first descriptor %#x", binary.BigEndian.Uint16(b), els[0].addr)
	}
	return els, nil
}

// descriptor decodes one element descriptor.
func descriptor(typ byte, d []byte, voltag bool) element {
	e := element{typ: typ, addr: binary.BigEndian.Uint16(d), flags: d[2], full: d[2]&0x01 != 0,
		svalid: d[9]&0x80 != 0, source: binary.BigEndian.Uint16(d[10:]), raw: d}
	if voltag {
		tag := d[12:44]
		end := len(tag)
		for end > 0 && (tag[end-1] == ' ' || tag[end-1] == 0) {
			end--
		}
		e.tag = string(tag[:end])
	}
	return e
}

// find returns the elements of a type matching f.
func find(els []element, typ byte, f func(element) bool) []element {
	var out []element
	for _, e := range els {
		if e.typ == typ && f(e) {
			out = append(out, e)
		}
	}
	return out
}

func full(e element) bool  { return e.full }
func empty(e element) bool { return !e.full }

// move runs MOVE MEDIUM with the default transport.
func move(dev scsi.Device, src, dst uint16) error {
	_, err := exec(dev, []byte{0xA5, 0, 0, 0, byte(src >> 8), byte(src), byte(dst >> 8), byte(dst), 0, 0, 0, 0}, nil)
	return err
}

// mustMove moves a cartridge and fails the test if it cannot.
func mustMove(t testing.TB, dev scsi.Device, src, dst uint16) {
	t.Helper()
	if err := move(dev, src, dst); err != nil {
		t.Fatalf("MOVE MEDIUM %#x to %#x: %v", src, dst, err)
	}
}

// state returns the elements that hold cartridges (storage, import/export,
// drives) with volume tags, asking for one element type at a time: the
// all-types and transport reports have checks of their own.
func state(t testing.TB, dev scsi.Device) []element {
	t.Helper()
	var els []element
	for typ := byte(typeStorage); typ <= typeDrive; typ++ {
		els = append(els, res(t, dev, typ, true, 0, 0xFFFF)...)
	}
	return els
}

// at returns the element at addr.
func at(t testing.TB, els []element, addr uint16) element {
	t.Helper()
	for _, e := range els {
		if e.addr == addr {
			return e
		}
	}
	t.Fatalf("no element at %#x", addr)
	return element{}
}

// need fails the check's preconditions as a skip.
func need(t testing.TB, ok bool, what string) {
	t.Helper()
	if !ok {
		t.Skip("changer lacks " + what)
	}
}
