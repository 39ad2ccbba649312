package server

import (
	"context"
	"encoding/binary"
	"errors"

	"ferry/internal/ndmp/wire"
	"ferry/internal/scsi"
)

// SSC operation codes the drives answer through TAPE_EXECUTE_CDB.
const (
	opRewind          byte = 0x01
	opReadBlockLimits byte = 0x05
)

// newTapeCDBDevice is the SCSI face of an open drive for
// TAPE_EXECUTE_CDB: enough SSC for a DMA to identify the drive (INQUIRY
// and its VPD pages, REPORT LUNS, REQUEST SENSE, REPORT SUPPORTED
// OPERATION CODES) and to check it (TEST UNIT READY, READ BLOCK LIMITS,
// REWIND). Data moves through TAPE_READ, TAPE_WRITE and TAPE_MTIO, so the
// medium-access CDBs (READ, WRITE, SPACE ...) are refused as unsupported
// operation codes.
func newTapeCDBDevice(u *tapeUnit, hostID string) scsi.Device {
	t := scsi.NewTable(&scsi.Inquiry{
		Type:      scsi.SequentialAccess,
		Removable: true,
		Identity:  scsi.Identity{Vendor: "FERRY", Product: "VIRTUAL TAPE", Revision: "0001", Serial: deviceSerial(hostID, u.name)},
		Versions:  []uint16{scsi.VersionSSC3},
	})
	t.Register(scsi.OpTestUnitReady, scsi.Op{Name: "TEST UNIT READY", Run: func(context.Context, *scsi.Command) error {
		return senseOf(u.ready())
	}})
	t.Register(opRewind, scsi.Op{Name: "REWIND", Run: func(context.Context, *scsi.Command) error {
		_, err := u.MTIO(wire.MtioREW, 0)
		return senseOf(err)
	}})
	t.Register(opReadBlockLimits, scsi.Op{Name: "READ BLOCK LIMITS", Run: readBlockLimits})
	return t
}

// readBlockLimits reports variable-block mode from 1 byte to the largest
// record TAPE_READ serves.
func readBlockLimits(_ context.Context, cmd *scsi.Command) error {
	b := make([]byte, 6)
	binary.BigEndian.PutUint32(b, maxTapeRecord) // byte 0 (granularity) stays 0
	binary.BigEndian.PutUint16(b[4:], 1)
	cmd.DataIn = b
	return nil
}

// ready reports whether a cartridge is loaded and online.
func (d *tapeUnit) ready() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.medium()
	return err
}

// senseOf turns a drive error into SCSI sense: no cartridge is NOT READY,
// MEDIUM NOT PRESENT; anything else is left to scsi.StatusOf.
func senseOf(err error) error {
	if errors.Is(err, wire.ErrNoTapeLoaded) {
		return scsi.MediumNotPresent()
	}
	return err
}
