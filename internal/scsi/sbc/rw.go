package sbc

import (
	"bytes"
	"context"

	"ferry/internal/scsi"
)

// Byte 1 bits of the block commands.
const (
	bitDPO    = 0x10
	bitFUA    = 0x08
	bitBytChk = 0x06 // VERIFY: BYTCHK, two bits in SBC-3
)

// read serves READ(6/10/12/16) into the transport's buffer when it is
// big enough: the common path allocates nothing.
func (d *Device) read(_ context.Context, cmd *scsi.Command) error {
	x := decodeXfer(cmd.CDB)
	if err := d.checkXfer(x); err != nil {
		return err
	}
	size := int(x.n) * d.bs
	buf := cmd.Buffer
	if cap(buf) >= size {
		buf = buf[:size]
	} else {
		buf = make([]byte, size)
	}
	d.rw.RLock()
	_, err := d.b.ReadAt(buf, d.off(x.lba))
	d.rw.RUnlock()
	if err != nil {
		return mediumError(0x11, x.lba)
	}
	cmd.DataIn = buf
	return nil
}

// write serves WRITE(6/10/12/16).
func (d *Device) write(_ context.Context, cmd *scsi.Command) error {
	x := decodeXfer(cmd.CDB)
	data, err := d.writeData(cmd, x)
	if err != nil {
		return err
	}
	return d.store(data, x)
}

// writeData checks a write command and returns the blocks to write.
func (d *Device) writeData(cmd *scsi.Command, x xfer) ([]byte, error) {
	if err := d.checkXfer(x); err != nil {
		return nil, err
	}
	if d.protected() {
		return nil, scsi.WriteProtected()
	}
	// An initiator that sends less than the CDB announces (an iSCSI
	// overflow residual) gets the whole blocks it sent written, as
	// FCP-4 and libiscsi's residual tests expect; the transport reports
	// the residual.
	size := min(int(x.n)*d.bs, len(cmd.DataOut)/d.bs*d.bs)
	return cmd.DataOut[:size], nil
}

// store writes blocks at x.lba, forcing them to stable storage when FUA
// is set.
func (d *Device) store(data []byte, x xfer) error {
	if len(data) == 0 {
		return nil
	}
	d.rw.RLock()
	_, err := d.b.WriteAt(data, d.off(x.lba))
	d.rw.RUnlock()
	if err != nil {
		return mediumError(0x0C, x.lba)
	}
	if x.flags&bitFUA != 0 {
		return d.sync()
	}
	return nil
}

// sync flushes the backend; a failure is a write error.
func (d *Device) sync() error {
	if err := d.b.Sync(); err != nil {
		return &scsi.Sense{Key: scsi.MediumError, ASC: 0x0C}
	}
	return nil
}

// writeAndVerify serves WRITE AND VERIFY(10/12/16): the write reaches
// stable storage, and what the file returns is what was sent.
func (d *Device) writeAndVerify(ctx context.Context, cmd *scsi.Command) error {
	x := decodeXfer(cmd.CDB)
	x.flags &^= 0x02 // BYTCHK: the data is compared with itself
	data, err := d.writeData(cmd, x)
	if err != nil {
		return err
	}
	x.flags |= bitFUA
	return d.store(data, x)
}

// verify serves VERIFY(10/12/16): BYTCHK 00b checks the blocks can be
// read, 01b compares them with the data-out, 11b compares each with one
// data-out block.
func (d *Device) verify(ctx context.Context, cmd *scsi.Command) error {
	x := decodeXfer(cmd.CDB)
	if err := d.checkXfer(x); err != nil {
		return err
	}
	bytchk := x.flags & bitBytChk >> 1
	want := int(x.n) * d.bs
	switch bytchk {
	case 0:
		want = 0
	case 2:
		return scsi.InvalidFieldInCDB(1, 2)
	case 3:
		want = min(want, d.bs)
	}
	if len(cmd.DataOut) < want {
		return dataOutShort()
	}
	return d.compare(ctx, x, cmd.DataOut[:want], bytchk == 3)
}

// compare reads the blocks of x and compares them with data (one block
// repeated when same); empty data only reads.
func (d *Device) compare(ctx context.Context, x xfer, data []byte, same bool) error {
	const chunk = 1 << 20
	buf := make([]byte, min(int(x.n)*d.bs, chunk))
	var done uint64
	for total := x.n * uint64(d.bs); done < total; {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := buf[:min(uint64(len(buf)), total-done)]
		if _, err := d.b.ReadAt(p, d.off(x.lba)+int64(done)); err != nil {
			return mediumError(0x11, x.lba+done/uint64(d.bs))
		}
		if len(data) > 0 {
			if i := mismatch(p, data, done, same); i >= 0 {
				return miscompare(done + uint64(i))
			}
		}
		done += uint64(len(p))
	}
	return nil
}

// mismatch returns the first offset in p that differs from the expected
// data at byte position pos, or -1.
func mismatch(p, data []byte, pos uint64, same bool) int {
	for i := 0; i < len(p); {
		var want []byte
		if same {
			k := int((pos + uint64(i)) % uint64(len(data)))
			want = data[k:]
		} else {
			want = data[pos+uint64(i):]
		}
		n := min(len(want), len(p)-i)
		if !bytes.Equal(p[i:i+n], want[:n]) {
			for j := range n {
				if p[i+j] != want[j] {
					return i + j
				}
			}
		}
		i += n
	}
	return -1
}

// compareAndWrite serves COMPARE AND WRITE: the first half of the
// data-out is compared with the blocks and, if equal, the second half is
// written, with no other command in between.
func (d *Device) compareAndWrite(ctx context.Context, cmd *scsi.Command) error {
	cdb := cmd.CDB
	x := decodeXfer(cdb)
	x.n = uint64(cdb[13])
	if x.flags&0xE0 != 0 {
		return scsi.InvalidFieldInCDB(1, 7)
	}
	if err := d.inRange(x.lba, x.n); err != nil {
		return err
	}
	// NUMBER OF LOGICAL BLOCKS 0 is a no-op, but not when the initiator
	// sends data with it: it then meant a count the byte cannot hold.
	if x.n > maxCAWBlocks || x.n == 0 && len(cmd.DataOut) > 0 {
		return scsi.InvalidFieldInCDB(13, -1)
	}
	if d.protected() {
		return scsi.WriteProtected()
	}
	size := int(x.n) * d.bs
	if len(cmd.DataOut) < 2*size {
		return dataOutShort()
	}
	if x.n == 0 {
		return nil
	}
	d.rw.Lock()
	defer d.rw.Unlock()
	if err := d.compare(ctx, x, cmd.DataOut[:size], false); err != nil {
		return err
	}
	if _, err := d.b.WriteAt(cmd.DataOut[size:2*size], d.off(x.lba)); err != nil {
		return mediumError(0x0C, x.lba)
	}
	if x.flags&bitFUA != 0 {
		return d.sync()
	}
	return nil
}

// synchronizeCache serves SYNCHRONIZE CACHE(10/16): the range is
// checked, then the whole image is flushed.
func (d *Device) synchronizeCache(_ context.Context, cmd *scsi.Command) error {
	x := decodeXfer(cmd.CDB)
	if err := d.inRange(x.lba, x.n); err != nil {
		return err
	}
	return d.sync()
}

// preFetch serves PRE-FETCH(10/16): the page cache does the caching, so
// after the range check there is nothing to do (GOOD says the blocks
// may not all be cached).
func (d *Device) preFetch(_ context.Context, cmd *scsi.Command) error {
	x := decodeXfer(cmd.CDB)
	return d.inRange(x.lba, x.n)
}

// orWrite serves ORWRITE(16): each block becomes the OR of its contents
// and the data-out, atomically like COMPARE AND WRITE.
func (d *Device) orWrite(ctx context.Context, cmd *scsi.Command) error {
	x := decodeXfer(cmd.CDB)
	data, err := d.writeData(cmd, x)
	if err != nil || len(data) == 0 {
		return err
	}
	buf := make([]byte, len(data))
	d.rw.Lock()
	defer d.rw.Unlock()
	if _, err := d.b.ReadAt(buf, d.off(x.lba)); err != nil {
		return mediumError(0x11, x.lba)
	}
	for i, c := range data {
		buf[i] |= c
	}
	if _, err := d.b.WriteAt(buf, d.off(x.lba)); err != nil {
		return mediumError(0x0C, x.lba)
	}
	if x.flags&bitFUA != 0 {
		return d.sync()
	}
	return nil
}
