package scsi

import (
	"context"
	"errors"
)

// Command is one SCSI command as a transport delivers it.
type Command struct {
	CDB     []byte
	DataOut []byte // data sent by the initiator
	DataIn  []byte // set by the device; the core trims it to the CDB's allocation length

	// Initiator identifies the I_T nexus the command came over (for
	// iSCSI "iqn...,i,0x<ISID>"); persistent reservations key on it.
	// Empty means one anonymous initiator.
	Initiator string
	// Buffer is scratch space the transport lends for DataIn so that
	// the read path allocates nothing: a device may set DataIn =
	// Buffer[:n] when cap(Buffer) >= n. The transport owns it again
	// once it has sent DataIn.
	Buffer []byte
}

// Device executes SCSI commands. Execute returns nil for GOOD status, a
// *Sense for CHECK CONDITION, a StatusError for the other statuses; any
// other error is reported as a HARDWARE ERROR. Execute must not panic on
// any CDB or data-out, and should return promptly once ctx is done.
type Device interface {
	Execute(ctx context.Context, cmd *Command) error
}

// DeviceFunc adapts a function to Device.
type DeviceFunc func(ctx context.Context, cmd *Command) error

// Execute calls f.
func (f DeviceFunc) Execute(ctx context.Context, cmd *Command) error { return f(ctx, cmd) }

// SCSI status codes (SAM-5).
const (
	StatusGood                byte = 0x00
	StatusCheckCondition      byte = 0x02
	StatusConditionMet        byte = 0x04
	StatusBusy                byte = 0x08
	StatusReservationConflict byte = 0x18
	StatusTaskSetFull         byte = 0x28
	StatusACAActive           byte = 0x30
	StatusTaskAborted         byte = 0x40
)

// StatusError is a status other than GOOD and CHECK CONDITION, returned
// by a Device without sense data.
type StatusError struct{ Status byte }

// Error names the status.
func (e StatusError) Error() string {
	switch e.Status {
	case StatusBusy:
		return "scsi: busy"
	case StatusReservationConflict:
		return "scsi: reservation conflict"
	case StatusTaskSetFull:
		return "scsi: task set full"
	case StatusTaskAborted:
		return "scsi: task aborted"
	}
	return "scsi: status " + hex8(e.Status)
}

// Status errors a Device may return.
var (
	ErrBusy                = StatusError{StatusBusy}
	ErrReservationConflict = StatusError{StatusReservationConflict}
	ErrTaskSetFull         = StatusError{StatusTaskSetFull}
)

// StatusOf maps a Device's error to the SCSI status and, for CHECK
// CONDITION, fixed-format sense bytes: nil is GOOD; a *Sense is CHECK
// CONDITION; a StatusError is its status; a cancelled or expired context
// is TASK ABORTED; anything else is CHECK CONDITION, HARDWARE ERROR,
// INTERNAL TARGET FAILURE.
func StatusOf(err error) (status byte, sense []byte) {
	if err == nil {
		return StatusGood, nil
	}
	var s *Sense
	if errors.As(err, &s) {
		return StatusCheckCondition, s.Bytes()
	}
	var se StatusError
	if errors.As(err, &se) {
		return se.Status, nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return StatusTaskAborted, nil
	}
	return StatusCheckCondition, InternalTargetFailure().Bytes()
}

// SenseOf returns the sense data err carries, if any.
func SenseOf(err error) (*Sense, bool) {
	var s *Sense
	ok := errors.As(err, &s)
	return s, ok
}

const hexDigits = "0123456789abcdef"

// hex8 formats b as 0xNN without fmt.
func hex8(b byte) string {
	return "0x" + string([]byte{hexDigits[b>>4], hexDigits[b&15]})
}
