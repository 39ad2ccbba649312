package scsi

import "encoding/binary"

// Operation codes the core and several command sets share (SPC-4).
const (
	OpTestUnitReady    byte = 0x00
	OpRequestSense     byte = 0x03
	OpInquiry          byte = 0x12
	OpModeSelect6      byte = 0x15
	OpModeSense6       byte = 0x1A
	OpPreventAllow     byte = 0x1E
	OpModeSelect10     byte = 0x55
	OpModeSense10      byte = 0x5A
	OpVariableLength   byte = 0x7F
	OpReportLUNs       byte = 0xA0
	OpMaintenanceIn    byte = 0xA3
	OpMaintenanceOut   byte = 0xA4
	OpServiceActionIn  byte = 0x9E
	OpServiceActionOut byte = 0x9F
)

// Opcode returns the CDB's operation code, 0 (TEST UNIT READY) for an
// empty CDB.
func Opcode(cdb []byte) byte {
	if len(cdb) == 0 {
		return 0
	}
	return cdb[0]
}

// CDBLength returns the CDB length the operation code's group implies
// (6, 10, 12 or 16), or 0 for variable-length (0x7F), reserved and vendor
// groups, whose length the command set must know.
func CDBLength(opcode byte) int {
	switch opcode >> 5 {
	case 0:
		return 6
	case 1, 2:
		return 10
	case 4:
		return 16
	case 5:
		return 12
	}
	return 0
}

// ServiceAction returns the service action of a CDB: bytes 8-9 of a
// variable-length CDB, else the low five bits of byte 1. It is meaningful
// only for operation codes that have service actions.
func ServiceAction(cdb []byte) uint16 {
	if len(cdb) >= 10 && cdb[0] == OpVariableLength {
		return binary.BigEndian.Uint16(cdb[8:10])
	}
	if len(cdb) >= 2 {
		return uint16(cdb[1] & 0x1F)
	}
	return 0
}

// Field locates a big-endian unsigned field of 1 to 4 bytes in a CDB; the
// zero Field is "no field".
type Field struct {
	Offset, Size int
}

// Where the allocation length is in the common CDB shapes.
var (
	Alloc6       = Field{4, 1}  // 6-byte CDBs: byte 4
	AllocInquiry = Field{3, 2}  // INQUIRY: bytes 3-4
	Alloc10      = Field{7, 2}  // 10-byte CDBs: bytes 7-8
	Alloc12      = Field{6, 4}  // 12-byte CDBs: bytes 6-9
	Alloc16      = Field{10, 4} // 16-byte CDBs: bytes 10-13
)

// Get reads the field from cdb; bytes beyond the CDB read as zero.
func (f Field) Get(cdb []byte) uint32 {
	var v uint32
	for i := range f.Size {
		v <<= 8
		if j := f.Offset + i; j < len(cdb) {
			v |= uint32(cdb[j])
		}
	}
	return v
}

// AllocationLength returns the allocation length of a CDB by the usual
// place for its size (byte 4; bytes 3-4 for INQUIRY; bytes 7-8; 6-9;
// 10-13). Commands that put it elsewhere, or have a transfer length
// instead, declare their own Field in their Op.
func AllocationLength(cdb []byte) (uint32, bool) {
	f, ok := allocField(Opcode(cdb))
	if !ok || len(cdb) < f.Offset+f.Size {
		return 0, false
	}
	return f.Get(cdb), true
}

// allocField returns the usual allocation length field for an opcode.
func allocField(op byte) (Field, bool) {
	if op == OpInquiry {
		return AllocInquiry, true
	}
	switch CDBLength(op) {
	case 6:
		return Alloc6, true
	case 10:
		return Alloc10, true
	case 12:
		return Alloc12, true
	case 16:
		return Alloc16, true
	}
	return Field{}, false
}

// ParameterList returns the first n bytes of the command's data-out, the
// parameter list a CDB's parameter list length announces, or PARAMETER
// LIST LENGTH ERROR when the initiator sent fewer.
func ParameterList(cmd *Command, n int) ([]byte, error) {
	if len(cmd.DataOut) < n {
		return nil, ParameterListLengthError()
	}
	return cmd.DataOut[:n], nil
}

// padASCII writes s into dst, replacing bytes outside printable ASCII with
// '?', and fills the rest with spaces (the SPC convention for identifying
// fields).
func padASCII(dst []byte, s string) {
	for i := range dst {
		c := byte(' ')
		if i < len(s) {
			c = s[i]
			if c < 0x20 || c > 0x7E {
				c = '?'
			}
		}
		dst[i] = c
	}
}
