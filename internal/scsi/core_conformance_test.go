package scsi_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"ferry/internal/scsi"
	"ferry/internal/scsi/scsitest"
)

func testInquiry() *scsi.Inquiry {
	return &scsi.Inquiry{
		Type:     scsi.DirectAccess,
		Identity: scsi.Identity{Vendor: "FERRY", Product: "TEST DISK", Revision: "0001", Serial: "SN0001"},
		Versions: []uint16{scsi.VersionSAM5, scsi.VersionSPC4, scsi.VersionSBC3},
		Pages:    []scsi.VPDPage{{Code: 0xB0, Data: make([]byte, 60)}},
		Designators: []scsi.Designator{
			scsi.SCSINameDesignator("iqn.2026-11.ferry:disk0", 2),
		},
	}
}

// TestCoreConformance runs the shared harness on the core's own table.
func TestCoreConformance(t *testing.T) {
	scsitest.Run(t, scsi.NewTable(testInquiry()), scsitest.Expect{
		Type: scsi.DirectAccess, Vendor: "FERRY", Product: "TEST DISK", Serial: "SN0001",
	})
}

func TestStandardInquiryBytes(t *testing.T) {
	q := testInquiry()
	q.ThirdPartyCopy = true
	b := q.Standard()
	want := []byte{0x00, 0x00, 0x06, 0x02, 91, 0x08, 0x00, 0x02}
	if !bytes.Equal(b[:8], want) {
		t.Fatalf("header % x, want % x", b[:8], want)
	}
	if got := string(b[8:36]); got != "FERRY   TEST DISK       0001" {
		t.Fatalf("identification %q", got)
	}
	if got := b[58:64]; !bytes.Equal(got, []byte{0x00, 0xA0, 0x04, 0x60, 0x04, 0xC0}) {
		t.Fatalf("version descriptors % x", got)
	}
}

func TestVPDPages(t *testing.T) {
	q := testInquiry()
	p, _ := q.Page(0x00)
	if want := []byte{0x00, 0x00, 0x00, 0x04, 0x00, 0x80, 0x83, 0xB0}; !bytes.Equal(p, want) {
		t.Fatalf("page 0x00 = % x, want % x", p, want)
	}
	p, _ = q.Page(0x80)
	if want := append([]byte{0x00, 0x80, 0x00, 0x06}, "SN0001"...); !bytes.Equal(p, want) {
		t.Fatalf("page 0x80 = % x", p)
	}
	p, _ = q.Page(0x83)
	// T10 vendor ID first: ASCII, LU, type 1, "FERRY   TEST DISK SN0001".
	t10 := "FERRY   TEST DISK SN0001"
	if want := append([]byte{0x02, 0x01, 0x00, byte(len(t10))}, t10...); !bytes.HasPrefix(p[4:], want) {
		t.Fatalf("page 0x83 starts % x, want % x", p[4:4+len(want)], want)
	}
	naa := p[4+4+len(t10):]
	if naa[0] != 0x01 || naa[1] != 0x03 || naa[3] != 8 || naa[4]>>4 != 3 {
		t.Fatalf("NAA designator % x", naa[:12])
	}
	name := naa[12:]
	if name[0] != 0x03 || name[1] != 0x28 || name[3]%4 != 0 || !bytes.HasPrefix(name[4:], []byte("iqn.2026-11.ferry:disk0\x00")) {
		t.Fatalf("SCSI name designator % x", name)
	}
	if n := binary.BigEndian.Uint16(p[2:]); int(n) != len(p)-4 {
		t.Fatalf("page length %d for %d bytes", n, len(p)-4)
	}
	q2 := testInquiry()
	p2, _ := q2.Page(0x83)
	if !bytes.Equal(p, p2) {
		t.Fatal("the NAA designator is not stable for the same identity")
	}
	q.Identity.Serial = ""
	if _, ok := q.Page(0x80); ok {
		t.Fatal("page 0x80 without a serial number")
	}
}

func TestRequestSenseDescriptor(t *testing.T) {
	b := scsitest.MustExec(t, scsi.NewTable(testInquiry()), []byte{0x03, 1, 0, 0, 252, 0}, nil)
	if !bytes.Equal(b, []byte{0x72, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("descriptor NO SENSE = % x", b)
	}
}
