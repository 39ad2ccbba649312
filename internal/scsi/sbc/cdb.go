package sbc

import (
	"encoding/binary"

	"ferry/internal/scsi"
)

// SBC operation codes.
const (
	OpRead6              byte = 0x08
	OpWrite6             byte = 0x0A
	OpReserve6           byte = 0x16
	OpRelease6           byte = 0x17
	OpStartStopUnit      byte = 0x1B
	OpReadCapacity10     byte = 0x25
	OpRead10             byte = 0x28
	OpWrite10            byte = 0x2A
	OpWriteAndVerify10   byte = 0x2E
	OpVerify10           byte = 0x2F
	OpReadDefectData10   byte = 0x37
	OpPreFetch10         byte = 0x34
	OpSynchronizeCache10 byte = 0x35
	OpWriteSame10        byte = 0x41
	OpUnmap              byte = 0x42
	OpSanitize           byte = 0x48
	OpReserve10          byte = 0x56
	OpRelease10          byte = 0x57
	OpPersistentResIn    byte = 0x5E
	OpPersistentResOut   byte = 0x5F
	OpRead16             byte = 0x88
	OpCompareAndWrite    byte = 0x89
	OpORWrite16          byte = 0x8B
	OpWrite16            byte = 0x8A
	OpWriteAndVerify16   byte = 0x8E
	OpVerify16           byte = 0x8F
	OpPreFetch16         byte = 0x90
	OpSynchronizeCache16 byte = 0x91
	OpWriteSame16        byte = 0x93
	OpRead12             byte = 0xA8
	OpWrite12            byte = 0xAA
	OpWriteAndVerify12   byte = 0xAE
	OpVerify12           byte = 0xAF
	OpReadDefectData12   byte = 0xB7
)

// saBlockErase is the SANITIZE service action BLOCK ERASE.
const saBlockErase = 0x02

// SERVICE ACTION IN(16) service actions.
const (
	saReadCapacity16 = 0x10
	saGetLBAStatus   = 0x12
)

// Limits the device reports in the block limits VPD page and enforces.
const (
	maxTransferBytes = 64 << 20 // per READ/WRITE/VERIFY command: what the iSCSI target buffers for a write
	maxCAWBlocks     = 255      // COMPARE AND WRITE
	maxUnmapBlocks   = 1 << 20  // per UNMAP descriptor (libiscsi calls more "insane")
	maxUnmapDescs    = 256      // per UNMAP command
	maxWriteSame     = 4 << 20  // blocks per WRITE SAME
)

// xfer is the address part of a block command's CDB.
type xfer struct {
	lba    uint64
	n      uint64 // blocks
	flags  byte   // byte 1 (0 for 6-byte CDBs)
	lenIdx int    // CDB byte of the transfer length, for field pointers
}

// decodeXfer reads LBA, transfer length and byte 1 by the CDB's group:
// 6 (21-bit LBA, 0 blocks means 256), 10, 12 or 16 bytes. The Table has
// checked the length.
func decodeXfer(cdb []byte) xfer {
	switch cdb[0] >> 5 {
	case 0:
		n := uint64(cdb[4])
		if n == 0 {
			n = 256
		}
		return xfer{lba: uint64(cdb[1]&0x1F)<<16 | uint64(cdb[2])<<8 | uint64(cdb[3]), n: n, lenIdx: 4}
	case 1, 2:
		return xfer{lba: uint64(binary.BigEndian.Uint32(cdb[2:])), n: uint64(binary.BigEndian.Uint16(cdb[7:])), flags: cdb[1], lenIdx: 7}
	case 5:
		return xfer{lba: uint64(binary.BigEndian.Uint32(cdb[2:])), n: uint64(binary.BigEndian.Uint32(cdb[6:])), flags: cdb[1], lenIdx: 6}
	}
	return xfer{lba: binary.BigEndian.Uint64(cdb[2:]), n: uint64(binary.BigEndian.Uint32(cdb[10:])), flags: cdb[1], lenIdx: 10}
}

// inRange checks that n blocks from lba are on the disk.
func (d *Device) inRange(lba, n uint64) error {
	if lba > d.blocks || n > d.blocks-lba {
		return scsi.LBAOutOfRange()
	}
	return nil
}

// checkXfer checks the protection field (ferry has no protection
// information: any non-zero RDPROTECT/WRPROTECT/VRPROTECT is invalid),
// the range and the maximum transfer length.
func (d *Device) checkXfer(x xfer) error {
	if x.flags&0xE0 != 0 {
		return scsi.InvalidFieldInCDB(1, 7)
	}
	if err := d.inRange(x.lba, x.n); err != nil {
		return err
	}
	if x.n > d.maxXferBlocks() {
		return scsi.InvalidFieldInCDB(x.lenIdx, -1)
	}
	return nil
}

// maxXferBlocks is the maximum transfer length in blocks.
func (d *Device) maxXferBlocks() uint64 { return uint64(maxTransferBytes / d.bs) }

// off is the byte offset of a block.
func (d *Device) off(lba uint64) int64 { return int64(lba) * int64(d.bs) }

// Sense the block commands return beyond the core's constructors.
func miscompare(offset uint64) *scsi.Sense {
	return &scsi.Sense{Key: scsi.Miscompare, ASC: 0x1D, Info: offset, InfoValid: true}
}

// dataOutShort is INVALID FIELD IN COMMAND INFORMATION UNIT (0x0E/0x03):
// the initiator sent less data than the CDB announces.
func dataOutShort() *scsi.Sense {
	return &scsi.Sense{Key: scsi.IllegalRequest, ASC: 0x0E, ASCQ: 0x03}
}

// mediumError is an unrecovered read (0x11/0x00) or write (0x0C/0x00)
// error at lba.
func mediumError(asc uint8, lba uint64) *scsi.Sense {
	return &scsi.Sense{Key: scsi.MediumError, ASC: asc, Info: lba, InfoValid: true}
}

// invalidRelease is ILLEGAL REQUEST, INVALID RELEASE OF PERSISTENT
// RESERVATION (0x26/0x04).
func invalidRelease() *scsi.Sense {
	return &scsi.Sense{Key: scsi.IllegalRequest, ASC: 0x26, ASCQ: 0x04}
}
