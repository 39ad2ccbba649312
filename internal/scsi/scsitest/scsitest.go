// Package scsitest is the conformance harness every ferry SCSI device
// type runs (changer, tape, disk): Run checks what SPC-4 asks of all of
// them, and the helpers execute CDBs and check sense in table tests.
package scsitest

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"testing"

	"ferry/internal/scsi"
)

// Exec runs one command on dev.
func Exec(dev scsi.Device, cdb, dataOut []byte) (*scsi.Command, error) {
	cmd := &scsi.Command{CDB: cdb, DataOut: dataOut}
	return cmd, dev.Execute(context.Background(), cmd)
}

// MustExec runs one command and fails the test unless it is GOOD.
func MustExec(t testing.TB, dev scsi.Device, cdb, dataOut []byte) []byte {
	t.Helper()
	cmd, err := Exec(dev, cdb, dataOut)
	if err != nil {
		t.Fatalf("CDB % x: %v", cdb, err)
	}
	return cmd.DataIn
}

// WantSense fails the test unless err is CHECK CONDITION with the key,
// ASC and ASCQ, checks that the fixed-format bytes StatusOf produces
// decode to the same, and returns the sense.
func WantSense(t testing.TB, err error, key scsi.SenseKey, asc, ascq uint8) *scsi.Sense {
	t.Helper()
	status, b := scsi.StatusOf(err)
	if status != scsi.StatusCheckCondition {
		t.Fatalf("status %#x (err %v), want CHECK CONDITION %v %#02x/%#02x", status, err, key, asc, ascq)
	}
	s, perr := scsi.ParseSense(b)
	if perr != nil {
		t.Fatalf("sense % x: %v", b, perr)
	}
	if s.Key != key || s.ASC != asc || s.ASCQ != ascq {
		t.Fatalf("sense %v, want %v %#02x/%#02x", err, key, asc, ascq)
	}
	return s
}

// WantField fails the test unless the sense points at the CDB (or
// parameter list) byte and, when bit >= 0, bit.
func WantField(t testing.TB, s *scsi.Sense, inCDB bool, byteIdx, bit int) {
	t.Helper()
	f := s.Field
	switch {
	case f == nil:
		t.Fatalf("%v: no field pointer, want byte %d", s, byteIdx)
	case f.CDB != inCDB || int(f.Byte) != byteIdx:
		t.Fatalf("%v: field pointer %+v, want CDB=%v byte %d", s, *f, inCDB, byteIdx)
	case bit >= 0 && (!f.BitValid || int(f.Bit) != bit):
		t.Fatalf("%v: field pointer %+v, want bit %d", s, *f, bit)
	}
}

// AllocCDB is a CDB with an allocation length, for the truncation check.
type AllocCDB struct {
	Name  string
	CDB   []byte // with any allocation length; Run sets it
	Alloc scsi.Field
	// Optional skips the check when the device refuses the CDB with
	// ILLEGAL REQUEST.
	Optional bool
}

// Expect says what Run should find.
type Expect struct {
	Type     scsi.DeviceType
	Vendor   string // checked when not empty
	Product  string // checked when not empty
	Serial   string // checked against VPD page 0x80 when not empty
	NotReady bool   // TEST UNIT READY may answer NOT READY
	// Unsupported are operation codes the device must refuse with
	// INVALID COMMAND OPERATION CODE; nil uses a few vendor-specific ones.
	Unsupported []byte
	// Alloc lists more CDBs whose data-in must be truncated by their
	// allocation length (INQUIRY, REQUEST SENSE and REPORT LUNS are
	// always checked).
	Alloc []AllocCDB
}

// check is one conformance check.
type check struct {
	name string
	run  func(t testing.TB, dev scsi.Device, e Expect)
}

// checks are the conformance checks Run runs, in order.
func checks() []check {
	return []check{
		{"StandardInquiry", standardInquiry},
		{"InquiryFieldChecks", inquiryFieldChecks},
		{"VPD", vpdPages},
		{"DeviceIdentification", deviceIdentification},
		{"UnknownOpcode", unknownOpcodes},
		{"MalformedCDB", malformedCDB},
		{"TestUnitReady", testUnitReady},
		{"RequestSense", requestSense},
		{"ReportLUNs", reportLUNs},
		{"SupportedOpcodes", supportedOpcodes},
		{"AllocationLength", allocation},
		{"Concurrent", concurrent},
	}
}

// Run runs the conformance suite on dev, one subtest per check.
func Run(t *testing.T, dev scsi.Device, e Expect) {
	for _, c := range checks() {
		t.Run(c.name, func(t *testing.T) { c.run(t, dev, e) })
	}
}

func standardInquiry(t testing.TB, dev scsi.Device, e Expect) {
	b := MustExec(t, dev, []byte{0x12, 0, 0, 0, 255, 0}, nil)
	if len(b) < 36 {
		t.Fatalf("standard INQUIRY data is %d bytes, want >= 36", len(b))
	}
	checks := []struct {
		ok   bool
		what string
	}{
		{b[0]>>5 == 0, "peripheral qualifier 0"},
		{scsi.DeviceType(b[0]&0x1F) == e.Type, "device type"},
		{b[2] >= 0x05, "VERSION >= SPC-3"},
		{b[3]&0x0F == 2, "response data format 2"},
		{int(b[4])+5 == len(b), "additional length matches the data"},
		{printable(b[8:36]), "vendor, product and revision printable ASCII"},
		{e.Vendor == "" || string(bytes.TrimRight(b[8:16], " ")) == e.Vendor, "vendor " + e.Vendor},
		{e.Product == "" || string(bytes.TrimRight(b[16:32], " ")) == e.Product, "product " + e.Product},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("standard INQUIRY: want %s; data % x", c.what, b)
		}
	}
}

// printable reports whether b is printable ASCII.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return false
		}
	}
	return true
}

func inquiryFieldChecks(t testing.TB, dev scsi.Device, _ Expect) {
	_, err := Exec(dev, []byte{0x12, 0, 0x80, 0, 255, 0}, nil)
	WantField(t, WantSense(t, err, scsi.IllegalRequest, 0x24, 0), true, 2, -1)
	_, err = Exec(dev, []byte{0x12, 0x02, 0, 0, 255, 0}, nil)
	WantField(t, WantSense(t, err, scsi.IllegalRequest, 0x24, 0), true, 1, 1)
	supported := MustExec(t, dev, []byte{0x12, 1, 0, 0, 255, 0}, nil)
	for code := 0xFE; code >= 0x01; code-- {
		if !slices.Contains(supported[4:], byte(code)) {
			_, err = Exec(dev, []byte{0x12, 1, byte(code), 0, 255, 0}, nil)
			WantField(t, WantSense(t, err, scsi.IllegalRequest, 0x24, 0), true, 2, -1)
			return
		}
	}
}

func vpdPages(t testing.TB, dev scsi.Device, e Expect) {
	b := MustExec(t, dev, []byte{0x12, 1, 0, 0, 255, 0}, nil)
	if len(b) < 4 || b[1] != 0 || int(binary.BigEndian.Uint16(b[2:]))+4 != len(b) {
		t.Fatalf("VPD page 0x00 malformed: % x", b)
	}
	codes := b[4:]
	if !slices.IsSorted(codes) || !slices.Contains(codes, 0x00) || !slices.Contains(codes, 0x83) {
		t.Fatalf("VPD page 0x00 lists % x, want ascending with 0x00 and 0x83", codes)
	}
	for _, c := range codes {
		p := MustExec(t, dev, []byte{0x12, 1, c, 0xFF, 0xFF, 0}, nil)
		if len(p) < 4 || scsi.DeviceType(p[0]&0x1F) != e.Type || p[1] != c || int(binary.BigEndian.Uint16(p[2:]))+4 != len(p) {
			t.Errorf("VPD page %#02x malformed: % x", c, p)
		}
		if c == 0x80 && (!printable(p[4:]) || e.Serial != "" && string(bytes.TrimSpace(p[4:])) != e.Serial) {
			t.Errorf("unit serial number page: % x, want %q", p, e.Serial)
		}
	}
}

func deviceIdentification(t testing.TB, dev scsi.Device, _ Expect) {
	p := MustExec(t, dev, []byte{0x12, 1, 0x83, 0xFF, 0xFF, 0}, nil)
	found := false
	for d := p[4:]; len(d) > 0; {
		if len(d) < 4 || len(d) < 4+int(d[3]) {
			t.Fatalf("designation descriptor overruns the page: % x", p)
		}
		assoc, typ := d[1]>>4&3, d[1]&0x0F
		if assoc == 0 && (typ == 1 || typ == 2 || typ == 3 || typ == 8) && d[3] > 0 {
			found = true
		}
		d = d[4+int(d[3]):]
	}
	if !found {
		t.Fatalf("no logical unit designator (T10, EUI-64, NAA or SCSI name) in % x", p)
	}
}

func unknownOpcodes(t testing.TB, dev scsi.Device, e Expect) {
	ops := e.Unsupported
	if ops == nil {
		ops = []byte{0xC5, 0xE7, 0xFE}
	}
	for _, op := range ops {
		cdb := make([]byte, 16)
		cdb[0] = op
		_, err := Exec(dev, cdb, nil)
		WantSense(t, err, scsi.IllegalRequest, 0x20, 0)
	}
}

func malformedCDB(t testing.TB, dev scsi.Device, _ Expect) {
	_, err := Exec(dev, nil, nil)
	WantSense(t, err, scsi.IllegalRequest, 0x20, 0)
	_, err = Exec(dev, []byte{0x12, 0, 0}, nil) // short INQUIRY
	if s, ok := scsi.SenseOf(err); !ok || s.Key != scsi.IllegalRequest {
		t.Errorf("short INQUIRY CDB: %v, want ILLEGAL REQUEST", err)
	}
	_, err = Exec(dev, []byte{0x12, 0, 0, 0, 36, 0x04}, nil) // NACA
	WantField(t, WantSense(t, err, scsi.IllegalRequest, 0x24, 0), true, 5, 2)
}

func testUnitReady(t testing.TB, dev scsi.Device, e Expect) {
	_, err := Exec(dev, make([]byte, 6), nil)
	if err == nil {
		return
	}
	s, ok := scsi.SenseOf(err)
	if !e.NotReady || !ok || s.Key != scsi.NotReady {
		t.Fatalf("TEST UNIT READY: %v", err)
	}
}

func requestSense(t testing.TB, dev scsi.Device, _ Expect) {
	b := MustExec(t, dev, []byte{0x03, 0, 0, 0, 252, 0}, nil)
	if len(b) < 18 || b[0]&0x7F != 0x70 || int(b[7])+8 != len(b) {
		t.Fatalf("REQUEST SENSE: % x, want fixed format", b)
	}
	if s, _ := scsi.ParseSense(b); s.Key != scsi.NoSense {
		t.Errorf("REQUEST SENSE after nothing failed: %v", s)
	}
	cmd, err := Exec(dev, []byte{0x03, 1, 0, 0, 252, 0}, nil)
	if err == nil && (len(cmd.DataIn) < 8 || cmd.DataIn[0]&0x7F != 0x72) {
		t.Errorf("REQUEST SENSE DESC=1: % x, want descriptor format", cmd.DataIn)
	} else if err != nil {
		WantSense(t, err, scsi.IllegalRequest, 0x24, 0)
	}
}

func reportLUNs(t testing.TB, dev scsi.Device, _ Expect) {
	b := MustExec(t, dev, []byte{0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, nil)
	n := binary.BigEndian.Uint32(b)
	if n%8 != 0 || len(b) != 8+int(n) || n == 0 {
		t.Fatalf("REPORT LUNS: % x", b)
	}
	_, err := Exec(dev, []byte{0xA0, 0, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0}, nil)
	WantField(t, WantSense(t, err, scsi.IllegalRequest, 0x24, 0), true, 2, -1)
}

// supportedOpcodes checks that REPORT SUPPORTED OPERATION CODES, when the
// device has it, agrees with itself: every command the list names is
// reported supported, with the same CDB length, when asked for alone.
func supportedOpcodes(t testing.TB, dev scsi.Device, _ Expect) {
	cmd, err := Exec(dev, []byte{0xA3, 0x0C, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, nil)
	if s, ok := scsi.SenseOf(err); ok && s.Key == scsi.IllegalRequest {
		t.Skip("REPORT SUPPORTED OPERATION CODES not supported")
	} else if err != nil {
		t.Fatal(err)
	}
	b := cmd.DataIn
	if len(b) < 4 || int(binary.BigEndian.Uint32(b))+4 != len(b) || (len(b)-4)%8 != 0 {
		t.Fatalf("all commands data malformed: % x", b)
	}
	for d := b[4:]; len(d) >= 8; d = d[8:] {
		opts := byte(1)
		if d[5]&0x01 != 0 {
			opts = 2
		}
		one := MustExec(t, dev, []byte{0xA3, 0x0C, opts, d[0], d[2], d[3], 0, 0, 1, 0, 0, 0}, nil)
		if len(one) < 4 || one[1]&0x07 != 0x03 || !bytes.Equal(one[2:4], d[6:8]) || len(one) != 4+int(binary.BigEndian.Uint16(one[2:])) || one[4] != d[0] {
			t.Errorf("opcode %#02x/%#02x listed but reported as % x", d[0], d[3], one)
		}
	}
}

// builtinAlloc are the commands every device truncates.
var builtinAlloc = []AllocCDB{
	{"INQUIRY", []byte{0x12, 0, 0, 0, 0, 0}, scsi.AllocInquiry, false},
	{"INQUIRY VPD 0x83", []byte{0x12, 1, 0x83, 0, 0, 0}, scsi.AllocInquiry, false},
	{"REQUEST SENSE", []byte{0x03, 0, 0, 0, 0, 0}, scsi.Alloc6, false},
	{"REPORT LUNS", []byte{0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, scsi.Alloc12, false},
	{"REPORT SUPPORTED OPERATION CODES", []byte{0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, scsi.Alloc12, true},
}

func allocation(t testing.TB, dev scsi.Device, e Expect) {
	for _, c := range append(builtinAlloc, e.Alloc...) {
		checkAlloc(t, dev, c)
	}
}

// checkAlloc runs a CDB with a large allocation length, then with shorter
// ones: each answer must fit the allocation length and be a prefix of the
// full answer.
func checkAlloc(t testing.TB, dev scsi.Device, c AllocCDB) {
	if c.Optional {
		_, err := Exec(dev, withAlloc(c, 0xFFFF), nil)
		if s, ok := scsi.SenseOf(err); ok && s.Key == scsi.IllegalRequest {
			return // not supported
		}
	}
	full := MustExec(t, dev, withAlloc(c, 0xFFFF), nil)
	for _, n := range []int{0, 1, 4, 7, 8, 16, len(full) - 1, len(full), len(full) + 1} {
		if n < 0 {
			continue
		}
		got := MustExec(t, dev, withAlloc(c, uint32(n)), nil)
		if len(got) > n || !bytes.HasPrefix(full, got) {
			t.Errorf("%s: allocation length %d: % x, want a prefix of % x", c.Name, n, got, full)
		}
		if n >= len(full) && len(got) != len(full) {
			t.Errorf("%s: allocation length %d: %d bytes, want all %d", c.Name, n, len(got), len(full))
		}
	}
}

// withAlloc returns a copy of the CDB with the allocation length set.
func withAlloc(c AllocCDB, n uint32) []byte {
	cdb := slices.Clone(c.CDB)
	for i := c.Alloc.Size - 1; i >= 0; i-- {
		cdb[c.Alloc.Offset+i] = byte(n)
		n >>= 8
	}
	return cdb
}

func concurrent(t testing.TB, dev scsi.Device, _ Expect) {
	want := MustExec(t, dev, []byte{0x12, 0, 0, 0, 255, 0}, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				cmd, err := Exec(dev, []byte{0x12, 0, 0, 0, 255, 0}, nil)
				if err != nil || !bytes.Equal(cmd.DataIn, want) {
					t.Errorf("concurrent INQUIRY: % x, %v", cmd.DataIn, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
