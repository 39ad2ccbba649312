package ssc

import (
	"context"
	"encoding/binary"
	"errors"

	"ferry/internal/scsi"
	"ferry/internal/tape"
)

// testUnitReady serves TEST UNIT READY (SPC-4 6.37, SSC-3 4.2.1): GOOD
// with a loaded cartridge, MEDIUM NOT PRESENT for an empty drive or an
// unloaded cartridge. It does not open the drive.
func (d *Device) testUnitReady(context.Context, *scsi.Command) error {
	_, err := d.ready()
	return err
}

// rewind serves REWIND (SSC-3 7.6): the drive is released afterwards
// (settle), so written data is durable when it returns.
func (d *Device) rewind(context.Context, *scsi.Command) error {
	if _, err := d.ready(); err != nil {
		return err
	}
	if d.st.m != nil {
		return d.mediumSense(d.st.m.Rewind())
	}
	return nil
}

// writeFilemarks6 serves WRITE FILEMARKS(6) (SSC-3 7.9).
func (d *Device) writeFilemarks6(_ context.Context, cmd *scsi.Command) error {
	if cmd.CDB[1]&0x02 != 0 {
		return scsi.InvalidFieldInCDB(1, 1) // WMSK: setmarks are not supported
	}
	n := int64(cmd.CDB[2])<<16 | int64(binary.BigEndian.Uint16(cmd.CDB[3:]))
	if n == 0 && d.st.m == nil {
		_, err := d.ready() // nothing buffered to flush
		return err
	}
	m, err := d.medium()
	if err != nil {
		return err
	}
	return d.writeEnd(m, m.WriteFilemarks(int(n)), n, 0)
}

// writeFilemarks16 serves WRITE FILEMARKS(16) (SSC-3 8.3.9): LOCATE to
// the object named in bytes 4-11, then WRITE FILEMARKS.
func (d *Device) writeFilemarks16(_ context.Context, cmd *scsi.Command) error {
	if cmd.CDB[1]&0x02 != 0 {
		return scsi.InvalidFieldInCDB(1, 1)
	}
	n := int64(cmd.CDB[12])<<16 | int64(binary.BigEndian.Uint16(cmd.CDB[13:]))
	m, err := d.at16(cmd.CDB)
	if err != nil {
		return err
	}
	return d.writeEnd(m, m.WriteFilemarks(int(n)), n, 0)
}

// Space codes (SSC-3 table 33).
const (
	spaceBlocks    = 0
	spaceFilemarks = 1
	spaceEOD       = 3
)

// space6 serves SPACE(6) (SSC-3 7.7): a signed 24-bit count.
func (d *Device) space6(_ context.Context, cmd *scsi.Command) error {
	n := int64(int32(uint32(cmd.CDB[2])<<24|uint32(cmd.CDB[3])<<16|uint32(cmd.CDB[4])<<8) >> 8)
	return d.space(cmd.CDB[1]&0x0F, n)
}

// space16 serves SPACE(16) (SSC-3 8.3.5): a signed 64-bit count; the
// parameter length (bytes 12-13) must be zero.
func (d *Device) space16(_ context.Context, cmd *scsi.Command) error {
	if binary.BigEndian.Uint16(cmd.CDB[12:14]) != 0 {
		return scsi.InvalidFieldInCDB(12, -1)
	}
	n := int64(binary.BigEndian.Uint64(cmd.CDB[4:12]))
	if n != int64(int(n)) {
		return scsi.InvalidFieldInCDB(4, -1)
	}
	return d.space(cmd.CDB[1]&0x0F, n)
}

// space moves over n blocks or filemarks, or to end of data.
func (d *Device) space(code byte, n int64) error {
	if code != spaceBlocks && code != spaceFilemarks && code != spaceEOD {
		return scsi.InvalidFieldInCDB(1, 3) // sequential filemarks and setmarks are not supported
	}
	m, err := d.medium()
	if err != nil {
		return err
	}
	switch {
	case code == spaceEOD:
		return d.mediumSense(m.SpaceToEndOfData())
	case n == 0:
		return nil
	case code == spaceFilemarks:
		done, err := m.SpaceFilemarks(int(n))
		return d.spaceSense(err, n, int64(done))
	}
	done, err := m.SpaceRecords(int(n))
	if errors.Is(err, tape.ErrFilemark) {
		// SSC leaves the position past the mark, on the far side.
		if _, serr := m.SpaceFilemarks(sign(n)); serr != nil {
			return d.mediumSense(serr)
		}
	}
	return d.spaceSense(err, n, int64(done))
}

// sign is 1 for n > 0 and -1 otherwise.
func sign(n int64) int {
	if n > 0 {
		return 1
	}
	return -1
}

// spaceSense reports how a SPACE ended; the residue is the count not
// spaced over, as a magnitude (SSC-3 7.7).
func (d *Device) spaceSense(err error, n, done int64) error {
	res := max(n, -n) - done
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tape.ErrFilemark):
		return filemarkSense(res)
	case errors.Is(err, tape.ErrEndOfData):
		return endOfDataSense(res, true)
	case errors.Is(err, tape.ErrBeginningOfMedium):
		return bomSense(res)
	}
	return d.mediumSense(err)
}

// locate10 serves LOCATE(10) (SSC-3 7.3): BT is ignored (block addresses
// are logical object identifiers); only partition 0 exists.
func (d *Device) locate10(_ context.Context, cmd *scsi.Command) error {
	if cmd.CDB[1]&0x02 != 0 && cmd.CDB[8] != 0 {
		return scsi.InvalidFieldInCDB(8, -1)
	}
	return d.locate(uint64(binary.BigEndian.Uint32(cmd.CDB[3:7])))
}

// Destination types of LOCATE(16) (SSC-4 table 27).
const (
	destObject = 0
	destFile   = 1
	destEOD    = 3
)

// locate16 serves LOCATE(16) (SSC-3 8.3.2, SSC-4 DEST_TYPE): to a
// logical object, to the start of a logical file, or to end of data.
func (d *Device) locate16(_ context.Context, cmd *scsi.Command) error {
	if cmd.CDB[1]&0x02 != 0 && cmd.CDB[3] != 0 {
		return scsi.InvalidFieldInCDB(3, -1)
	}
	id := binary.BigEndian.Uint64(cmd.CDB[4:12])
	switch cmd.CDB[1] >> 3 & 0x07 {
	case destObject:
		return d.locate(id)
	case destFile:
		return d.locateFile(id)
	case destEOD:
		m, err := d.medium()
		if err != nil {
			return err
		}
		return d.mediumSense(m.SpaceToEndOfData())
	}
	return scsi.InvalidFieldInCDB(1, 5)
}

// locate moves to logical object obj.
func (d *Device) locate(obj uint64) error {
	if obj == 0 && d.st.m == nil {
		_, err := d.ready()
		return err
	}
	m, err := d.medium()
	if err != nil {
		return err
	}
	return d.locateSense(m.Locate(obj))
}

// locateFile moves to the beginning of logical file n: past the n-th
// filemark.
func (d *Device) locateFile(n uint64) error {
	m, err := d.medium()
	if err != nil {
		return err
	}
	if err := m.Rewind(); err != nil || n == 0 {
		return d.mediumSense(err)
	}
	if n > uint64(int(^uint(0)>>1)) {
		return scsi.InvalidFieldInCDB(4, -1)
	}
	_, err = m.SpaceFilemarks(int(n))
	return d.locateSense(err)
}

// locateSense: LOCATE past end of data ends there with BLANK CHECK
// (SSC-3 7.3).
func (d *Device) locateSense(err error) error {
	if errors.Is(err, tape.ErrEndOfData) {
		return endOfDataSense(0, false)
	}
	return d.mediumSense(err)
}

// erase serves ERASE(6) (SSC-3 7.1): everything after the position is
// erased, SHORT or LONG alike.
func (d *Device) erase(context.Context, *scsi.Command) error {
	m, err := d.medium()
	if err != nil {
		return err
	}
	return d.writeSense(m.Erase())
}

// loadUnload serves LOAD UNLOAD (SSC-3 7.2). UNLOAD rewinds, releases the
// drive and ejects the cartridge for the device (MEDIUM NOT PRESENT until
// LOAD or another cartridge is moved in); a changer may then move it.
func (d *Device) loadUnload(_ context.Context, cmd *scsi.Command) error {
	b := cmd.CDB[4]
	switch {
	case b&0x04 != 0 && b&0x01 != 0:
		return scsi.InvalidFieldInCDB(4, 2) // EOT with LOAD
	case b&0x01 != 0:
		return d.load()
	case len(d.st.prevent) > 0:
		return scsi.MediumRemovalPrevented()
	}
	barcode, err := d.ready()
	if err != nil {
		return err
	}
	if err := d.release(); err != nil {
		return err
	}
	d.st.unloaded = barcode
	return nil
}

// load makes an unloaded cartridge ready again, at beginning of tape.
func (d *Device) load() error {
	if d.st.m != nil {
		return d.mediumSense(d.st.m.Rewind())
	}
	was := d.st.unloaded
	d.st.unloaded = ""
	_, err := d.ready()
	if err == nil && was != "" {
		d.raiseAttention() // the cartridge is back: as good as a new one
	}
	return err
}

// preventAllow serves PREVENT ALLOW MEDIUM REMOVAL (SPC-4 6.13): while
// removal is prevented the device holds its drive, so no changer can take
// the cartridge and no NDMP session can open the drive. Each initiator's
// prevention is its own; removal is allowed once none prevents it.
func (d *Device) preventAllow(_ context.Context, cmd *scsi.Command) error {
	switch cmd.CDB[4] & 0x03 {
	case 0:
		delete(d.st.prevent, cmd.Initiator)
		return nil
	case 1:
		if _, err := d.ready(); !errors.Is(err, scsi.MediumNotPresent()) {
			if _, err := d.medium(); err != nil {
				return err
			}
		} // without a cartridge, the prevention covers the next one
		if d.st.prevent == nil {
			d.st.prevent = map[string]bool{}
		}
		d.st.prevent[cmd.Initiator] = true
		return nil
	}
	return scsi.InvalidFieldInCDB(4, 1)
}
