package scsi

import (
	"context"
	"encoding/binary"
	"maps"
	"slices"
)

// SaReportSupportedOpcodes is the MAINTENANCE IN service action of REPORT
// SUPPORTED OPERATION CODES.
const SaReportSupportedOpcodes = 0x0C

// supportedOp is one registered operation, for REPORT SUPPORTED
// OPERATION CODES.
type supportedOp struct {
	opcode byte
	sa     uint16
	hasSA  bool
	op     *Op
}

// supported lists the registered operations by opcode, then service action.
func (t *Table) supported() []supportedOp {
	var out []supportedOp
	for code := range t.ops {
		e := &t.ops[code]
		if e.op != nil && e.op.Run != nil {
			out = append(out, supportedOp{opcode: byte(code), op: e.op})
		}
		for _, sa := range slices.Sorted(maps.Keys(e.sas)) {
			if e.sas[sa].Run != nil {
				out = append(out, supportedOp{opcode: byte(code), sa: sa, hasSA: true, op: e.sas[sa]})
			}
		}
	}
	return out
}

// cdbLen is the CDB length of a supported operation.
func (s supportedOp) cdbLen() int {
	if s.op.Len != 0 {
		return s.op.Len
	}
	return CDBLength(s.opcode)
}

// usage is the CDB usage data: the operation code, then for each byte the
// bits the device looks at. Without Op.Usage every bit counts, except
// the control byte, whose NACA and LINK bits ferry refuses.
func (s supportedOp) usage() []byte {
	if s.op.Usage != nil {
		return slices.Clone(s.op.Usage)
	}
	n := s.cdbLen()
	u := make([]byte, n)
	for i := 1; i < n-1; i++ {
		u[i] = 0xFF
	}
	u[0] = s.opcode
	if s.hasSA {
		u[1] = byte(s.sa) & 0x1F // the service action itself, as SPC-4 asks
	}
	return u
}

// ReportSupportedOpcodesOp returns the MAINTENANCE IN / REPORT SUPPORTED
// OPERATION CODES Op for the table: reporting options 000b (all
// commands), 001b (one operation code), 010b (one operation code and
// service action) and 011b (either), with command timeouts descriptors
// (all zero: no timeouts are promised) when RCTD is set. NewTable
// registers it.
func (t *Table) ReportSupportedOpcodesOp() Op {
	return Op{Name: "REPORT SUPPORTED OPERATION CODES", Len: 12, Alloc: Alloc12, Run: t.reportSupportedOpcodes}
}

// reportSupportedOpcodes serves REPORT SUPPORTED OPERATION CODES.
func (t *Table) reportSupportedOpcodes(_ context.Context, cmd *Command) error {
	cdb := cmd.CDB
	rctd := cdb[2]&0x80 != 0
	switch cdb[2] & 0x07 {
	case 0:
		cmd.DataIn = t.allCommands(rctd)
		return nil
	case 1, 2, 3:
		data, err := t.oneCommand(cdb, rctd)
		cmd.DataIn = data
		return err
	}
	return InvalidFieldInCDB(2, 2)
}

// allCommands is the all-commands parameter data.
func (t *Table) allCommands(rctd bool) []byte {
	b := make([]byte, 4)
	for _, s := range t.supported() {
		d := make([]byte, 8)
		d[0] = s.opcode
		binary.BigEndian.PutUint16(d[2:], s.sa)
		if s.hasSA {
			d[5] |= 0x01 // SERVACTV
		}
		if rctd {
			d[5] |= 0x02 // CTDP
		}
		binary.BigEndian.PutUint16(d[6:], uint16(s.cdbLen()))
		b = append(b, d...)
		if rctd {
			b = append(b, timeoutsDescriptor()...)
		}
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// oneCommand is the one-command parameter data for reporting options
// 001b, 010b and 011b.
func (t *Table) oneCommand(cdb []byte, rctd bool) ([]byte, error) {
	opts, code, sa := cdb[2]&0x07, cdb[3], binary.BigEndian.Uint16(cdb[4:6])
	e := &t.ops[code]
	hasSAs := e.sas != nil
	switch {
	case opts == 1 && hasSAs:
		return nil, InvalidFieldInCDB(2, 2)
	case opts == 2 && !hasSAs && e.op != nil:
		return nil, InvalidFieldInCDB(2, 2)
	}
	var op *Op
	if hasSAs {
		op = e.sas[sa]
	} else {
		op = e.op
	}
	b := []byte{0, 0x01, 0, 0} // SUPPORT 001b: not supported
	if op == nil || op.Run == nil {
		return b, nil
	}
	s := supportedOp{opcode: code, sa: sa, hasSA: hasSAs, op: op}
	b[1] = 0x03 // SUPPORT 011b: supported as the standard says
	if rctd {
		b[1] |= 0x80
	}
	u := s.usage()
	binary.BigEndian.PutUint16(b[2:], uint16(len(u)))
	b = append(b, u...)
	if rctd {
		b = append(b, timeoutsDescriptor()...)
	}
	return b, nil
}

// timeoutsDescriptor is a command timeouts descriptor without timeouts.
func timeoutsDescriptor() []byte {
	return []byte{0x00, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
}
