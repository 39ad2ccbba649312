package scsi

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"slices"
)

// DeviceType is the peripheral device type of INQUIRY data.
type DeviceType byte

// Peripheral device types ferry serves.
const (
	DirectAccess     DeviceType = 0x00 // SBC disk
	SequentialAccess DeviceType = 0x01 // SSC tape
	MediumChanger    DeviceType = 0x08 // SMC library robot
	NoDevice         DeviceType = 0x1F // unknown or no device type
)

// Version descriptors (SPC-4 table 33) for INQUIRY data.
const (
	VersionSAM5  uint16 = 0x00A0
	VersionSPC4  uint16 = 0x0460
	VersionSBC3  uint16 = 0x04C0
	VersionSSC3  uint16 = 0x0400
	VersionSMC3  uint16 = 0x0480
	VersionISCSI uint16 = 0x0960
)

// Identity names a logical unit in its INQUIRY data.
type Identity struct {
	Vendor   string // T10 vendor identification, at most 8 characters
	Product  string // at most 16 characters
	Revision string // at most 4 characters
	Serial   string // unit serial number (VPD page 0x80)
}

// VPDPage is one vital product data page beyond those Inquiry builds
// itself (0x00, 0x80, 0x83).
type VPDPage struct {
	Code byte
	Data []byte // the page after its 4-byte header
}

// Inquiry is the INQUIRY data of one logical unit and the handler that
// serves it. Its Handle method is the Run of an INQUIRY Op.
type Inquiry struct {
	Type           DeviceType
	Removable      bool
	Identity       Identity
	Versions       []uint16 // version descriptors, at most 8 are reported
	ThirdPartyCopy bool     // 3PC: the LU supports EXTENDED COPY
	// Designators are reported in VPD page 0x83 after the LU's own
	// (a T10 vendor ID and a locally assigned NAA); transports add their
	// target port and target device designators here.
	Designators []Designator
	Pages       []VPDPage // more VPD pages, e.g. 0xB0 block limits
}

// StandardInquiryLen is the length of the standard INQUIRY data.
const StandardInquiryLen = 96

// Standard returns the standard INQUIRY data (SPC-4 6.4.2).
func (q *Inquiry) Standard() []byte {
	b := make([]byte, StandardInquiryLen)
	b[0] = byte(q.Type & 0x1F)
	if q.Removable {
		b[1] = 0x80
	}
	b[2] = 0x06 // SPC-4
	b[3] = 0x02 // response data format 2
	b[4] = StandardInquiryLen - 5
	if q.ThirdPartyCopy {
		b[5] |= 0x08
	}
	b[7] = 0x02 // CMDQUE
	padASCII(b[8:16], q.Identity.Vendor)
	padASCII(b[16:32], q.Identity.Product)
	padASCII(b[32:36], q.Identity.Revision)
	for i, v := range q.Versions[:min(len(q.Versions), 8)] {
		binary.BigEndian.PutUint16(b[58+2*i:], v)
	}
	return b
}

// Page returns a VPD page with its header, or false if the LU has none
// with that code.
func (q *Inquiry) Page(code byte) ([]byte, bool) {
	var data []byte
	switch code {
	case 0x00:
		data = q.supported()
	case 0x80:
		if q.Identity.Serial == "" {
			return nil, false
		}
		data = make([]byte, len(q.Identity.Serial))
		padASCII(data, q.Identity.Serial)
	case 0x83:
		data = q.deviceIdentification()
	default:
		i := slices.IndexFunc(q.Pages, func(p VPDPage) bool { return p.Code == code })
		if i < 0 {
			return nil, false
		}
		data = q.Pages[i].Data
	}
	return q.vpd(code, data), true
}

// vpd prefixes page data with its header.
func (q *Inquiry) vpd(code byte, data []byte) []byte {
	b := make([]byte, 4, 4+len(data))
	b[0], b[1] = byte(q.Type&0x1F), code
	binary.BigEndian.PutUint16(b[2:], uint16(min(len(data), 0xFFFF)))
	return append(b, data[:min(len(data), 0xFFFF)]...)
}

// supported lists the VPD pages in ascending order.
func (q *Inquiry) supported() []byte {
	codes := []byte{0x00, 0x83}
	if q.Identity.Serial != "" {
		codes = append(codes, 0x80)
	}
	for _, p := range q.Pages {
		if !slices.Contains(codes, p.Code) {
			codes = append(codes, p.Code)
		}
	}
	slices.Sort(codes)
	return codes
}

// deviceIdentification is the payload of VPD page 0x83.
func (q *Inquiry) deviceIdentification() []byte {
	ds := append([]Designator{T10VendorDesignator(q.Identity), LocalNAADesignator(q.Identity)}, q.Designators...)
	var b []byte
	for _, d := range ds {
		b = d.appendTo(b)
	}
	return b
}

// Handle serves an INQUIRY CDB: standard data, or the VPD page EVPD and
// PAGE CODE ask for. CMDDT is obsolete and refused.
func (q *Inquiry) Handle(_ context.Context, cmd *Command) error {
	cdb := cmd.CDB
	switch {
	case cdb[1]&0x02 != 0:
		return InvalidFieldInCDB(1, 1)
	case cdb[1]&0x01 == 0 && cdb[2] != 0:
		return InvalidFieldInCDB(2, 7)
	case cdb[1]&0x01 == 0:
		cmd.DataIn = q.Standard()
		return nil
	}
	page, ok := q.Page(cdb[2])
	if !ok {
		return InvalidFieldInCDB(2, 7)
	}
	cmd.DataIn = page
	return nil
}

// Op returns the INQUIRY Op to register in a Table.
func (q *Inquiry) Op() Op {
	return Op{Name: "INQUIRY", Alloc: AllocInquiry, Run: q.Handle}
}

// Designator is one designation descriptor of VPD page 0x83.
type Designator struct {
	Protocol    uint8 // protocol identifier (with PIV), e.g. 5 for iSCSI
	CodeSet     uint8 // 1 binary, 2 ASCII, 3 UTF-8
	PIV         bool
	Association uint8 // 0 logical unit, 1 target port, 2 target device
	Type        uint8 // 1 T10 vendor ID, 3 NAA, 4 relative target port, 8 SCSI name string, ...
	Value       []byte
}

// appendTo appends the encoded designation descriptor.
func (d Designator) appendTo(b []byte) []byte {
	h0 := d.Protocol<<4 | d.CodeSet&0x0F
	h1 := (d.Association&3)<<4 | d.Type&0x0F
	if d.PIV {
		h1 |= 0x80
	}
	v := d.Value[:min(len(d.Value), 255)]
	b = append(b, h0, h1, 0, byte(len(v)))
	return append(b, v...)
}

// T10VendorDesignator is the LU's T10 vendor ID designator: the vendor
// padded to 8 bytes, then the product and serial number.
func T10VendorDesignator(id Identity) Designator {
	v := make([]byte, 8, 8+len(id.Product)+1+len(id.Serial))
	padASCII(v, id.Vendor)
	rest := make([]byte, len(id.Product)+1+len(id.Serial))
	padASCII(rest, id.Product+" "+id.Serial)
	return Designator{CodeSet: 2, Type: 1, Value: append(v, rest...)}
}

// LocalNAADesignator is an NAA locally assigned (NAA 3) designator derived
// from the identity: stable for the same vendor, product and serial.
func LocalNAADesignator(id Identity) Designator {
	h := fnv.New64a()
	h.Write([]byte(id.Vendor + "\x00" + id.Product + "\x00" + id.Serial))
	v := binary.BigEndian.AppendUint64(nil, h.Sum64()&^(0xF<<60)|0x3<<60)
	return Designator{CodeSet: 1, Type: 3, Value: v}
}

// SCSINameDesignator is a SCSI name string designator (e.g. an iSCSI
// name), NUL terminated and padded to a multiple of four bytes.
func SCSINameDesignator(name string, association uint8) Designator {
	n := (len(name) + 4) &^ 3
	v := make([]byte, n)
	copy(v, name)
	return Designator{CodeSet: 3, Association: association, Type: 8, Value: v}
}
