package scsi

import (
	"context"
	"encoding/binary"
	"errors"
)

// ErrBadLUN is returned by DecodeLUN for an address ferry does not use.
var ErrBadLUN = errors.New("scsi: unsupported LUN address")

// MaxLUN is the highest LUN EncodeLUN can express (flat space addressing).
const MaxLUN = 0x3FFF

// EncodeLUN encodes a LUN as SAM-5 does for single level addressing:
// peripheral device addressing below 256, flat space addressing above.
// LUNs beyond MaxLUN are cut to 14 bits.
func EncodeLUN(lun uint16) [8]byte {
	var b [8]byte
	if lun < 256 {
		b[1] = byte(lun)
		return b
	}
	b[0] = 0x40 | byte(lun>>8)&0x3F
	b[1] = byte(lun)
	return b
}

// DecodeLUN decodes a single level LUN in peripheral device or flat space
// addressing, the forms EncodeLUN writes.
func DecodeLUN(b [8]byte) (uint16, error) {
	if binary.BigEndian.Uint64(b[:])&0x0000FFFFFFFFFFFF != 0 {
		return 0, ErrBadLUN
	}
	switch b[0] >> 6 {
	case 0:
		if b[0] != 0 {
			return 0, ErrBadLUN // a bus identifier: not ours
		}
		return uint16(b[1]), nil
	case 1:
		return uint16(b[0]&0x3F)<<8 | uint16(b[1]), nil
	}
	return 0, ErrBadLUN
}

// ReportLUNsData builds REPORT LUNS parameter data for the given LUNs.
func ReportLUNsData(luns []uint16) []byte {
	b := make([]byte, 8, 8+8*len(luns))
	binary.BigEndian.PutUint32(b, uint32(8*len(luns)))
	for _, l := range luns {
		e := EncodeLUN(l)
		b = append(b, e[:]...)
	}
	return b
}

// ReportLUNsOp returns a REPORT LUNS Op listing luns: select report 0x00
// and 0x02 list them, 0x01 (well-known LUNs only) lists none, other
// values are an invalid field. A device standing alone (NDMP) reports LUN
// 0; an iSCSI target answers REPORT LUNS itself for all its LUs.
func ReportLUNsOp(luns []uint16) Op {
	luns = append([]uint16(nil), luns...)
	return Op{Name: "REPORT LUNS", Alloc: Alloc12, Run: func(_ context.Context, cmd *Command) error {
		switch cmd.CDB[2] {
		case 0x00, 0x02:
			cmd.DataIn = ReportLUNsData(luns)
		case 0x01:
			cmd.DataIn = ReportLUNsData(nil)
		default:
			return InvalidFieldInCDB(2, 7)
		}
		return nil
	}}
}

// RequestSenseOp returns a REQUEST SENSE Op. Ferry's transports deliver
// sense with the status (autosense), so nothing is pending between
// commands and REQUEST SENSE reports NO SENSE, in fixed format or, when
// the DESC bit is set, descriptor format.
func RequestSenseOp() Op {
	return Op{Name: "REQUEST SENSE", Alloc: Alloc6, Run: func(_ context.Context, cmd *Command) error {
		cmd.DataIn = SenseData(NoSenseData(), cmd.CDB[1]&0x01 != 0)
		return nil
	}}
}

// SenseData encodes s in descriptor format when desc is set, else fixed.
func SenseData(s *Sense, desc bool) []byte {
	if desc {
		return s.DescriptorBytes()
	}
	return s.Bytes()
}

// TestUnitReadyOp returns a TEST UNIT READY Op that reports GOOD; devices
// that can be not ready register their own.
func TestUnitReadyOp() Op {
	return Op{Name: "TEST UNIT READY", Run: func(context.Context, *Command) error { return nil }}
}

// NewTable returns a Table with the commands every device type shares:
// INQUIRY from inq, REQUEST SENSE, REPORT LUNS (LUN 0), TEST UNIT READY
// (always GOOD) and REPORT SUPPORTED OPERATION CODES (from the table
// itself). Command sets register their own commands, and may replace
// these.
func NewTable(inq *Inquiry) *Table {
	t := &Table{}
	t.Register(OpInquiry, inq.Op())
	t.Register(OpRequestSense, RequestSenseOp())
	t.Register(OpReportLUNs, ReportLUNsOp([]uint16{0}))
	t.Register(OpTestUnitReady, TestUnitReadyOp())
	t.RegisterServiceAction(OpMaintenanceIn, SaReportSupportedOpcodes, t.ReportSupportedOpcodesOp())
	return t
}
