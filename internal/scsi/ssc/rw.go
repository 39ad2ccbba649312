package ssc

import (
	"context"
	"encoding/binary"
	"errors"

	"ferry/internal/scsi"
	"ferry/internal/tape"
)

// transfer is a READ or WRITE CDB decoded.
type transfer struct {
	fixed, sili bool
	n           int64 // transfer length: bytes (variable) or blocks (fixed)
	bs          int64 // block size in fixed mode
}

// bytes is the data the transfer moves.
func (x transfer) bytes() int64 {
	if x.fixed {
		return x.n * x.bs
	}
	return x.n
}

// parseTransfer checks byte 1 (SILI, FIXED) and the transfer length at
// lenAt (3 bytes), as READ(6)/(16) and WRITE(6)/(16) share them.
func (d *Device) parseTransfer(cdb []byte, lenAt int, read bool) (transfer, error) {
	x := transfer{fixed: cdb[1]&0x01 != 0, sili: read && cdb[1]&0x02 != 0}
	x.n = int64(cdb[lenAt])<<16 | int64(binary.BigEndian.Uint16(cdb[lenAt+1:]))
	x.bs = int64(d.mode.blockSize)
	switch {
	case x.fixed && x.sili:
		return x, scsi.InvalidFieldInCDB(1, 1)
	case x.fixed && x.bs == 0:
		return x, scsi.InvalidFieldInCDB(1, 0)
	case x.bytes() > maxTransfer:
		return x, scsi.InvalidFieldInCDB(lenAt, -1)
	}
	return x, nil
}

// at16 positions the tape at the logical object a 16-byte READ or WRITE
// names (bytes 4-11; partition in byte 3 must be 0) before it transfers.
func (d *Device) at16(cdb []byte) (*tape.Medium, error) {
	if cdb[3] != 0 {
		return nil, scsi.InvalidFieldInCDB(3, -1)
	}
	m, err := d.medium()
	if err != nil {
		return nil, err
	}
	obj := binary.BigEndian.Uint64(cdb[4:12])
	if m.Position().Block == obj {
		return m, nil
	}
	if err := m.Locate(obj); err != nil {
		return nil, d.locateSense(err)
	}
	return m, nil
}

// read6 serves READ(6) (SSC-3 7.4).
func (d *Device) read6(_ context.Context, cmd *scsi.Command) error {
	x, err := d.parseTransfer(cmd.CDB, 2, true)
	if err != nil || x.n == 0 {
		return err
	}
	m, err := d.medium()
	if err != nil {
		return err
	}
	return d.read(m, cmd, x)
}

// read16 serves READ(16) (SSC-3 8.3.3): LOCATE, then READ.
func (d *Device) read16(_ context.Context, cmd *scsi.Command) error {
	x, err := d.parseTransfer(cmd.CDB, 12, true)
	if err != nil || x.n == 0 {
		return err
	}
	m, err := d.at16(cmd.CDB)
	if err != nil {
		return err
	}
	return d.read(m, cmd, x)
}

// buffer returns n bytes of the transport's scratch buffer, or new ones.
func buffer(cmd *scsi.Command, n int64) []byte {
	if int64(cap(cmd.Buffer)) >= n {
		return cmd.Buffer[:n]
	}
	return make([]byte, n)
}

// read reads the records a READ asks for into DataIn.
func (d *Device) read(m *tape.Medium, cmd *scsi.Command, x transfer) error {
	buf := buffer(cmd, x.bytes())
	if !x.fixed {
		got, err := m.ReadRecord(buf)
		cmd.DataIn = buf[:min(int64(got), x.n)]
		d.stats.read += uint64(len(cmd.DataIn))
		return d.readSense(err, x, 0, int64(got))
	}
	for i := int64(0); i < x.n; i++ {
		got, err := m.ReadRecord(buf[i*x.bs : (i+1)*x.bs])
		cmd.DataIn = buf[:i*x.bs+min(int64(got), x.bs)]
		if err != nil || int64(got) != x.bs {
			d.stats.read += uint64(len(cmd.DataIn))
			return d.readSense(err, x, i, int64(got))
		}
	}
	d.stats.read += uint64(len(cmd.DataIn))
	return nil
}

// readSense reports how a READ ended: block i (of a fixed transfer) of
// length got, or err (SSC-3 4.2.4-4.2.6). In fixed mode the residue counts
// blocks not read; in variable mode bytes.
func (d *Device) readSense(err error, x transfer, i, got int64) error {
	if err != nil {
		return d.readErrorSense(err, x, i)
	}
	return d.lengthSense(x, i, got)
}

// readErrorSense reports a READ that met a filemark, end of data, a
// longer record or a damaged medium.
func (d *Device) readErrorSense(err error, x transfer, i int64) error {
	var rle *tape.RecordLengthError
	switch {
	case errors.As(err, &rle):
		return d.lengthSense(x, i, int64(rle.Len))
	case errors.Is(err, tape.ErrFilemark):
		return filemarkSense(x.n - i)
	case errors.Is(err, tape.ErrEndOfData):
		return endOfDataSense(x.n-i, true)
	}
	return d.mediumSense(err)
}

// lengthSense reports a READ of a got-byte record: ILI unless the length
// was asked for, or SILI suppresses it.
func (d *Device) lengthSense(x transfer, i, got int64) error {
	if x.fixed {
		if got == x.bs {
			return nil
		}
		return iliSense(x.n - i) // the wrong-length block is not counted as read
	}
	switch {
	case got == x.n:
		return nil
	case x.sili && (got < x.n || d.mode.blockSize == 0):
		return nil
	}
	return iliSense(x.n - got)
}

// write6 serves WRITE(6) (SSC-3 7.10).
func (d *Device) write6(_ context.Context, cmd *scsi.Command) error {
	x, err := d.parseTransfer(cmd.CDB, 2, false)
	if err != nil || x.n == 0 {
		return err
	}
	m, err := d.medium()
	if err != nil {
		return err
	}
	return d.write(m, cmd, x)
}

// write16 serves WRITE(16) (SSC-3 8.3.8): LOCATE, then WRITE.
func (d *Device) write16(_ context.Context, cmd *scsi.Command) error {
	x, err := d.parseTransfer(cmd.CDB, 12, false)
	if err != nil || x.n == 0 {
		return err
	}
	m, err := d.at16(cmd.CDB)
	if err != nil {
		return err
	}
	return d.write(m, cmd, x)
}

// write writes the data-out as one record (variable) or n records of the
// block size (fixed).
func (d *Device) write(m *tape.Medium, cmd *scsi.Command, x transfer) error {
	data, err := scsi.ParameterList(cmd, int(x.bytes()))
	if err != nil {
		return err
	}
	if !x.fixed {
		return d.writeEnd(m, m.WriteRecord(data), x.n, len(data))
	}
	for i := int64(0); i < x.n; i++ {
		if err := m.WriteRecord(data[i*x.bs : (i+1)*x.bs]); err != nil {
			return d.writeEnd(m, err, x.n-i, int(i*x.bs))
		}
	}
	return d.writeEnd(m, nil, 0, len(data))
}

// writeEnd reports how a WRITE or WRITE FILEMARKS ended; res is what was
// not written (bytes or blocks), done the bytes that were.
func (d *Device) writeEnd(m *tape.Medium, err error, res int64, done int) error {
	d.stats.written += uint64(done)
	switch {
	case errors.Is(err, tape.ErrEndOfMedium):
		return overflowSense(res)
	case err != nil:
		return d.writeSense(err)
	case !d.mode.buffered:
		if err := m.WriteFilemarks(0); err != nil {
			return d.writeSense(err)
		}
	}
	if m.EarlyWarning() {
		return earlyWarningSense()
	}
	return nil
}
