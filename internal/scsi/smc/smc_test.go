package smc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"ferry/internal/changer"
	"ferry/internal/scsi"
	"ferry/internal/scsi/scsitest"
)

// countingChanger is a Memory that counts INITIALIZE ELEMENT STATUS calls
// and can be made to fail.
type countingChanger struct {
	*Memory
	inits int
	fail  error
}

func (c *countingChanger) InitializeElementStatus() error {
	c.inits++
	return c.fail
}

func (c *countingChanger) Elements() ([]changer.Element, error) {
	if c.fail != nil {
		return nil, c.fail
	}
	return c.Memory.Elements()
}

// newDevice returns a changer device over a library of 2 drives, 4 slots
// and a mail slot, with A00001 in 0x1000, A00002 in 0x1001 and an
// unlabelled cartridge in 0x1002.
func newDevice(t testing.TB) (*Device, *countingChanger) {
	t.Helper()
	c := changer.New(changer.Layout{Drives: []string{"tape0", "tape1"}, Slots: 4, ImportExport: 1})
	for addr, b := range map[uint16]string{0x1000: "A00001", 0x1001: "A00002", 0x1002: ""} {
		if err := c.Place(addr, b); err != nil {
			t.Fatal(err)
		}
	}
	cc := &countingChanger{Memory: NewMemory(c)}
	return New(cc, Identity{Serial: "CHG0001"}), cc
}

func res(voltag bool, typ byte, start, count uint16, alloc uint32) []byte {
	cdb := []byte{OpReadElementStatus, typ, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if voltag {
		cdb[1] |= 0x10
	}
	binary.BigEndian.PutUint16(cdb[2:], start)
	binary.BigEndian.PutUint16(cdb[4:], count)
	cdb[7], cdb[8], cdb[9] = byte(alloc>>16), byte(alloc>>8), byte(alloc)
	return cdb
}

func move(transport, src, dst uint16) []byte {
	cdb := make([]byte, 12)
	cdb[0] = OpMoveMedium
	binary.BigEndian.PutUint16(cdb[2:], transport)
	binary.BigEndian.PutUint16(cdb[4:], src)
	binary.BigEndian.PutUint16(cdb[6:], dst)
	return cdb
}

func exchange(src, dst1, dst2 uint16) []byte {
	cdb := make([]byte, 12)
	cdb[0] = OpExchangeMedium
	binary.BigEndian.PutUint16(cdb[4:], src)
	binary.BigEndian.PutUint16(cdb[6:], dst1)
	binary.BigEndian.PutUint16(cdb[8:], dst2)
	return cdb
}

func TestConformance(t *testing.T) {
	dev, _ := newDevice(t)
	scsitest.Run(t, dev, scsitest.Expect{
		Type: scsi.MediumChanger, Vendor: "FERRY", Product: "VIRTUAL CHANGER", Serial: "CHG0001",
		Alloc: []scsitest.AllocCDB{
			{Name: "READ ELEMENT STATUS", CDB: res(true, 0, 0, 0xFFFF, 0), Alloc: allocRES},
			{Name: "READ ELEMENT STATUS no voltag", CDB: res(false, 0, 0, 0xFFFF, 0), Alloc: allocRES},
			{Name: "MODE SENSE(6)", CDB: []byte{0x1A, 0x08, 0x3F, 0, 0, 0}, Alloc: scsi.Alloc6},
			{Name: "MODE SENSE(10)", CDB: []byte{0x5A, 0x08, 0x3F, 0, 0, 0, 0, 0, 0, 0}, Alloc: scsi.Alloc10},
		},
	})
}

func TestInquiryIsAChanger(t *testing.T) {
	dev, _ := newDevice(t)
	// ndmjob's smc_inquire: 6-byte INQUIRY, allocation 128, byte 0 must be 0x08.
	b := scsitest.MustExec(t, dev, []byte{0x12, 0, 0, 0, 128, 0}, nil)
	if b[0] != 0x08 || len(b) != 96 {
		t.Fatalf("INQUIRY: % x", b)
	}
	if got := string(b[8:36]); got != "FERRY   VIRTUAL CHANGER 0001" {
		t.Fatalf("identification %q", got)
	}
	if !bytes.Equal(b[58:64], []byte{0x00, 0xA0, 0x04, 0x60, 0x04, 0x80}) {
		t.Fatalf("version descriptors % x", b[58:64])
	}
}

func TestModeSenseElementAddressAssignment(t *testing.T) {
	dev, _ := newDevice(t)
	// The exact CDB ndmjob's smc_get_elem_aa sends.
	got := scsitest.MustExec(t, dev, []byte{0x1A, 0x08, 0x1D, 0x00, 0xFF, 0x00}, nil)
	want := []byte{
		23, 0, 0, 0, // mode data length, medium type, device-specific, block descriptor length
		0x1D, 0x12,
		0x00, 0x01, 0x00, 0x01, // transport 0x0001, 1
		0x10, 0x00, 0x00, 0x04, // storage 0x1000, 4
		0x00, 0x10, 0x00, 0x01, // import/export 0x0010, 1
		0x01, 0x00, 0x00, 0x02, // data transfer 0x0100, 2
		0x00, 0x00,
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("MODE SENSE(6) 0x1D\n got % x\nwant % x", got, want)
	}
}

func TestModeSense(t *testing.T) {
	dev, _ := newDevice(t)
	geometry := []byte{0x1E, 0x02, 0x00, 0x00}
	caps := []byte{0x1F, 0x12, 0x0F, 0, 0x0F, 0x0F, 0x0F, 0x0F, 0, 0, 0, 0, 0x0F, 0x0F, 0x0F, 0x0F, 0, 0, 0, 0}
	t.Run("geometry", func(t *testing.T) {
		got := scsitest.MustExec(t, dev, []byte{0x1A, 0x08, 0x1E, 0, 0xFF, 0}, nil)
		if want := append([]byte{7, 0, 0, 0}, geometry...); !bytes.Equal(got, want) {
			t.Fatalf("got % x\nwant % x", got, want)
		}
	})
	t.Run("capabilities 10-byte", func(t *testing.T) {
		got := scsitest.MustExec(t, dev, []byte{0x5A, 0x00, 0x1F, 0, 0, 0, 0, 0, 0xFF, 0}, nil)
		if want := append([]byte{0, 26, 0, 0, 0, 0, 0, 0}, caps...); !bytes.Equal(got, want) {
			t.Fatalf("got % x\nwant % x", got, want)
		}
	})
	t.Run("all pages", func(t *testing.T) {
		got := scsitest.MustExec(t, dev, []byte{0x1A, 0x00, 0x3F, 0, 0xFF, 0}, nil)
		if len(got) != 4+20+4+20 || got[0] != 47 || got[4] != 0x1D || got[24] != 0x1E || got[28] != 0x1F {
			t.Fatalf("all pages: % x", got)
		}
		all := scsitest.MustExec(t, dev, []byte{0x1A, 0x00, 0x3F, 0xFF, 0xFF, 0}, nil)
		if !bytes.Equal(all, got) {
			t.Fatalf("all pages and subpages differ: % x", all)
		}
	})
	t.Run("changeable", func(t *testing.T) {
		got := scsitest.MustExec(t, dev, []byte{0x1A, 0x08, 0x40 | 0x1D, 0, 0xFF, 0}, nil)
		if want := append([]byte{23, 0, 0, 0, 0x1D, 0x12}, make([]byte, 18)...); !bytes.Equal(got, want) {
			t.Fatalf("got % x", got)
		}
	})
	t.Run("default", func(t *testing.T) {
		cur := scsitest.MustExec(t, dev, []byte{0x1A, 0x08, 0x1F, 0, 0xFF, 0}, nil)
		def := scsitest.MustExec(t, dev, []byte{0x1A, 0x08, 0x80 | 0x1F, 0, 0xFF, 0}, nil)
		if !bytes.Equal(cur, def) {
			t.Fatalf("default % x differs from current % x", def, cur)
		}
	})
	errs := []struct {
		name       string
		cdb        []byte
		asc        uint8
		byteN, bit int
	}{
		{"saved values", []byte{0x1A, 0x08, 0xC0 | 0x1D, 0, 0xFF, 0}, 0x39, 2, 7},
		{"unknown page", []byte{0x1A, 0x08, 0x08, 0, 0xFF, 0}, 0x24, 2, 5},
		{"subpage", []byte{0x1A, 0x08, 0x1D, 0x01, 0xFF, 0}, 0x24, 3, 7},
		{"unknown page 10", []byte{0x5A, 0x08, 0x01, 0, 0, 0, 0, 0, 0xFF, 0}, 0x24, 2, 5},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) {
			_, err := scsitest.Exec(dev, e.cdb, nil)
			scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, e.asc, 0), true, e.byteN, e.bit)
		})
	}
}

func TestModeSelect(t *testing.T) {
	dev, _ := newDevice(t)
	current := scsitest.MustExec(t, dev, []byte{0x1A, 0x08, 0x3F, 0, 0xFF, 0}, nil)
	list := bytes.Clone(current)
	list[0] = 0 // mode data length is reserved in MODE SELECT
	sel6 := func(n int) []byte { return []byte{0x15, 0x10, 0, 0, byte(n), 0} }
	if _, err := scsitest.Exec(dev, sel6(len(list)), list); err != nil {
		t.Fatalf("restating the current pages: %v", err)
	}
	if _, err := scsitest.Exec(dev, sel6(0), nil); err != nil {
		t.Fatalf("empty parameter list: %v", err)
	}
	list10 := append([]byte{0, 0, 0, 0, 0, 0, 0, 0}, current[4:]...)
	if _, err := scsitest.Exec(dev, []byte{0x55, 0x10, 0, 0, 0, 0, 0, 0, byte(len(list10)), 0}, list10); err != nil {
		t.Fatalf("MODE SELECT(10): %v", err)
	}
	changed := bytes.Clone(list)
	changed[4+8] = 0x20 // first storage element address, MSB
	_, err := scsitest.Exec(dev, sel6(len(changed)), changed)
	scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x26, 0), false, 12, -1)

	bd := bytes.Clone(list)
	bd[3] = 8
	_, err = scsitest.Exec(dev, sel6(len(bd)), bd)
	scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x26, 0), false, 3, -1)

	unknown := []byte{0, 0, 0, 0, 0x02, 0x02, 0, 0}
	_, err = scsitest.Exec(dev, sel6(len(unknown)), unknown)
	scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x26, 0), false, 4, 5)

	_, err = scsitest.Exec(dev, sel6(len(list)), list[:10]) // initiator sent less
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x1A, 0)
	_, err = scsitest.Exec(dev, sel6(len(list)-3), list) // page cut by the length
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x1A, 0)

	_, err = scsitest.Exec(dev, []byte{0x15, 0x11, 0, 0, byte(len(list)), 0}, list)
	scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x24, 0), true, 1, 0)
	_, err = scsitest.Exec(dev, []byte{0x15, 0x00, 0, 0, byte(len(list)), 0}, list)
	scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x24, 0), true, 1, 4)
}

func TestPreventAllow(t *testing.T) {
	dev, cc := newDevice(t)
	scsitest.MustExec(t, dev, []byte{0x1E, 0, 0, 0, 0x01, 0}, nil)
	scsitest.MustExec(t, dev, move(0, 0x1000, 0x0100), nil) // drives are fine
	_, err := scsitest.Exec(dev, move(0, 0x1001, 0x0010), nil)
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x53, 0x02)
	_, err = scsitest.Exec(dev, exchange(0x1001, 0x0100, 0x0010), nil)
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x53, 0x02)
	scsitest.MustExec(t, dev, []byte{0x1E, 0, 0, 0, 0x00, 0}, nil)
	scsitest.MustExec(t, dev, move(0, 0x1001, 0x0010), nil)
	_, err = scsitest.Exec(dev, []byte{0x1E, 0, 0, 0, 0x02, 0}, nil)
	scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x24, 0), true, 4, 1)
	if els, _ := cc.Elements(); !els[1].Full || els[1].Barcode != "A00002" {
		t.Fatalf("mail slot after the allowed move: %+v", els[1])
	}
}

func TestMoveMedium(t *testing.T) {
	tests := []struct {
		name      string
		cdb       []byte
		asc, ascq uint8 // 0/0: GOOD
		fieldByte int   // -1: no field pointer checked
		fieldBit  int
	}{
		{"slot to drive, default transport", move(0, 0x1000, 0x0100), 0, 0, -1, -1},
		{"slot to drive, transport 1", move(1, 0x1000, 0x0101), 0, 0, -1, -1},
		{"to mail slot", move(0, 0x1001, 0x0010), 0, 0, -1, -1},
		{"source empty", move(0, 0x1003, 0x0100), 0x3B, 0x0E, -1, -1},
		{"destination full", move(0, 0x1000, 0x1001), 0x3B, 0x0D, -1, -1},
		{"bad source", move(0, 0x2000, 0x0100), 0x21, 0x01, 4, -1},
		{"bad destination", move(0, 0x1000, 0x0102), 0x21, 0x01, 6, -1},
		{"transport is a slot", move(0x1000, 0x1000, 0x0100), 0x21, 0x01, 2, -1},
		{"invert", append(move(0, 0x1000, 0x0100)[:10], 0x01, 0), 0x24, 0, 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev, _ := newDevice(t)
			_, err := scsitest.Exec(dev, tt.cdb, nil)
			if tt.asc == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			s := scsitest.WantSense(t, err, scsi.IllegalRequest, tt.asc, tt.ascq)
			if tt.fieldByte >= 0 {
				scsitest.WantField(t, s, true, tt.fieldByte, tt.fieldBit)
			}
		})
	}
}

func TestMoveOutOfOpenDrive(t *testing.T) {
	dev, cc := newDevice(t)
	scsitest.MustExec(t, dev, move(0, 0x1000, 0x0100), nil)
	cc.SetDriveOpen(0x0100, true)
	_, err := scsitest.Exec(dev, move(0, 0x0100, 0x1000), nil)
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x53, 0x02)
	cc.SetDriveOpen(0x0100, false)
	scsitest.MustExec(t, dev, move(0, 0x0100, 0x1000), nil)
}

func TestExchangeMedium(t *testing.T) {
	dev, cc := newDevice(t)
	scsitest.MustExec(t, dev, exchange(0x1000, 0x1001, 0x1000), nil)
	els, _ := cc.Elements()
	if els[4].Barcode != "A00002" || els[5].Barcode != "A00001" {
		t.Fatalf("after swap: %+v %+v", els[4], els[5])
	}
	_, err := scsitest.Exec(dev, exchange(0x1000, 0x1001, 0x1002), nil)
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x3B, 0x0D)
	_, err = scsitest.Exec(dev, exchange(0x1003, 0x1001, 0x1003), nil)
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x3B, 0x0E)
	_, err = scsitest.Exec(dev, exchange(0x1000, 0x1001, 0x9000), nil)
	scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x21, 0x01), true, 8, -1)
	for bit, b := range []byte{0x01, 0x02} {
		cdb := exchange(0x1000, 0x1001, 0x1000)
		cdb[10] = b
		_, err = scsitest.Exec(dev, cdb, nil)
		scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x24, 0), true, 10, bit)
	}
}

func TestPositionToElement(t *testing.T) {
	dev, _ := newDevice(t)
	scsitest.MustExec(t, dev, []byte{0x2B, 0, 0, 0, 0x10, 0x00, 0, 0, 0, 0}, nil)
	_, err := scsitest.Exec(dev, []byte{0x2B, 0, 0, 0, 0x30, 0x00, 0, 0, 0, 0}, nil)
	scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x21, 0x01), true, 4, -1)
	_, err = scsitest.Exec(dev, []byte{0x2B, 0, 0, 0, 0x10, 0x00, 0, 0, 0x01, 0}, nil)
	scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x24, 0), true, 8, 0)
}

func TestInitializeElementStatus(t *testing.T) {
	dev, cc := newDevice(t)
	scsitest.MustExec(t, dev, []byte{0x07, 0, 0, 0, 0, 0}, nil)
	scsitest.MustExec(t, dev, []byte{0x37, 0x01, 0x10, 0x00, 0, 0, 0, 4, 0, 0}, nil)
	scsitest.MustExec(t, dev, []byte{0x37, 0x00, 0x77, 0x77, 0, 0, 0, 0, 0, 0}, nil) // RANGE=0 ignores the address
	if cc.inits != 3 {
		t.Fatalf("InitializeElementStatus called %d times, want 3", cc.inits)
	}
	_, err := scsitest.Exec(dev, []byte{0x37, 0x01, 0x77, 0x77, 0, 0, 0, 1, 0, 0}, nil)
	scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x21, 0x01), true, 2, -1)
}

func TestLibraryFailure(t *testing.T) {
	dev, cc := newDevice(t)
	cc.fail = errors.New("library: state file unreadable")
	for _, cdb := range [][]byte{{0x07, 0, 0, 0, 0, 0}, res(true, 0, 0, 10, 1000), move(0, 0x1000, 0x0100)} {
		_, err := scsitest.Exec(dev, cdb, nil)
		scsitest.WantSense(t, err, scsi.HardwareError, 0x44, 0)
		if !errors.Is(err, cc.fail) {
			t.Errorf("CDB % x: %v does not carry the library's error", cdb, err)
		}
	}
}

func newChangerNoMailSlot() *changer.Changer {
	return changer.New(changer.Layout{Drives: []string{"tape0"}, Slots: 2})
}
