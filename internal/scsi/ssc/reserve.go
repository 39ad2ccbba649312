package ssc

import (
	"context"

	"ferry/internal/scsi"
)

// SPC-2 reservation operation codes: backup applications (NetBackup,
// Bacula's drive reservation) reserve a tape drive this way.
const (
	OpReserve6  byte = 0x16
	OpRelease6  byte = 0x17
	OpReserve10 byte = 0x56
	OpRelease10 byte = 0x57
)

// registerReservations adds RESERVE and RELEASE (6 and 10).
func (d *Device) registerReservations() {
	t := d.table
	t.Register(OpReserve6, scsi.Op{Name: "RESERVE(6)", Run: d.reserve})
	t.Register(OpReserve10, scsi.Op{Name: "RESERVE(10)", Run: d.reserve})
	t.Register(OpRelease6, scsi.Op{Name: "RELEASE(6)", Run: d.release6})
	t.Register(OpRelease10, scsi.Op{Name: "RELEASE(10)", Run: d.release6})
}

// reservation is the SPC-2 reservation of the LU: which initiator
// (scsi.Command.Initiator) holds it.
type reservation struct {
	held   bool
	holder string
}

// reserve serves RESERVE(6)/(10) (SPC-2 7.21, 7.22): the whole LU for the
// initiator; third-party and extent reservations are refused.
func (d *Device) reserve(_ context.Context, cmd *scsi.Command) error {
	if cmd.CDB[1] != 0 {
		return scsi.InvalidFieldInCDB(1, -1)
	}
	r := &d.st.res
	if r.held && r.holder != cmd.Initiator {
		return scsi.ErrReservationConflict
	}
	r.held, r.holder = true, cmd.Initiator
	return nil
}

// release6 serves RELEASE(6)/(10) (SPC-2 7.19, 7.20): the holder's
// release ends the reservation; anyone else's does nothing, GOOD.
func (d *Device) release6(_ context.Context, cmd *scsi.Command) error {
	if cmd.CDB[1] != 0 {
		return scsi.InvalidFieldInCDB(1, -1)
	}
	if r := &d.st.res; r.held && r.holder == cmd.Initiator {
		*r = reservation{}
	}
	return nil
}

// conflict refuses a command from an initiator other than the holder of
// the reservation, except those SPC-2 lets through (5.5.1, table 10).
func (d *Device) conflict(cmd *scsi.Command) error {
	r := d.st.res
	if !r.held || r.holder == cmd.Initiator || len(cmd.CDB) == 0 {
		return nil
	}
	switch cmd.CDB[0] {
	case scsi.OpInquiry, scsi.OpReportLUNs, scsi.OpRequestSense, OpLogSense,
		OpRelease6, OpRelease10, scsi.OpMaintenanceIn:
		return nil
	}
	return scsi.ErrReservationConflict
}
