package sbc

import (
	"context"
	"encoding/binary"

	"ferry/internal/scsi"
)

// readCapacity10 serves READ CAPACITY(10): the last LBA (0xFFFFFFFF
// when it does not fit: READ CAPACITY(16) has it) and the block size.
func (d *Device) readCapacity10(_ context.Context, cmd *scsi.Command) error {
	cdb := cmd.CDB
	if cdb[8]&0x01 == 0 && binary.BigEndian.Uint32(cdb[2:]) != 0 {
		return scsi.InvalidFieldInCDB(2, -1) // an LBA without PMI
	}
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, uint32(min(d.blocks-1, 0xFFFFFFFF)))
	binary.BigEndian.PutUint32(b[4:], uint32(d.bs))
	cmd.DataIn = b
	return nil
}

// readCapacity16 serves READ CAPACITY(16): last LBA, block size, one
// logical block per physical block, no protection, and on a thin disk
// LBPME with LBPRZ (unmapped blocks read as zeros).
func (d *Device) readCapacity16(_ context.Context, cmd *scsi.Command) error {
	b := make([]byte, 32)
	binary.BigEndian.PutUint64(b, d.blocks-1)
	binary.BigEndian.PutUint32(b[8:], uint32(d.bs))
	if d.b.Thin() {
		b[14] = 0x80 | 0x40
	}
	cmd.DataIn = b
	return nil
}

// vpdPages are the disk's VPD pages beyond 0x00, 0x80 and 0x83.
func (d *Device) vpdPages() []scsi.VPDPage {
	return []scsi.VPDPage{
		{Code: 0xB0, Data: d.blockLimits()},
		{Code: 0xB1, Data: d.blockCharacteristics()},
		{Code: 0xB2, Data: d.provisioning()},
	}
}

// blockLimits is the block limits page (SBC-3 6.5.3), page length 0x3C.
func (d *Device) blockLimits() []byte {
	b := make([]byte, 0x3C)
	gran := uint32(max(1, 4096/d.bs))
	b[0] = 0x01 // WSNZ: WRITE SAME of 0 blocks is refused
	b[1] = maxCAWBlocks
	binary.BigEndian.PutUint16(b[2:], uint16(gran))
	binary.BigEndian.PutUint32(b[4:], uint32(d.maxXferBlocks()))
	binary.BigEndian.PutUint32(b[8:], uint32((1<<20)/d.bs))
	binary.BigEndian.PutUint32(b[12:], uint32(d.maxXferBlocks()))
	if d.b.Thin() {
		binary.BigEndian.PutUint32(b[16:], maxUnmapBlocks)
		binary.BigEndian.PutUint32(b[20:], maxUnmapDescs)
		binary.BigEndian.PutUint32(b[24:], gran)
	}
	binary.BigEndian.PutUint64(b[32:], maxWriteSame)
	return b
}

// blockCharacteristics is the block device characteristics page: a
// non-rotating medium of no particular form factor; on a thin disk,
// blocks read normally after SANITIZE BLOCK ERASE (WABEREQ 01b).
func (d *Device) blockCharacteristics() []byte {
	b := make([]byte, 0x3C)
	b[1] = 0x01 // MEDIUM ROTATION RATE 1: non-rotating
	if d.b.Thin() {
		b[3] = 0x40
	}
	return b
}

// provisioning is the logical block provisioning page: a thin disk has
// UNMAP, WRITE SAME(16) and (10) with UNMAP, and zeros in unmapped
// blocks; a thick one reports none of it.
func (d *Device) provisioning() []byte {
	b := make([]byte, 4)
	if d.b.Thin() {
		b[1] = 0x80 | 0x40 | 0x20 | 0x04 // LBPU, LBPWS, LBPWS10, LBPRZ
		b[2] = 0x02                      // PROVISIONING TYPE: thin
	}
	return b
}

// readDefectData serves READ DEFECT DATA(10) and (12): an image has no
// defects, so the list is empty, in the format asked for, with the
// list-valid bits of the lists asked for.
func (d *Device) readDefectData(_ context.Context, cmd *scsi.Command) error {
	cdb := cmd.CDB
	if cdb[0] == OpReadDefectData10 {
		cmd.DataIn = []byte{0, cdb[2] & 0x1F, 0, 0}
		return nil
	}
	cmd.DataIn = []byte{0, cdb[1] & 0x1F, 0, 0, 0, 0, 0, 0}
	return nil
}
