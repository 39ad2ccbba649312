package sbc

import (
	"bytes"
	"context"
	"encoding/binary"

	"ferry/internal/scsi"
)

// WRITE SAME byte 1 bits.
const (
	bitAnchor = 0x10
	bitUnmap  = 0x08
	bitNDOB   = 0x01 // WRITE SAME(16) only: no data-out buffer, zeros
)

// writeSame serves WRITE SAME(10/16): one block of data-out (or zeros
// with NDOB) repeated over the range; with UNMAP on a thin disk a zero
// block deallocates instead, since unmapped blocks read as zeros
// (LBPRZ).
func (d *Device) writeSame(ctx context.Context, cmd *scsi.Command) error {
	x := decodeXfer(cmd.CDB)
	if cmd.CDB[0] == OpWriteSame10 {
		x.flags &^= bitNDOB // reserved in the 10-byte CDB
	}
	if err := d.checkWriteSame(x); err != nil {
		return err
	}
	block := zeroBlock(d.bs)
	if x.flags&bitNDOB == 0 {
		if len(cmd.DataOut) != d.bs {
			return dataOutShort()
		}
		block = cmd.DataOut
	}
	if x.flags&bitUnmap != 0 && isZero(block) {
		return d.deallocate(x.lba, x.n)
	}
	return d.fill(ctx, x, block)
}

// checkWriteSame checks a WRITE SAME CDB: no protection, no anchor
// (ANC_SUP is 0), range, WSNZ (0 blocks is refused) and the maximum
// write same length.
func (d *Device) checkWriteSame(x xfer) error {
	switch {
	case x.flags&0xE0 != 0:
		return scsi.InvalidFieldInCDB(1, 7)
	case x.flags&bitAnchor != 0:
		return scsi.InvalidFieldInCDB(1, 4)
	case x.flags&bitUnmap != 0 && !d.b.Thin():
		return scsi.InvalidFieldInCDB(1, 3) // LBPWS is 0 on a thick disk
	}
	if err := d.inRange(x.lba, x.n); err != nil {
		return err
	}
	if x.n == 0 || x.n > maxWriteSame {
		return scsi.InvalidFieldInCDB(x.lenIdx, -1)
	}
	if d.protected() {
		return scsi.WriteProtected()
	}
	return nil
}

// fill writes block over n blocks from lba in chunks of up to 1 MiB.
func (d *Device) fill(ctx context.Context, x xfer, block []byte) error {
	per := max(1, (1<<20)/d.bs)
	chunk := bytes.Repeat(block, int(min(uint64(per), x.n)))
	for done := uint64(0); done < x.n; {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := min(uint64(len(chunk)/d.bs), x.n-done)
		d.rw.RLock()
		_, err := d.b.WriteAt(chunk[:k*uint64(d.bs)], d.off(x.lba+done))
		d.rw.RUnlock()
		if err != nil {
			return mediumError(0x0C, x.lba+done)
		}
		done += k
	}
	if x.flags&bitFUA != 0 {
		return d.sync()
	}
	return nil
}

// deallocate unmaps n blocks from lba.
func (d *Device) deallocate(lba, n uint64) error {
	d.rw.RLock()
	err := d.b.Deallocate(d.off(lba), int64(n)*int64(d.bs))
	d.rw.RUnlock()
	if err != nil {
		return mediumError(0x0C, lba)
	}
	return nil
}

// zeroBlock is a block of zeros.
func zeroBlock(n int) []byte { return make([]byte, n) }

// isZero reports whether b is all zeros.
func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// unmapDesc is one UNMAP block descriptor.
type unmapDesc struct{ lba, n uint64 }

// unmap serves UNMAP: every descriptor is checked before any block is
// deallocated.
func (d *Device) unmap(_ context.Context, cmd *scsi.Command) error {
	cdb := cmd.CDB
	if cdb[1]&0x01 != 0 {
		return scsi.InvalidFieldInCDB(1, 0) // ANCHOR: ANC_SUP is 0
	}
	plen := int(binary.BigEndian.Uint16(cdb[7:]))
	if plen == 0 {
		return nil
	}
	if plen < 8 {
		return scsi.ParameterListLengthError()
	}
	p, err := scsi.ParameterList(cmd, plen)
	if err != nil {
		return err
	}
	descs, err := d.unmapDescs(p)
	if err != nil {
		return err
	}
	if d.protected() {
		return scsi.WriteProtected()
	}
	for _, u := range descs {
		if err := d.deallocate(u.lba, u.n); err != nil {
			return err
		}
	}
	return nil
}

// unmapDescs decodes and checks the UNMAP parameter list.
func (d *Device) unmapDescs(p []byte) ([]unmapDesc, error) {
	bdl := int(binary.BigEndian.Uint16(p[2:]))
	if bdl > len(p)-8 {
		bdl = len(p) - 8 // SBC-3: a truncated list is processed as far as it goes
	}
	count := bdl / 16
	if count > maxUnmapDescs {
		return nil, scsi.InvalidFieldInParameterList(2, -1)
	}
	out := make([]unmapDesc, 0, count)
	for i := range count {
		b := p[8+16*i:]
		u := unmapDesc{lba: binary.BigEndian.Uint64(b), n: uint64(binary.BigEndian.Uint32(b[8:]))}
		if u.n > maxUnmapBlocks {
			return nil, scsi.InvalidFieldInParameterList(8+16*i+8, -1)
		}
		if err := d.inRange(u.lba, u.n); err != nil {
			return nil, err
		}
		if u.n > 0 {
			out = append(out, u)
		}
	}
	return out, nil
}

// Provisioning status of GET LBA STATUS descriptors.
const (
	statusMapped      = 0
	statusDeallocated = 1
)

// getLBAStatus serves GET LBA STATUS from the image's holes: as many
// descriptors as the allocation length holds, each a run of blocks with
// one status, starting at the CDB's LBA.
func (d *Device) getLBAStatus(_ context.Context, cmd *scsi.Command) error {
	cdb := cmd.CDB
	lba := binary.BigEndian.Uint64(cdb[2:])
	alloc := int(binary.BigEndian.Uint32(cdb[10:]))
	if lba >= d.blocks {
		return scsi.LBAOutOfRange()
	}
	room := min(max((alloc-8)/16, 1), 64)
	b := make([]byte, 8, 8+16*room)
	for range room {
		if lba >= d.blocks {
			break
		}
		mapped, n, err := d.extent(lba)
		if err != nil {
			return err
		}
		desc := make([]byte, 16)
		binary.BigEndian.PutUint64(desc, lba)
		binary.BigEndian.PutUint32(desc[8:], uint32(n))
		if !mapped {
			desc[12] = statusDeallocated
		}
		b = append(b, desc...)
		lba += n
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	cmd.DataIn = b
	return nil
}

// extent returns the provisioning of the run of blocks from lba, at most
// 2^32-1 blocks long, rounding partly allocated blocks to mapped.
func (d *Device) extent(lba uint64) (mapped bool, blocks uint64, err error) {
	limit := min(d.blocks-lba, 0xFFFFFFFF) * uint64(d.bs)
	mapped, n, err := d.b.Extent(d.off(lba), int64(limit))
	if err != nil {
		return false, 0, mediumError(0x11, lba)
	}
	blocks = uint64(n) / uint64(d.bs)
	if blocks == 0 {
		return true, 1, nil // a block holding both data and a hole is mapped
	}
	return mapped, blocks, nil
}

// sanitizeBlockErase serves SANITIZE / BLOCK ERASE on a thin disk: every
// block is deallocated (and reads as zeros) before the status, so IMMED
// and AUSE change nothing. Reserved bits and a parameter list are
// invalid.
func (d *Device) sanitizeBlockErase(_ context.Context, cmd *scsi.Command) error {
	cdb := cmd.CDB
	if cdb[1]&0x40 != 0 {
		return scsi.InvalidFieldInCDB(1, 6)
	}
	for i := 2; i <= 6; i++ {
		if cdb[i] != 0 {
			return scsi.InvalidFieldInCDB(i, -1)
		}
	}
	if binary.BigEndian.Uint16(cdb[7:]) != 0 {
		return scsi.InvalidFieldInCDB(7, -1)
	}
	if d.protected() {
		return scsi.WriteProtected()
	}
	d.rw.Lock() // nothing else runs while the disk is erased
	defer d.rw.Unlock()
	if err := d.b.Deallocate(0, int64(d.blocks)*int64(d.bs)); err != nil {
		return mediumError(0x0C, 0)
	}
	return nil
}
