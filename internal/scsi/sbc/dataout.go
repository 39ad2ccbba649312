package sbc

import (
	"encoding/binary"

	"ferry/internal/scsi"
)

// DataOutLength reports how many data-out bytes a CDB transfers, for a
// transport that checks the initiator's expected length against it
// (iSCSI residuals). It answers false for commands without data-out and
// for CDBs it cannot read.
func (d *Device) DataOutLength(cdb []byte) (int, bool) {
	op, ok := d.table.Lookup(cdb)
	if !ok || len(cdb) < max(op.Len, scsi.CDBLength(scsi.Opcode(cdb))) {
		return 0, false
	}
	switch cdb[0] {
	case OpWrite6, OpWrite10, OpWrite12, OpWrite16, OpWriteAndVerify10, OpWriteAndVerify12, OpWriteAndVerify16, OpORWrite16:
		return d.blockBytes(decodeXfer(cdb).n)
	case OpVerify10, OpVerify12, OpVerify16:
		return d.verifyBytes(decodeXfer(cdb))
	case OpWriteSame10, OpWriteSame16:
		if cdb[0] == OpWriteSame16 && cdb[1]&bitNDOB != 0 {
			return 0, true
		}
		return d.bs, true
	case OpCompareAndWrite:
		if cdb[13] == 0 {
			return 0, false
		}
		return 2 * int(cdb[13]) * d.bs, true
	case OpUnmap, scsi.OpModeSelect10:
		return int(binary.BigEndian.Uint16(cdb[7:])), true
	case scsi.OpModeSelect6:
		return int(cdb[4]), true
	case OpPersistentResOut:
		return int(binary.BigEndian.Uint32(cdb[5:])), true
	}
	return 0, false
}

// blockBytes is the byte count of n blocks, false when it is beyond any
// transfer the device accepts.
func (d *Device) blockBytes(n uint64) (int, bool) {
	if n > d.maxXferBlocks() {
		return 0, false
	}
	return int(n) * d.bs, true
}

// verifyBytes is what VERIFY transfers by its BYTCHK field.
func (d *Device) verifyBytes(x xfer) (int, bool) {
	switch x.flags & bitBytChk >> 1 {
	case 0:
		return 0, true
	case 1:
		return d.blockBytes(x.n)
	case 3:
		return d.bs, true
	}
	return 0, false
}
