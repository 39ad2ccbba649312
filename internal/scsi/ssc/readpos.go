package ssc

import (
	"context"
	"encoding/binary"

	"ferry/internal/scsi"
	"ferry/internal/tape"
)

// READ POSITION service actions (SSC-3 7.5, SSC-4 extended form).
const (
	rpShort    = 0x00
	rpShortBT  = 0x01 // block addresses vendor specific: the same as logical objects here
	rpLong     = 0x06
	rpExtended = 0x08
)

// registerPosition adds READ POSITION's service actions.
func (d *Device) registerPosition() {
	for _, sa := range []uint16{rpShort, rpShortBT, rpLong} {
		d.table.RegisterServiceAction(OpReadPosition, sa, scsi.Op{Name: "READ POSITION", Run: d.readPosition})
	}
	d.table.RegisterServiceAction(OpReadPosition, rpExtended, scsi.Op{Name: "READ POSITION", Alloc: scsi.Alloc10, Run: d.readPosition})
}

// readPosition serves READ POSITION. Nothing is ever buffered (a WRITE
// reaches the cartridge file before it completes), so the first and last
// object locations are the position and the buffer counts are zero.
func (d *Device) readPosition(_ context.Context, cmd *scsi.Command) error {
	if _, err := d.ready(); err != nil {
		return err
	}
	p, ew := d.position(), d.st.m != nil && d.st.m.EarlyWarning()
	switch sa := cmd.CDB[1] & 0x1F; sa {
	case rpLong:
		cmd.DataIn = longPosition(p, ew)
	case rpExtended:
		cmd.DataIn = extendedPosition(p, ew)
	default:
		if p.Block > 0xFFFFFFFF {
			cmd.DataIn = shortPosition(tape.Position{}, ew)
			cmd.DataIn[0] |= 0x04 // BPU: the position does not fit 32 bits
			return nil
		}
		cmd.DataIn = shortPosition(p, ew)
	}
	return nil
}

// positionFlags is byte 0 of the short and extended forms: BOP, EOP
// (early warning reached) and BPEW (beyond programmable early warning:
// ferry's early warning is the only one).
func positionFlags(p tape.Position, ew bool) byte {
	var b byte
	if p.BOT {
		b |= 0x80
	}
	if ew {
		b |= 0x40 | 0x01
	}
	return b
}

// shortPosition is the 20-byte short form (SSC-3 table 30).
func shortPosition(p tape.Position, ew bool) []byte {
	b := make([]byte, 20)
	b[0] = positionFlags(p, ew)
	binary.BigEndian.PutUint32(b[4:], uint32(p.Block))
	binary.BigEndian.PutUint32(b[8:], uint32(p.Block))
	return b
}

// longPosition is the 32-byte long form (SSC-3 table 31): logical object
// number, logical file identifier (filemarks before the position) and
// logical set identifier (no setmarks: 0).
func longPosition(p tape.Position, ew bool) []byte {
	b := make([]byte, 32)
	if p.BOT {
		b[0] |= 0x80
	}
	if ew {
		b[0] |= 0x40 | 0x01 // EOP, BPEW
	}
	binary.BigEndian.PutUint64(b[8:], p.Block)
	binary.BigEndian.PutUint64(b[16:], p.File)
	return b
}

// extendedPosition is the 32-byte extended form (SSC-3 table 32).
func extendedPosition(p tape.Position, ew bool) []byte {
	b := make([]byte, 32)
	b[0] = positionFlags(p, ew)
	binary.BigEndian.PutUint16(b[2:], 0x1C)
	binary.BigEndian.PutUint64(b[8:], p.Block)
	binary.BigEndian.PutUint64(b[16:], p.Block)
	return b
}
